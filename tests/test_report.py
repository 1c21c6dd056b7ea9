"""The figures' provenance README: rows per file, and a partial re-run keeps the other rows."""
from steelnb.profile import current_profile
from steelnb.report import NotebookRun, figures_readme


def test_provenance_rows_and_partial_rerun(monkeypatch):
    monkeypatch.setenv("STEELNB_PROFILE", "default")
    profile = current_profile()
    runs = [NotebookRun("01_eda", 30.0, ["fig_eda.png"]), NotebookRun("04_baseline", 960.0, ["fig3.png"])]
    first = figures_readme(runs, "neu-seg", profile, "python -m steelnb report", "abc123")
    row = "| [fig3.png](fig3.png) | `04_baseline` | neu-seg | default | `python -m steelnb report` | `abc123` | 16.0 min |"
    assert row in first
    again = figures_readme([NotebookRun("01_eda", 6.0, ["fig_eda.png"])], "neu-seg", profile, "cmd", "def456", first)
    assert "| [fig3.png](fig3.png) | `04_baseline` |" in again  # not re-run: kept as it was
    assert "| [fig_eda.png](fig_eda.png) | `01_eda` | neu-seg | default | `cmd` | `def456` | 0.1 min |" in again
    assert again.count("fig_eda.png](") == 1
