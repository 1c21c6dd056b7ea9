"""The course's preface (``notebooks/README.md``): the chapter map, and each chapter's reading and CPU time.

The map's edges are :data:`CHAPTER_PREREQUISITES` (a test holds them against the runs each chapter trains or
reloads); the reading time is counted from each chapter's own text; the CPU minutes are the course's
reference run's, read from the figures' provenance (``colab.reference_chapter_minutes``). The preface's table
is written between two markers by :func:`refresh_preface` (``python -m steelnb.course.preface``), and a test
checks that it is current, so none of its numbers is typed by hand.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..env import NOTEBOOKS, chapter_notebooks
from .colab import reference_chapter_minutes

PREFACE = NOTEBOOKS / "README.md"
CHAPTER_MAP = NOTEBOOKS / "chapter_map.png"
#: Which chapters must have run before each one: their trained runs are reloaded (or trained on the spot,
#: which takes their time). Chapters not named here need only the data (chapter 00).
CHAPTER_PREREQUISITES = {"08": ("04", "05", "06", "07"), "09": ("04", "05", "06", "07"), "10": ("05",),
                         "11": ("05", "10"), "13": ("04", "05", "06", "07", "10", "12")}
#: Words a student reads per minute, with the code and the formulas to follow: slower than prose.
READING_WORDS_PER_MINUTE = 150
BEGIN, END = "<!-- chapter table: written by python -m steelnb.course.preface -->", "<!-- end chapter table -->"


def notebook_heading(cells: Sequence[Mapping]) -> str | None:
    """The first level-1 markdown heading of a notebook's ``cells`` (as read from its JSON or by nbformat),
    without the "# ", e.g. "01 · Exploratory data analysis"; None if it has none."""
    return next((line[2:].strip() for cell in cells if cell["cell_type"] == "markdown"
                 for line in "".join(cell["source"]).splitlines() if line.startswith("# ")), None)


def chapter_title(path: Path) -> str:
    """A notebook's title: its first markdown heading without the number, e.g. "Exploratory data analysis"."""
    heading = notebook_heading(json.loads(path.read_text(encoding="utf-8"))["cells"])
    if heading is None:
        raise ValueError(f"{path} has no level-1 markdown heading (# NN · Title) to name the chapter by")
    return re.sub(r"^\d\d · ", "", heading)


def reading_minutes(path: Path) -> int:
    """Minutes to read a notebook's text and code at :data:`READING_WORDS_PER_MINUTE`, rounded up."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    words = sum(len("".join(cell["source"]).split()) for cell in cells)
    return math.ceil(words / READING_WORDS_PER_MINUTE)


def chapter_table() -> pd.DataFrame:
    """One row per chapter: title, the chapters it needs, reading minutes and the reference run's CPU minutes."""
    minutes = reference_chapter_minutes()
    rows = []
    for path in chapter_notebooks():
        number = path.name[:2]
        rows.append({"chapter": number, "title": chapter_title(path),
                     "needs": ", ".join(CHAPTER_PREREQUISITES.get(number, ("00",) if number != "00" else ())) or "-",
                     "reading min": reading_minutes(path),
                     "CPU min (reference run)": f"{minutes[number]:.1f}" if number in minutes else "-"})
    return pd.DataFrame(rows).set_index("chapter")


def chapter_table_markdown() -> str:
    """:func:`chapter_table` as a Markdown table, between the preface's markers."""
    table = chapter_table()
    lines = ["| chapter | title | needs | reading min | CPU min (reference run) |", "|---|---|---|---|---|"]
    lines += [f"| {number} | {row.title} | {row.needs} | {row['reading min']} | {row['CPU min (reference run)']} |"
              for number, row in table.iterrows()]
    return "\n".join([BEGIN, *lines, END])


def chapter_map_figure() -> plt.Figure:
    """The chapter map: one box per chapter in columns by depth (how many chapters lie before it on the
    longest path), an arrow from each prerequisite of :data:`CHAPTER_PREREQUISITES` (chapter 00 leads to all)."""
    titles = {path.name[:2]: chapter_title(path) for path in chapter_notebooks()}
    depth: dict[str, int] = {}
    for number in titles:
        needs = CHAPTER_PREREQUISITES.get(number, ("00",) if number != "00" else ())
        depth[number] = 1 + max((depth[n] for n in needs), default=-1)
    columns: dict[int, list[str]] = {}
    for number, level in depth.items():
        columns.setdefault(level, []).append(number)
    place = {n: (level, -row) for level, numbers in columns.items() for row, n in enumerate(numbers)}
    fig, ax = plt.subplots(figsize=(3.4 * len(columns), 0.55 * max(map(len, columns.values())) + 1))
    boxes = {}
    for number, (x, y) in place.items():
        label = titles[number] if len(titles[number]) <= 30 else titles[number][:28] + "…"
        boxes[number] = ax.text(x, y, f"{number} {label}", ha="center", va="center", fontsize=7.5,
                                bbox={"boxstyle": "round", "fc": "#e8f0fe", "ec": "#457be0"})
    for number, needs in CHAPTER_PREREQUISITES.items():
        for need in needs:
            ax.annotate("", xy=(0, 0.5), xycoords=boxes[number], xytext=(1, 0.5), textcoords=boxes[need],
                        arrowprops={"arrowstyle": "->", "color": "0.45", "lw": 0.7, "shrinkA": 2, "shrinkB": 2,
                                    "connectionstyle": "arc3,rad=0.08"})
    ax.set(xlim=(-0.55, len(columns) - 0.45), ylim=(-max(map(len, columns.values())) + 0.5, 0.5))
    ax.axis("off")
    ax.set_title("The course's chapters: an arrow means 'reloads the runs trained in'; 00 (setup) comes first",
                 fontsize=9)
    fig.tight_layout()
    return fig


def refresh_preface(preface: Path = PREFACE) -> bool:
    """Rewrite the chapter table between the preface's markers; True when it changed."""
    text = preface.read_text(encoding="utf-8")
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: chapter_table_markdown(), text, flags=re.S)
    if new != text:
        preface.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    from .plots import save_figure
    print("preface table", "rewritten" if refresh_preface() else "already current")
    print("map:", save_figure(chapter_map_figure(), CHAPTER_MAP.stem, CHAPTER_MAP.parent))
