"""``python -m steelnb report``: run the course's notebooks in order and record where each figure came from.

Each notebook is executed top to bottom with the current profile and data (``STEELNB_DATA``,
``STEELNB_PROFILE``) and saved with its outputs under ``runs/<profile>/report/<dataset>/``. Training runs
are checkpointed, so an interrupted report resumes: finished runs are reloaded, not retrained.
``<figures>/README.md`` is then updated with one row per figure and table: the notebook that wrote
it, the command, dataset, profile, commit and the notebook's wall time (``--from``/``--to`` re-run a
range of notebooks and keep the other rows). Last, ``runs/<profile>/report/<dataset>/report.html`` gathers the
executed chapters, their figures and tables and that provenance into one page (``html_report.py``).
"""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.reader import NotJSONError
from tqdm.auto import tqdm

from ..course.profile import REFERENCE_FIGURES, Profile, current_profile
from ..course.runs import RUNS, training_minutes
from ..data.locations import load_course_dataset
from ..data.staging import write_text_atomically
from ..env import NOTEBOOKS, PROJECT_ROOT, chapter_notebooks, commit_description
from ..training.checkpoint import RunCheckpoints
from .html_report import build_html_report

NOTEBOOKS_DIR = NOTEBOOKS


@dataclass
class NotebookRun:
    """One executed notebook: its name, wall time in seconds, the figure files it wrote and, when a cell
    failed, the error."""

    name: str
    seconds: float
    outputs: list[str]
    error: str = ""


def _written_since(folder: Path, start: float) -> list[str]:
    return sorted(p.name for p in folder.glob("*") if p.suffix in (".png", ".csv") and p.stat().st_mtime >= start)


def cell_timeout_s(profile: Profile) -> float:
    """The longest one notebook cell may run before the report stops it: room for the longest cell, which
    trains chapter 08's four models when chapters 04-07 have not (4 runs of the time budget, plus loading
    and scoring), or 3 hours without a budget (the full profile trains for epochs, not for time)."""
    if profile.recipe.time_budget_s:
        return 5 * profile.recipe.time_budget_s + 600
    return 3 * 3600.0


def execute_notebook(path: Path, output_dir: Path, figures_dir: Path, timeout_s: float,
                     kernel_env: dict[str, str] | None = None) -> NotebookRun:
    """Run ``path`` top to bottom in a fresh kernel (working directory: its folder; environment ``kernel_env``,
    default this process's) and save it with its outputs in ``output_dir``, also when a cell fails or runs
    longer than ``timeout_s`` seconds (the error is returned in the record)."""
    notebook = nbformat.read(path, as_version=4)
    start = time.time()
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    error = ""
    try:
        client.execute(**({"env": kernel_env} if kernel_env is not None else {}))
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1]
    except CellTimeoutError:
        error = f"a cell ran longer than its limit of {timeout_s:.0f} s and was stopped"
    except DeadKernelError:
        error = "its kernel died (out of memory, or a crash in a library) and the chapter stopped there"
    if error:  # the page shows it where the chapter begins, not only the provenance table
        notebook.cells.insert(1, nbformat.v4.new_markdown_cell(
            f"> **This chapter did not finish when the report ran it:** {error}. What follows stops where it "
            "stopped; files it did not write again keep their earlier content."))
    write_text_atomically(output_dir / path.name, nbformat.writes(notebook).rstrip("\n") + "\n")
    return NotebookRun(path.stem, time.time() - start, _written_since(figures_dir, start), error)


HEADER = "| file | notebook | dataset | profile | command | commit | notebook wall time |"


def figures_readme(runs: list[NotebookRun], dataset: str, profile: Profile, command: str, commit: str,
                   previous: str = "") -> str:
    """Markdown provenance table: one row per figure or table file written by ``runs``; the rows of
    ``previous`` (an earlier README) from notebooks that did not run now are kept (a notebook that ran
    again lists only what it wrote this time, so a file it no longer writes loses its row), and so is any
    text written after its table (notes on where the trained models come from, for example)."""
    rows, notes = {}, []
    rerun = {f"`{run.name}`" for run in runs if not run.error}
    if HEADER in previous:
        after_header = previous.split(HEADER, 1)[1].splitlines()[2:]
        for n, line in enumerate(after_header):
            if not line.startswith("|"):
                notes = after_header[n:]
                break
            if line.startswith("| [") and line.split("|")[2].strip() not in rerun:
                rows[line.split("]")[0][3:]] = line
    for run in runs:
        for name in [] if run.error else run.outputs:
            rows[name] = (f"| [{name}]({name}) | `{run.name}` | {dataset} | {profile.name} | `{command}` | `{commit}` | "
                          f"{run.seconds / 60:.1f} min |")
    lines = ["# Figures and tables", "",
             "Each file below was written by the notebook named beside it when the command ran it, on the data and "
             "profile shown, at the commit shown. The wall time is that notebook's, training included (a notebook "
             "that reloads finished training runs takes seconds). Models without ImageNet weights start from random "
             "weights; each figure's title says so.", "", HEADER, "|---|---|---|---|---|---|---|"]
    text = "\n".join(lines + [rows[name] for name in sorted(rows)]) + "\n"
    return text + "\n".join(notes).rstrip("\n") + "\n" if any(line.strip() for line in notes) else text


