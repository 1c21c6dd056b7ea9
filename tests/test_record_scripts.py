"""The scripts that write the records: benchmarks/main_job.py (the speedrun record: what it reads from a main job's
output, the rows it writes, what it refuses before the first run), benchmarks/levers.py (what it refuses before the
first training) and benchmarks/tta_scales.py (how it names its sets, what it refuses before scoring). The runs
themselves are stood in for or never start, so these take seconds."""
from __future__ import annotations

import csv
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from steelnb.course.runs import training_summary
from steelnb.evaluation.score_line import ScoreLine

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str, monkeypatch: pytest.MonkeyPatch):
    """benchmarks/<name>.py as a module (benchmarks/ is no package), registered while the test runs, as a dataclass
    in it needs."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def main_job(monkeypatch):
    """benchmarks/main_job.py as a module."""
    return load_script("main_job", monkeypatch)


SCORES = ScoreLine(miou=0.81, all_empty_miou=0.405, miou_defects=0.7, dice=0.91, class_iou_defects=0.74,
                   dataset_miou=0.795)


def job_output(history: list[dict], light: bool) -> str:
    """The end of a main job's console output, as python -m steelnb prints it."""
    return "\n".join(["Run 'resnet101-seed0': ...", training_summary(history, light=light), "wall time 1000 s",
                      str(SCORES)]) + "\n"


#: Two epochs, the last cut short: 4,000 + 1,000 images in 540 + 180 s, so 12.0 minutes of training and validation.
HISTORY = [{"train_images": 4000, "seconds": 540.0, "load_1min": 2.0},
           {"train_images": 1000, "seconds": 180.0, "load_1min": 2.1, "planned_last_epoch_steps": 62}]


@pytest.mark.parametrize("light", [False, True])
def test_it_reads_the_epochs_images_minutes_model_and_scores_a_job_prints(main_job, light):
    job = main_job.parse_job_output(job_output(HISTORY, light), wall_min=13.5)
    assert (job.epochs, job.images_seen, job.train_min, job.wall_min) == (2, 5000, 12.0, 13.5)
    assert job.input_size_images == 5000  # every epoch at the input size
    assert job.light is light and job.model == ("light" if light else "full width")
    assert job.scores == SCORES


def test_the_flops_of_a_progressive_run_count_its_smaller_epochs_by_their_pixels(main_job):
    # two epochs of 4,000 images, the first at 0.75x the input size: 4,000 x 0.5625 + 4,000 = 6,250 input-size images
    history = [{"train_images": 4000, "train_scale": 0.75, "seconds": 300.0},
               {"train_images": 4000, "train_scale": 1.0, "seconds": 480.0}]
    output = job_output(history, light=True)
    assert "8,000 images seen (the pixels of 6,250 at the input size)" in output
    job = main_job.parse_job_output(output, wall_min=14.0)
    assert (job.images_seen, job.input_size_images, job.train_min, job.epochs) == (8000, 6250, 13.0, 2)
    assert main_job.training_pflop(job, {True: 2e11, False: 4e11}) == 6250 * 2e11 / 1e15


def test_an_output_without_its_training_summary_is_refused(main_job):
    with pytest.raises(ValueError, match="no line 'Trained N epochs"):
        main_job.parse_job_output(f"Run 'x'\n{SCORES}\n", wall_min=1.0)
    with pytest.raises(ValueError, match="not a score line"):
        main_job.parse_job_output(job_output(HISTORY, False) + "Traceback: killed\n", wall_min=1.0)


def forbid(monkeypatch: pytest.MonkeyPatch, module, *names: str) -> None:
    """Make each of ``module``'s functions ``names`` fail the test if it is called: what must not start."""
    def started(*args, **kwargs):
        raise AssertionError("work started although an output file exists")

    for name in names:
        monkeypatch.setattr(module, name, started)


def assert_refused_untouched(main, argv: list[str], existing: Path) -> None:
    """``main(argv)``, with the user's own file at ``existing``, must stop naming it and leave it as it was."""
    existing.parent.mkdir(exist_ok=True)
    existing.write_text("mine\n")
    with pytest.raises(SystemExit, match=f"{existing.name} exists already"):
        main(argv)
    assert existing.read_text() == "mine\n"


def test_an_existing_csv_or_log_is_refused_before_any_run(main_job, tmp_path, monkeypatch):
    forbid(monkeypatch, main_job, "run_main_job", "training_flops_per_image")
    assert_refused_untouched(main_job.main, ["--seeds", "1", "--csv", str(tmp_path / "record.csv")],
                             tmp_path / "record.csv")
    assert_refused_untouched(main_job.main, ["--seeds", "2", "--logs", str(tmp_path / "logs")],
                             tmp_path / "logs" / "seed1.log")
    assert_refused_untouched(main_job.main, ["--seeds", "2", "--homes", str(tmp_path / "homes")],
                             tmp_path / "homes" / "seed1")


