"""``python -m steelnb``, the README's main command, end to end in the smoke profile on a fresh home."""
import os
import re
import subprocess
import sys
from pathlib import Path

SUMMARY = re.compile(r"^test mIoU (\d\.\d{3}) \(all-empty (\d\.\d{3})\) \| defect mIoU \d\.\d{3} \| Dice \d\.\d{3} \| "
                     r"class-mean defect IoU (\d\.\d{3}|nan) \| dataset mIoU with background \d\.\d{3}$")


def test_main_command_trains_scores_and_ends_with_the_summary_line(tmp_path):
    # no data anywhere: the command generates the demo data and says how to get real steel
    env = {key: value for key, value in os.environ.items() if key != "STEELNB_DATA"}
    env.update(STEELNB_HOME=str(tmp_path / "home"), STEELNB_PROFILE="smoke", STEELNB_OFFLINE="1")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "steelnb"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    match = SUMMARY.match(lines[-1])
    assert match, lines[-1]
    assert (tmp_path / "home" / "runs" / "smoke" / "figures" / "main_predictions.png").is_file()
    assert (tmp_path / "home" / "runs" / "smoke" / "demo" / "resnet101" / "best.pt").is_file()
    notice = "\n".join(lines[-7:-1])  # just above the score line
    assert "SYNTHETIC" in notice and "python -m steelnb download neu-seg" in notice and "minutes" in notice

