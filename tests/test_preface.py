"""The preface's chapter table is current, its map matches the runs each chapter reloads, and the demo lessons
show the committed demo files under a caption that names them as synthetic."""
import ast
import json
import re
from pathlib import Path

from matplotlib.text import Annotation
from test_architecture import notebook_code

from steelnb.course.demo_lessons import DEMO_FIGURES, demo_lesson
from steelnb.course.preface import (
    BEGIN,
    CHAPTER_PREREQUISITES,
    PREFACE,
    chapter_map_figure,
    chapter_table,
    chapter_table_markdown,
    reading_minutes,
)
from steelnb.course.runs import RUNS
from steelnb.env import chapter_notebooks

ROOT = Path(__file__).resolve().parents[1]


def test_the_preface_table_is_the_one_the_chapters_and_the_provenance_give():
    text = PREFACE.read_text(encoding="utf-8")
    assert chapter_table_markdown() in text, "run python -m steelnb.course.preface"
    table = chapter_table()
    assert list(table.index) == [p.name[:2] for p in chapter_notebooks()]
    provenance = (ROOT / "figures" / "README.md").read_text(encoding="utf-8")  # chapter 04's row, read directly
    assert table.loc["04", "CPU min (reference run)"] == re.search(r"`04_baseline` \|.*\| ([\d.]+) min \|", provenance)[1]
    assert (ROOT / "notebooks" / "chapter_map.png").is_file() and "](chapter_map.png)" in text


def test_reading_time_counts_words(tmp_path):
    notebook = {"cells": [{"cell_type": "markdown", "source": ["word " * 149 + "\n"]},
                          {"cell_type": "code", "source": ["a = 1  # two\n"]}]}
    (tmp_path / "00_x.ipynb").write_text(json.dumps(notebook))
    assert reading_minutes(tmp_path / "00_x.ipynb") == 2  # 153 words at 150 a minute, rounded up


def test_every_run_a_chapter_trains_by_name_comes_from_a_chapter_it_names_as_a_prerequisite():
    for path in chapter_notebooks():
        code = notebook_code(path)
        trained = {node.args[0].value for node in ast.walk(ast.parse(code))
                   if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "train_run" and node.args
                   and isinstance(node.args[0], ast.Constant)}
        chapter = path.name[:2]
        needs = {RUNS[name].chapter for name in trained} - {chapter}
        assert needs <= set(CHAPTER_PREREQUISITES.get(chapter, ())), f"{path.name} reloads runs of {needs}"


def test_the_map_draws_one_arrow_per_prerequisite():
    fig = chapter_map_figure()
    arrows = [text for text in fig.axes[0].texts if isinstance(text, Annotation)]
    assert len(arrows) == sum(len(needs) for needs in CHAPTER_PREREQUISITES.values())
    assert BEGIN in PREFACE.read_text()


def test_a_demo_lesson_shows_the_committed_files_and_names_what_is_missing(monkeypatch):
    shown = []
    import IPython.display
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    files = demo_lesson(["fig1_resized.png", "table_native_aspect.csv", "no_such.png"], "square images")
    assert files == [DEMO_FIGURES / "fig1_resized.png", DEMO_FIGURES / "table_native_aspect.csv"]
    caption = shown[0].data
    assert "synthetic demo data" in caption and "square images" in caption and "no_such.png" in caption
    assert re.search(r"IoU c4", shown[2].to_string())  # the table itself, with the demo's four classes