def test_a_run_s_home_is_kept_where_asked_and_a_temporary_one_removed(main_job, tmp_path, monkeypatch):
    homes = []

    def stand_in_job(command, cwd, env, capture_output, text):  # the job writes its run into its home
        home = Path(env["STEELNB_HOME"])
        (home / "runs").mkdir(parents=True)
        (home / "runs" / "best.pt").write_text("weights")
        homes.append(home)
        return subprocess.CompletedProcess(command, 0, job_output(HISTORY, light=True), "")

    monkeypatch.setattr(main_job.subprocess, "run", stand_in_job)
    kept = tmp_path / "homes" / "seed0"
    assert main_job.run_main_job(0, tmp_path, ["--light"], home=kept).light
    assert homes[-1] == kept and (kept / "runs" / "best.pt").read_text() == "weights"
    main_job.run_main_job(1, tmp_path, ["--light"])
    assert homes[-1] != kept and not homes[-1].exists()


def test_light_and_the_budget_s_choice_are_one_choice(main_job, capsys):
    with pytest.raises(SystemExit):
        main_job.main(["--light", "--budget-choice"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_each_row_counts_the_flops_of_the_model_its_run_trained(main_job, tmp_path, monkeypatch):
    # the budget chose the full model for seed 0 and the lighter one for seed 1: 2e9 and 1e9 FLOPs per image
    flags_seen = []

    def stand_in(seed, root, flags, log=None, home=None):
        flags_seen.append(flags)
        return main_job.JobOutcome(wall_min=17.0 + seed, train_min=16.0, epochs=3 + seed, images_seen=100_000,
                                   input_size_images=100_000, light=seed == 1, scores=SCORES)

    monkeypatch.setattr(main_job, "run_main_job", stand_in)
    monkeypatch.setattr(main_job, "training_flops_per_image", lambda amp, light: 1e9 if light else 2e9)
    monkeypatch.setattr(main_job, "machine_line", lambda amp: "a CPU")
    record = tmp_path / "record.csv"
    assert main_job.main(["--seeds", "2", "--budget-choice", "--csv", str(record)]) == 1  # targets missed
    assert flags_seen == [[], []]  # no model flag: python -m steelnb picks the model
    with record.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["model"], row["training PFLOP"], row["epochs"], row["wall min"], row["train min"]) for row in rows] \
        == [("full width", "0.2", "3", "17.0", "16.0"), ("light", "0.1", "4", "18.0", "16.0")]
    assert rows[0]["class-mean defect IoU"] == "0.74"


def test_a_named_model_is_passed_on(main_job, monkeypatch):
    flags_seen = []

    def stand_in(seed, root, flags, log=None, home=None):
        flags_seen.append(flags)
        return main_job.JobOutcome(17.0, 16.0, 3, 1000, 1000, "--light" in flags, SCORES)

    monkeypatch.setattr(main_job, "run_main_job", stand_in)
    monkeypatch.setattr(main_job, "training_flops_per_image", lambda amp, light: 1e9)
    monkeypatch.setattr(main_job, "machine_line", lambda amp: "a CPU")
    main_job.main(["--seeds", "1"])
    main_job.main(["--seeds", "1", "--light", "--float32"])
    assert flags_seen == [["--full-width"], ["--float32", "--light"]]


def test_a_failed_job_is_reported_with_its_output_and_its_log_kept(main_job, tmp_path):
    # python -m steelnb refuses --light for the baseline before anything trains: the error names the seed and the
    # status, quotes the job's own message, and the log file holds that message too
    log = tmp_path / "seed0.log"
    with pytest.raises(RuntimeError, match=r"seed 0 failed \(it exited with status [12]\)(.|\n)*no such decoder"):
        main_job.run_main_job(0, BENCHMARKS.parent, ["--light", "--architecture", "baseline"], log)
    assert "--light narrows DeepLabV3+'s decoder" in log.read_text()



def test_levers_refuses_an_existing_csv_before_it_trains(tmp_path, monkeypatch):
    load_script("main_job", monkeypatch)  # levers.py shares its refusal
    levers = load_script("levers", monkeypatch)
    forbid(monkeypatch, levers, "course_setup")
    assert_refused_untouched(levers.main, ["--lever", "light", "--csv", str(tmp_path / "levers.csv")],
                             tmp_path / "levers.csv")


