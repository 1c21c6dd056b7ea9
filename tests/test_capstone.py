"""The capstone's model answer runs end to end on the demo data in the smoke profile and writes every part the
brief (teachers/capstone.md) asks for."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from steelnb.evaluation.intervals import mean_sd, seed_gain, seed_gain_interval

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_model_answer_writes_the_note_the_brief_asks_for(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "STEELNB_DATA"}
    env.update(STEELNB_HOME=str(tmp_path / "home"), STEELNB_PROFILE="smoke", STEELNB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "steelnb.course.capstone", str(tmp_path / "answer")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    note = (tmp_path / "answer" / "capstone_note.md").read_text()
    assert "synthetic demo" in note and "all-empty prediction" in note and "0.57" in note  # the paper beside ours
    assert note.count("interval") >= 3  # three metrics with their intervals
    assert "![capstone figure](capstone_figure.png)" in note and (tmp_path / "answer" / "capstone_figure.png").is_file()
    assert "seeds 0-2" in note and "Gain of the lever" in note and "**What this shows.**" in note
    brief = (ROOT / "teachers" / "capstone.md").read_text()
    assert "python -m steelnb.course.capstone" in brief and "## Rubric" in brief


def test_seed_statistics_by_hand():
    assert mean_sd([0.80, 0.82, 0.84]) == "0.820 ± 0.020" and mean_sd([0.8]) == "0.800"
    gain, half = seed_gain_interval([0.82, 0.84], [0.80, 0.80])  # variances 0.0002 and 0
    assert gain == pytest.approx(0.03) and half == pytest.approx(1.96 * (0.0002 / 2) ** 0.5)
    assert seed_gain([0.82, 0.84], [0.80, 0.80]) == f"+0.030 ± {half:.3f}" and seed_gain([0.9], [0.8]) == "+0.100"
