"""The package's architecture, checked: stages import only downward, and each setting has one source."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from steelnb.course.paper import PAPER_MIOU
from steelnb.course.profile import PAPER_IMAGE_SIZE, PAPER_RECIPE, current_profile
from steelnb.course.runs import RUNS, train_run
from steelnb.data.index import SegmentationIndex
from steelnb.models import BACKBONES

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "steelnb"
#: The stages, each allowed to import the ones before it (docs/engineering.md, "Layout and architecture").
STAGES = ("env", "data", "models", "evaluation", "training", "course", "commands")
#: Sizes that are settings of a profile or facts of the data, each written in one module only.
SIZE_SOURCES = {(256, 256): "steelnb/course/profile.py",  # the paper's input
                (128, 128): "steelnb/course/profile.py",  # the CPU profiles' input
                (256, 1600): "steelnb/data/rle.py"}  # Severstal's image (SEVERSTAL_SHAPE)
#: Where a backbone may be named in code: the registry, the profiles' CPU siblings, the named runs, the paper's
#: tables (by the paper's models), and the table of segmentation-models-pytorch's names for ours.
BACKBONE_SOURCES = {"steelnb/models/backbones.py", "steelnb/course/profile.py", "steelnb/course/runs.py",
                    "steelnb/course/paper.py", "benchmarks/vs_smp.py"}
#: The training batch is a setting of the recipe and the profiles.
BATCH_SOURCES = {"steelnb/course/profile.py", "steelnb/training/config.py"}


def notebook_code(path: Path) -> str:
    """The code cells of a notebook as one module (IPython's ``!`` and ``%`` lines left out)."""
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return "\n".join(line for line in code.split("\n") if not line.lstrip().startswith(("!", "%")))


def course_sources() -> dict[str, str]:
    """Every module of the package and the benchmarks, and every notebook's code, by path from the course folder."""
    files = sorted([*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")])
    sources = {str(path.relative_to(ROOT)): path.read_text() for path in files}
    sources |= {str(path.relative_to(ROOT)): notebook_code(path) for path in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    return sources


def second_sources(path: str, code: str) -> list[str]:
    """Settings ``code`` writes again that have their source elsewhere: a size tuple of :data:`SIZE_SOURCES`, a
    backbone name outside :data:`BACKBONE_SOURCES` (a run's name, as in ``train_run("resnet101", ...)`` or
    ``RUNS["resnet101"]``, is not a backbone), a ``batch_size=16`` outside :data:`BATCH_SOURCES`."""
    tree = ast.parse(code)
    run_names = set()  # the string constants that name a run: subscripts and train_run's first argument
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            run_names |= {id(n) for n in ast.walk(node.slice)}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "train_run", "fixed_epochs_run_name") and node.args:
            run_names.add(id(node.args[0]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple):
            values = tuple(getattr(element, "value", None) for element in node.elts)
            if values in SIZE_SOURCES and SIZE_SOURCES[values] != path:
                found.append(f"{path}:{node.lineno} {values}")
        elif (isinstance(node, ast.Constant) and node.value in BACKBONES and id(node) not in run_names
              and path not in BACKBONE_SOURCES):
            found.append(f"{path}:{node.lineno} {node.value!r}")
        elif (isinstance(node, ast.keyword) and node.arg == "batch_size" and getattr(node.value, "value", None) == 16
              and path not in BATCH_SOURCES):
            found.append(f"{path}:{node.lineno} batch_size=16")
    return found


def test_no_size_backbone_or_batch_is_written_twice_in_the_package_benchmarks_or_notebooks():
    assert [hit for path, code in course_sources().items() for hit in second_sources(path, code)] == []


def test_the_second_source_check_finds_a_planted_literal():
    planted = 'model = build_model("deeplabv3plus", "resnet18", 5)\nx = resize(image, (128, 128))\n' \
              'loader = DataLoader(data, batch_size=16)\nrun = train_run("resnet101", index, split, profile)\n'
    assert second_sources("benchmarks/new.py", planted) == [
        "benchmarks/new.py:1 'resnet18'", "benchmarks/new.py:2 (128, 128)", "benchmarks/new.py:3 batch_size=16"]
    assert second_sources("steelnb/course/profile.py", "size = (128, 128)") == []


def _imported_steelnb_stages(code: str) -> set[str]:
    """The steelnb stages that absolute imports in ``code`` reach (``from steelnb.course.runs import ...``)."""
    return {node.module.split(".")[1] for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("steelnb.")}


def test_notebooks_import_the_course_and_below_never_a_command():
    # course/ keeps what the chapters call; the commands (report, bench, gpu-check) sit above it
    reached = {path: _imported_steelnb_stages(code) for path, code in course_sources().items()
               if path.startswith("notebooks/")}
    assert all(stages <= set(STAGES[:STAGES.index("course") + 1]) for stages in reached.values()), reached
    assert set().union(*reached.values()) >= {"course", "data", "models", "evaluation"}


def test_every_steelnb_import_of_the_benchmarks_and_notebooks_names_a_stage():
    for path, code in course_sources().items():
        if not path.startswith("steelnb/"):
            assert _imported_steelnb_stages(code) <= set(STAGES), path


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


#: The stage graph docs/engineering.md draws: each stage and the stages it imports directly.
STAGE_IMPORTS = {"env": set(), "data": {"env"}, "models": {"env"}, "evaluation": {"data"},
                 "training": {"env", "data", "evaluation"},
                 "course": {"env", "data", "models", "evaluation", "training"},
                 "commands": {"env", "data", "models", "evaluation", "training", "course"}}


def test_the_stage_graph_is_the_one_the_readme_draws():
    measured = {}
    for stage in STAGES:
        files = [PACKAGE / "env.py"] if stage == "env" else sorted((PACKAGE / stage).rglob("*.py"))
        measured[stage] = set().union(*map(_imported_stages, files)) & set(STAGES) - {stage}
    assert measured == STAGE_IMPORTS
    assert "──> course ──> commands ──> python -m steelnb" in (ROOT / "docs" / "engineering.md").read_text()


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
    assert overrides == {"native": False, "progress": True, "score_on": "test", "tta": "none", "tta_scales": (1.0,),
                         "job_deadline": None,
                         "loss": "ce", **budget}
    train_run("baseline", index, {"train": []}, profile, backbone="mobilenet_v3_large", run_name="mine", epochs=1)
    (name, _, _, _, architecture, backbone), overrides = calls[-1]
    assert (name, architecture, backbone, overrides["epochs"]) == ("mine", "baseline", "mobilenet_v3_large", 1)
    with pytest.raises(KeyError, match="no run named 'resnet50'"):
        train_run("resnet50", index, {"train": []}, profile)