def test_levers_prints_each_runs_epochs_and_writes_their_mean_minutes(tmp_path, monkeypatch, capsys):
    # stand-in runs: seed s of a lever takes 60 + 60 s epochs (lever) or 90 s epochs (base), 326 steps each
    load_script("main_job", monkeypatch)
    levers = load_script("levers", monkeypatch)
    monkeypatch.setattr(levers, "course_setup", lambda verbose: (None, None, None))

    def scores(lever, seed, epochs, *_):
        history = [{"seconds": (90 if lever == "light" else 60 * (1 + (epoch == 0))), "train_steps": 326,
                    "val_selected": 0.5 + epoch / 10 + seed / 100} for epoch in range(epochs)]
        return history, [0.7 + seed / 100] * len(levers.COLUMNS)

    monkeypatch.setattr(levers, "lever_scores", scores)
    assert levers.main(["--epochs", "2", "--seeds", "2", "--base", "light", "--lever", "light_lr4e-3",
                        "--csv", str(tmp_path / "levers.csv")]) == 0
    printed = capsys.readouterr().out
    assert "| light | 0 | 326 | 90 | 90 | 90 | 4.5 |" in printed  # 3 epochs (2 x 1.5) of 90 s
    assert "| light_lr4e-3 | 1 | 326 | 120 | 60 | 60 | 4.0 |" in printed
    assert "| light | 1 | 0.510 | 0.610 | 0.710 |" in printed and "| light_lr4e-3 | 0 | 0.500 | 0.600 | 0.700 |" in printed
    with (tmp_path / "levers.csv").open() as file:
        minutes = {row["lever"]: float(row["train min"]) for row in csv.DictReader(file)}
    assert minutes == {"light": 4.5, "light_lr4e-3": 4.0}


def test_tta_scales_names_its_sets_and_refuses_an_existing_csv_before_it_scores(tmp_path, monkeypatch):
    load_script("main_job", monkeypatch)  # tta_scales.py shares its refusal and table rows
    load_script("levers", monkeypatch)  # and reloads the levers' runs
    tta_scales = load_script("tta_scales", monkeypatch)
    assert tta_scales.variant_name((1.0, 1.375)) == "1+1.375" and tta_scales.variant_name((1.5625,)) == "1.5625"
    assert tta_scales.variant_sizes((0.875, 1.0, 1.375, 1.75), (128, 128)) == "112+128+176+224"
    assert tta_scales.VARIANTS[0] == (1.0,) and len(set(tta_scales.VARIANTS)) == len(tta_scales.VARIANTS) == 11
    forbid(monkeypatch, tta_scales, "course_setup")
    assert_refused_untouched(tta_scales.main, ["--csv", str(tmp_path / "scales.csv")], tmp_path / "scales.csv")


def test_the_scoring_scripts_refuse_to_start_without_the_finished_runs_they_score(tmp_path, monkeypatch):
    load_script("main_job", monkeypatch)
    levers = load_script("levers", monkeypatch)
    # levers.py --lever light --epochs 4 --seeds 2 --float32 trains these two folders: 4 epochs x 1.5
    trained = {"resnet101-6epochs-light-float32", "resnet101-6epochs-light-float32-seed1"}
    monkeypatch.setattr(levers, "run_is_finished", lambda run_dir: run_dir.name in trained)
    levers.refuse_missing_runs("light", 2, 6, True, tmp_path)  # both there: no refusal
    with pytest.raises(SystemExit, match=r"no finished run resnet101-4epochs-light-float32 in .*: --epochs is the "
                                         r"runs' own count \(4\); train them with benchmarks/levers.py --base light "
                                         r"--lever light --epochs 3 --seeds 2 --float32"):
        levers.refuse_missing_runs("light", 2, 4, True, tmp_path)  # levers.py's 4, not the runs' 6
    with pytest.raises(SystemExit, match="no finished run resnet101-6epochs-light-float32-seed2 in"):
        levers.refuse_missing_runs("light", 3, 6, True, tmp_path)
    # both scoring scripts ask before they score: without the runs they stop, and nothing trains
    forbid(monkeypatch, levers, "train_run")
    for script, arguments in (("tta_scales", ["--lever", "light", "--seeds", "3", "--float32"]), ("tta_views", [])):
        module = load_script(script, monkeypatch)
        monkeypatch.setattr(module, "course_setup", lambda verbose: (SimpleNamespace(runs_dir=tmp_path),
                                                                     SimpleNamespace(name="neu-seg"), {"val": []}))
        with pytest.raises(SystemExit, match=r"no finished run resnet101-6epochs(-light-float32-seed2)? in"):
            module.main(arguments)


def test_no_record_names_a_folder_of_the_machine_it_was_made_on():
    # a record is read on other machines: its data and runs folders are written as <NEU-Seg folder> and the like
    records = sorted((BENCHMARKS / "results").glob("*.md"))
    assert records
    for record in records:
        folders = re.findall(r"(?:^|[\s(`'\"=])(/(?:work|tmp|home|mnt)/\S*)", record.read_text(encoding="utf-8"))
        assert not folders, f"{record.name} names {folders[0]}"
