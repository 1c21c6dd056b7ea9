"""Test-session settings for every test, notebooks included: the notebooks run their smoke profile.

Tests that train models for tens of seconds, start JupyterLab or a browser, or run whole notebooks carry the
``slow`` mark (every notebook is marked here), so that ``python -m pytest -m "not slow"`` gives a quick
verdict; ``python -m pytest`` (CI's command) runs everything."""
import os

import pytest

os.environ.setdefault("STEELNB_SMOKE", "1")
os.environ.setdefault("STEELNB_OFFLINE", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each notebook's cells slow: a chapter runs end to end, training included."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