TRAINED_HEADING = "## Where the trained models come from"


def trained_runs_section(folder: Path, run_names: Collection[str]) -> str:
    """The figures README's section on the trained runs named in ``run_names`` (the chapters' runs,
    :data:`course.runs.RUNS`; benchmark and lever runs kept in the same folder are left out) in ``folder``
    (``<runs>/<profile>/<dataset>``), written from each run's saved history (``last.pt``): epochs, training
    and validation minutes, the machine's load (1-minute average, lowest and highest epoch), the CPU and the
    commit it trained at. A run whose load rose
    above the machine's cores was slowed by other work, and its row says so; the epochs it bought are then
    fewer than a quiet machine gives. Empty when ``folder`` holds no finished epoch."""
    rows = []
    for run_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name in run_names) if folder.is_dir() else []:
        if not RunCheckpoints(run_dir).last.is_file():
            continue
        history = RunCheckpoints(run_dir).read_last()["history"]
        loads = [h["load_1min"] for h in history if "load_1min" in h]
        cores = max((h.get("cores") or 0 for h in history), default=0)
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "not recorded"
        slowed = "yes: other work shared the cores" if loads and cores and max(loads) > cores + 0.5 else (
            "no" if loads and cores else "not recorded")
        commits = sorted({h["commit"] for h in history if "commit" in h}) or ["not recorded"]
        cpus = sorted({h["cpu"] for h in history if "cpu" in h}) or ["not recorded"]
        rows.append(f"| {run_dir.name} | {len(history)} | {training_minutes(history):.1f} | {load} "
                    f"({cores or '?'} cores) | {slowed} | {', '.join(cpus)} | {', '.join(f'`{c}`' for c in commits)} |")
    if not rows:
        return ""
    return "\n".join([TRAINED_HEADING, "", "Written from each run's saved history. A chapter reloads a finished run "
                      "instead of training it again, so a notebook's wall time above can be a reload.", "",
                      "| run | epochs | training + validation min | load, 1-min average | slowed by other work | CPU "
                      "| commit |", "|---|---|---|---|---|---|---|", *rows]) + "\n"


def with_trained_runs(readme: str, section: str) -> str:
    """``readme`` with its trained-runs section (from :data:`TRAINED_HEADING` to the next ``## ``) replaced by
    ``section``, or ``section`` appended when it has none; other sections are kept."""
    if not section:
        return readme
    if TRAINED_HEADING not in readme:
        return readme.rstrip("\n") + "\n\n" + section
    before, after = readme.split(TRAINED_HEADING, 1)
    rest = after.split("\n## ", 1)
    return before + section + ("\n## " + rest[1] if len(rest) > 1 else "")


def write_html(output_dir: Path, dataset: str, profile: Profile, commit: str, page: Path | None = None) -> Path:
    """The HTML report of the notebooks executed in ``output_dir`` (see :func:`html_report.build_html_report`),
    written to ``page`` (default ``output_dir/report.html``)."""
    intro = (f"The course's notebooks executed on **{dataset}** with the **{profile.name}** profile; page built at "
             f"commit `{commit}`. Each figure's notebook, command, commit and wall time are in the "
             "provenance table below. Models without ImageNet weights start from random weights; each figure's "
             "title says so.")
    return build_html_report(output_dir, profile.figures_dir, f"steelnb report: {dataset}, profile {profile.name}",
                             intro, page)


class ReportSetupError(Exception):
    """Something that would make every chapter fail, found before any runs."""


