"""One self-contained HTML page from the executed notebooks: what ``python -m steelnb report`` leaves
for readers who want the results, not notebooks.

The page opens with the dataset, profile and commit, a table of contents and the provenance table of
the figures; then each chapter follows in order with its text, tables and figures. Code cells, progress
bars, warnings (stderr), interactive widgets, exercise checks and notes about resumed runs are left out;
the executed notebooks beside the page keep them.

The page is one self-contained file that reads anywhere, offline too: figures are embedded (each
re-encoded as the smaller of a 256-colour PNG and a JPEG, at most ``PAGE_IMAGE_WIDTH`` pixels wide, so
that the whole course fits a page of a few megabytes; the executed notebooks keep the originals), the
formulas are converted from TeX to MathML when the page is built (``latex2mathml``; browsers render
MathML themselves), and the page template (``templates/steelnb_offline``) loads no script or style
from the web.
"""
from __future__ import annotations

import base64
import html
import io
import os
import re
from pathlib import Path

import latex2mathml.converter
import nbformat
from nbconvert import HTMLExporter
from PIL import Image

from ..course.colab import BADGE_MARKS
from ..course.preface import notebook_heading
from ..data.staging import write_text_atomically
from ..env import PROJECT_ROOT, chapter_notebooks

#: Code cells tagged with this (cell metadata ``tags``) check a student's exercise answer: not for the page.
EXERCISE_TAG = "exercise"
#: Output lines about the run rather than its results: "Resuming <run> after epoch 3 of 5.", and torch.hub's
#: 'Downloading: "<url>" to <the builder's home folder>' when it tries to fetch ImageNet weights.
_RUN_CHATTER = re.compile(r'^(?:Resuming .*|Downloading: ".*" to .*)$\n?', flags=re.MULTILINE)
#: Markdown that points at a code cell, which the page leaves out: "the next cell", "the cell below", ...
_CELL_POINTER = re.compile(r"\b([Tt])he ((?:next )?(?:[\w-]+ )?cell(?: below)?)\b")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


#: The widest a figure is embedded in the page, in pixels (a page column is narrower still).
PAGE_IMAGE_WIDTH = 1000
#: JPEG quality of page figures that are photographs rather than plots.
PAGE_JPEG_QUALITY = 80


def compress_image(png_base64: str) -> tuple[str, str]:
    """A page figure from a notebook's base64 PNG: (MIME type, base64 data) of the smaller of a 256-colour
    PNG (plots: flat colours, exact) and a JPEG (photographs of steel), scaled down to at most
    ``PAGE_IMAGE_WIDTH`` pixels wide; the PNG itself when neither is smaller."""
    raw = base64.b64decode(png_base64)
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    if image.width > PAGE_IMAGE_WIDTH:
        image = image.resize((PAGE_IMAGE_WIDTH, round(image.height * PAGE_IMAGE_WIDTH / image.width)),
                             Image.Resampling.LANCZOS)
    quantized, jpeg = io.BytesIO(), io.BytesIO()
    image.quantize(256).save(quantized, "PNG", optimize=True)
    image.save(jpeg, "JPEG", quality=PAGE_JPEG_QUALITY, optimize=True)
    options = [("image/png", raw), ("image/png", quantized.getvalue()), ("image/jpeg", jpeg.getvalue())]
    mime, data = min(options, key=lambda option: len(option[1]))  # the first of equals: the PNG itself
    return mime, base64.b64encode(data).decode("ascii")


def relative_to_course(text: str, course: Path = PROJECT_ROOT, data: str | None = None) -> str:
    """``text`` as a shared page shows it, without the folders of the machine that built it: the course folder's
    absolute path written relative to it (``/home/me/steelnb/runs/x`` -> ``runs/x``), and the data folder
    (``data``, default ``$STEELNB_DATA`` when set) as ``$STEELNB_DATA``. Other paths stay as they are."""
    data = os.environ.get("STEELNB_DATA") if data is None else data
    if data:
        text = re.sub(re.escape(str(Path(data).resolve())) + r"(?=/|\b)", "$STEELNB_DATA", text)
    root = str(Path(course).resolve())
    return re.sub(re.escape(root) + r"(/|\b)", lambda match: "" if match.group(1) == "/" else ".", text)


