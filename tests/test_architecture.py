"""The package's architecture, checked: stages import only downward, and each setting has one source."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from steelnb.course.profile import PAPER_IMAGE_SIZE, PAPER_RECIPE, current_profile
from steelnb.course.runs import PAPER_MIOU, RUNS, train_run
from steelnb.data.index import SegmentationIndex

PACKAGE = Path(__file__).resolve().parents[1] / "steelnb"
#: The stages, each allowed to import the ones before it (README, "Layout and architecture").
STAGES = ("env", "data", "models", "evaluation", "training", "course")


def _imported_stages(path: Path) -> set[str]:
    """The steelnb stages ``path`` imports (relative imports resolved against its own package)."""
    package = list(path.relative_to(PACKAGE).parent.parts)
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [node.names[0].name])
            stages.add(target[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("steelnb."):
            stages.add(node.module.split(".")[1])
    return stages


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_imports_only_the_stages_before_it(stage):
    files = [PACKAGE / "env.py"] if stage == "env" else sorted((PACKAGE / stage).rglob("*.py"))
    allowed = set(STAGES[:STAGES.index(stage) + 1])
    upward = {f"{path.relative_to(PACKAGE)} -> {imported}" for path in files
              for imported in _imported_stages(path) - allowed if imported in STAGES}
    assert not upward


def test_no_module_sits_outside_a_stage_but_the_entry_points():
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py", "__main__.py", "env.py"}


def test_the_paper_input_size_and_recipe_are_written_once():
    # the paper's 256x256 lives in the profile only (docstrings aside); everything else takes a size as an argument
    def written_in(path: Path) -> bool:
        return any(isinstance(node, ast.Tuple) and [getattr(e, "value", None) for e in node.elts] == [256, 256]
                   for node in ast.walk(ast.parse(path.read_text())))
    assert {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if written_in(path)} == {"course/profile.py"}
    assert PAPER_IMAGE_SIZE == (256, 256)
    # the paper: SGD, lr 0.01, momentum 0.9, weight decay 1e-4, batch 16, cross-entropy
    assert (PAPER_RECIPE.optimizer, PAPER_RECIPE.lr, PAPER_RECIPE.momentum, PAPER_RECIPE.weight_decay,
            PAPER_RECIPE.batch_size, PAPER_RECIPE.loss) == ("sgd", 0.01, 0.9, 1e-4, 16, "ce")


def test_nothing_writes_steelnb_settings_into_the_environment():
    writes = [path.name for path in PACKAGE.rglob("*.py")
              if 'os.environ["STEELNB' in path.read_text() or "os.environ.setdefault(\"STEELNB" in path.read_text()]
    assert writes == []


def test_the_paper_numbers_sit_beside_its_four_models():
    assert PAPER_MIOU == {"baseline": 0.29, "resnet101": 0.57, "densenet201": 0.325, "efficientnet_b1": 0.57}
    assert RUNS["baseline"].architecture == "baseline"
    assert {RUNS[name].paper_backbone for name in PAPER_MIOU} == {"resnet101", "densenet201", "efficientnet_b1"}


@pytest.mark.parametrize("profile_name, sibling", [("default", "resnet18"), ("full", "resnet101")])
def test_a_named_run_gets_its_backbone_and_recipe_from_the_profile(monkeypatch, profile_name, sibling):
    import steelnb.course.runs as runs_module
    calls = []
    monkeypatch.setattr(runs_module, "run_experiment", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setenv("STEELNB_PROFILE", profile_name)
    profile = current_profile()
    index = SegmentationIndex("toy", Path("."), ("scratch",), (32, 32), table=None)
    train_run("CE (paper)", index, {"train": []}, profile)
    (name, _, _, _, architecture, backbone), overrides = calls[-1]
    assert (name, architecture, backbone) == ("CE (paper)", "deeplabv3plus", sibling)
    budget = {"time_budget_s": 16 * 60 / 6} if profile_name == "default" else {}  # a sixth of the chapter budget
    assert overrides == {"native": False, "progress": True, "score_on": "test", "tta": "none", "loss": "ce", **budget}
    train_run("baseline", index, {"train": []}, profile, backbone="mobilenet_v3_large", run_name="mine", epochs=1)
    (name, _, _, _, architecture, backbone), overrides = calls[-1]
    assert (name, architecture, backbone, overrides["epochs"]) == ("mine", "baseline", "mobilenet_v3_large", 1)
    with pytest.raises(KeyError, match="no run named 'resnet50'"):
        train_run("resnet50", index, {"train": []}, profile)