def check_before_running(notebooks: list[Path], folders: list[Path]) -> None:
    """Refuse to start a report that would fail chapter after chapter: a notebook that cannot be read, a
    relative ``STEELNB_DATA`` (the chapters run in ``notebooks/``, where it would point elsewhere), or a folder
    the report must write in (figures, executed notebooks) that cannot be written.

    Raises:
        ReportSetupError: naming the notebook, the variable or the folder, and what to do.
    """
    for path in notebooks:
        try:
            nbformat.read(path, as_version=4)
        except (NotJSONError, ValueError, OSError) as err:
            raise ReportSetupError(f"{path} cannot be read as a notebook ({type(err).__name__}); restore it, e.g. "
                                   f"`git checkout -- {path.relative_to(PROJECT_ROOT)}`, then run again") from None
    data = os.environ.get("STEELNB_DATA")
    if data and not Path(data).is_absolute():
        raise ReportSetupError(f"STEELNB_DATA={data} is a relative path, and the chapters run in {NOTEBOOKS_DIR}, "
                               f"where it points elsewhere: set it to {Path(data).resolve()}")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".steelnb-write-check-"):
                pass
        except OSError as err:
            raise ReportSetupError(f"the report writes in {folder}, which cannot be written ({err.strerror}): make "
                                   "it writable, or set STEELNB_RUNS to a folder you can write") from None


def run_report(first: str = "00", last: str = "99", html_only: bool = False,
               reference: bool = False) -> list[NotebookRun]:
    """Execute the notebooks numbered ``first`` to ``last``, in order, update the figures' README and
    write the HTML report; with ``html_only``, only rebuild the HTML from the notebooks executed before.

    The figures, tables, their README and the page go beside the runs (``<runs>/<profile>/figures``). Only
    with ``reference`` do they re-make the course's own :data:`profile.REFERENCE_FIGURES` (and its
    ``report.html``), the ones a student compares with: the chapters then run with ``STEELNB_FIGURES``
    pointing there."""
    command = "python -m steelnb report" + (" --reference" if reference else "")
    every = chapter_notebooks(NOTEBOOKS_DIR)
    if not every:
        raise FileNotFoundError(f"no notebooks in {NOTEBOOKS_DIR}: the report runs the course's notebooks, and "
                                f"{PROJECT_ROOT} is not the course folder. Unset STEELNB_HOME, or set it to the "
                                "folder holding notebooks/ and README.md")
    notebooks = [p for p in every if first <= p.name[:2] <= last]
    if not notebooks and not html_only:
        raise ReportSetupError(f"no chapter numbered from {first} to {last}; the chapters are numbered "
                               f"{every[0].name[:2]} to {every[-1].name[:2]}")
    index = load_course_dataset(verbose=True)
    kernel_env = {**os.environ, "STEELNB_FIGURES": str(REFERENCE_FIGURES)} if reference else None
    profile = current_profile()
    if reference:
        profile = replace(profile, figures_dir=REFERENCE_FIGURES)
    profile = profile.for_dataset(index)
    output_dir = profile.runs_dir / "report" / index.name
    page = profile.figures_dir / "report.html" if reference else None
    if html_only:
        print(f"Report: {write_html(output_dir, index.title, profile, commit_description(), page)}")
        return []
    check_before_running(notebooks, [profile.figures_dir, output_dir])
    commit = commit_description()
    runs = []
    for path in tqdm(notebooks, desc="notebooks", unit="nb"):
        runs.append(execute_notebook(path, output_dir, profile.figures_dir, cell_timeout_s(profile), kernel_env))
        run = runs[-1]
        status = f"FAILED ({run.error})" if run.error else f"wrote {', '.join(run.outputs) or 'no figure'}"
        tqdm.write(f"{path.stem}: {run.seconds / 60:.1f} min, {status}")
    data = os.environ.get("STEELNB_DATA")
    shown = f"STEELNB_DATA=<{index.name} folder> {command}" if data else command
    readme = profile.figures_dir / "README.md"
    previous = readme.read_text() if readme.is_file() else ""
    provenance = figures_readme(runs, index.name, profile, shown, commit, previous)
    write_text_atomically(readme, with_trained_runs(provenance, trained_runs_section(profile.runs_dir / index.name, RUNS)))
    page = write_html(output_dir, index.title, profile, commit, page)
    print(f"Executed notebooks in {output_dir}; provenance in {profile.figures_dir / 'README.md'}; report: {page}")
    failed = [run.name for run in runs if run.error]
    if failed:
        raise SystemExit(f"{len(failed)} notebook(s) failed: {', '.join(failed)} (see {output_dir})")
    return runs