def _page_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """``output`` as the page shows it: None for warnings and progress bars (stderr) and for interactive
    widgets (a static page cannot run them); stdout without the lines about resuming runs; paths in text
    relative to the course folder (:func:`relative_to_course`); figures compressed (:func:`compress_image`)."""
    if output.output_type == "stream":
        if output.name == "stderr":
            return None
        text = relative_to_course(_RUN_CHATTER.sub("", output.text))
        return nbformat.v4.new_output("stream", name=output.name, text=text) if text.strip() else None
    if WIDGET_VIEW in output.get("data", {}):
        return None
    text_types = ("text/plain", "text/html", "text/markdown")
    if any(isinstance(output.get("data", {}).get(mime), str) for mime in text_types):
        output = nbformat.from_dict({**output, "data": {mime: relative_to_course(value) if mime in text_types
                                                        and isinstance(value, str) else value
                                                        for mime, value in output.data.items()}})
    if "image/png" in output.get("data", {}):
        mime, data = compress_image(output.data["image/png"])
        kept = {key: value for key, value in output.data.items() if key != "image/png"}
        return nbformat.v4.new_output(output.output_type, data={**kept, mime: data}, metadata=output.get("metadata", {}),
                                      **({"execution_count": None} if output.output_type == "execute_result" else {}))
    return output


def _report_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The notebook's markdown cells and its code cells' outputs as the page shows them (:func:`_page_output`),
    without the cells tagged ``EXERCISE_TAG``, nor a widget's cell and the "## " section just before it that
    introduces it (a page cannot run the widget, so the section would stand empty). Colab badges are dropped and
    "the next cell" becomes "the notebook's next cell", as the page is not a notebook."""
    cells = []
    for position, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            source = "\n".join(line for line in cell.source.split("\n") if not line.startswith(BADGE_MARKS))
            cells.append(nbformat.v4.new_markdown_cell(_CELL_POINTER.sub(r"\1he notebook's \2", source)))
        elif cell.cell_type == "code" and EXERCISE_TAG not in cell.get("metadata", {}).get("tags", []):
            outputs = [shown for shown in map(_page_output, cell.get("outputs", [])) if shown is not None]
            if outputs:
                code = nbformat.v4.new_code_cell("")
                code.outputs = outputs
                cells.append(code)
            elif _only_widgets(cell) and position and _introduces(notebook.cells[position - 1]):
                cells.pop()  # the section that introduced a widget the page cannot show: empty otherwise
    return cells


def _introduces(cell: nbformat.NotebookNode) -> bool:
    """Whether ``cell`` is a markdown section of its own (a "## " heading), which a widget's cell follows."""
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith("## ")


def _only_widgets(cell: nbformat.NotebookNode) -> bool:
    """Whether a code cell's outputs are interactive widgets and nothing else (stderr aside)."""
    shown = [output for output in cell.get("outputs", []) if output.get("name") != "stderr"]
    return bool(shown) and all(WIDGET_VIEW in output.get("data", {}) for output in shown)


#: Formulas in markdown: display ``$$...$$`` (may span lines) or inline ``$...$``, which may wrap onto the next
#: line as a paragraph does, but not across a blank line, and neither starts nor ends with a space (so "$5 and
#: $6" stays text).
_FORMULA = re.compile(r"\$\$(.+?)\$\$|\$(?!\s)((?:[^$\n]|\n(?![ \t]*\n))+?)(?<!\s)\$", flags=re.DOTALL)
#: Code in markdown (fenced blocks and inline spans), where a ``$`` is a dollar sign, not a formula.
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", flags=re.DOTALL)
TEMPLATES = Path(__file__).with_name("templates")


