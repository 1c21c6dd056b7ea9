"""Test-session settings for every test, notebooks included: the notebooks run their smoke profile."""
import os

os.environ.setdefault("STEELNB_SMOKE", "1")
os.environ.setdefault("STEELNB_OFFLINE", "1")