def formulas_to_placeholders(markdown: str, formulas: list[str]) -> str:
    """Replace every TeX formula of ``markdown`` outside code by a placeholder word and append its MathML
    (display or inline) to ``formulas``; the words survive the markdown renderer, and
    :func:`placeholders_to_mathml` puts the MathML in their place in the finished HTML."""
    def to_placeholder(match: re.Match) -> str:
        display, inline = match.groups()
        formulas.append(latex_to_mathml(display if display is not None else inline, display is not None))
        return f"STEELNBFORMULA{len(formulas) - 1}X"
    pieces = _CODE.split(markdown)
    return "".join(_FORMULA.sub(to_placeholder, piece) if i % 2 == 0 else piece for i, piece in enumerate(pieces))


def placeholders_to_mathml(page_html: str, formulas: list[str]) -> str:
    """``page_html`` with each placeholder of :func:`formulas_to_placeholders` replaced by its MathML."""
    return re.sub(r"STEELNBFORMULA(\d+)X", lambda match: formulas[int(match.group(1))], page_html)


def latex_to_mathml(tex: str, display: bool) -> str:
    """MathML for one TeX formula (a block for display math); the TeX itself, in a code span, when it cannot
    be converted, so that nothing is lost."""
    try:
        return latex2mathml.converter.convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - latex2mathml raises many types; show the source instead
        return f"<code>{html.escape(tex)}</code>"


def _relative_links(markdown: str, source_dir: Path, page_dir: Path) -> str:
    """Rewrite the relative links of ``markdown`` written in ``source_dir`` so they work from ``page_dir``."""
    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return match.group(0)
        return f"[{match.group(1)}]({os.path.relpath(source_dir / target, page_dir)})"
    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", fix, markdown)


def build_html_report(executed_dir: Path, figures_dir: Path, title: str, intro: str = "",
                      page: Path | None = None) -> Path:
    """Write ``page`` (default ``executed_dir/report.html``) from the executed notebooks ``NN_*.ipynb``
    in ``executed_dir``, in order, under ``title`` and the markdown ``intro``, with
    ``figures_dir/README.md`` as the provenance section.

    Raises:
        FileNotFoundError: when ``executed_dir`` holds no executed notebook (run the report first).
    """
    page = page or executed_dir / "report.html"
    paths = chapter_notebooks(executed_dir)
    if not paths:
        raise FileNotFoundError(f"no executed notebook in {executed_dir}: run `python -m steelnb report` first")
    notebooks = [nbformat.read(path, as_version=4) for path in paths]
    titles = [notebook_heading(nb.cells) or path.stem for nb, path in zip(notebooks, paths, strict=True)]
    contents = "\n".join(f"{i + 1}. [{title}](#{_anchor(title)})" for i, title in enumerate(titles))
    provenance = figures_dir / "README.md"
    opening = f"# {title}\n\n{intro}\n\n## Chapters\n\n{contents}\n"
    if provenance.is_file():
        provenance_text = provenance.read_text().replace("# Figures and tables", "## Where each figure comes from", 1)
        opening += "\n" + _relative_links(provenance_text, figures_dir, page.parent)
    report = nbformat.v4.new_notebook()
    report.cells = [nbformat.v4.new_markdown_cell(opening)]
    for notebook in notebooks:
        report.cells += _report_cells(notebook)
    formulas: list[str] = []
    for cell in report.cells:
        if cell.cell_type == "markdown":
            cell.source = formulas_to_placeholders(cell.source, formulas)
    report.metadata = {key: value for key, value in notebooks[0].metadata.items() if key != "widgets"}
    exporter = HTMLExporter(template_name="steelnb_offline", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(report, resources={"metadata": {"name": title}})
    return write_text_atomically(page, placeholders_to_mathml(body, formulas))


def _anchor(title: str) -> str:
    """The id nbconvert gives a markdown heading: its text with spaces as dashes."""
    return title.replace(" ", "-")
