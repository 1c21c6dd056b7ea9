"""The figures' provenance README: rows per file, and a partial re-run keeps the other rows."""
import base64
import io
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from steelnb.commands.html_report import PAGE_IMAGE_WIDTH, build_html_report, compress_image
from steelnb.commands.report import NotebookRun, cell_timeout_s, execute_notebook, figures_readme
from steelnb.course.colab import colab_badge
from steelnb.course.profile import current_profile

#: A 1x1 PNG, base64.
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_provenance_rows_and_partial_rerun(monkeypatch):
    monkeypatch.setenv("STEELNB_PROFILE", "default")
    profile = current_profile()
    runs = [NotebookRun("01_eda", 30.0, ["fig_eda.png"]), NotebookRun("04_baseline", 960.0, ["fig3.png"])]
    first = figures_readme(runs, "neu-seg", profile, "python -m steelnb report", "abc123")
    row = "| [fig3.png](fig3.png) | `04_baseline` | neu-seg | default | `python -m steelnb report` | `abc123` | 16.0 min |"
    assert row in first
    again = figures_readme([NotebookRun("01_eda", 6.0, ["fig_eda.png"])], "neu-seg", profile, "cmd", "def456", first)
    assert "| [fig3.png](fig3.png) | `04_baseline` |" in again  # not re-run: kept as it was
    assert "| [fig_eda.png](fig_eda.png) | `01_eda` | neu-seg | default | `cmd` | `def456` | 0.1 min |" in again
    assert again.count("fig_eda.png](") == 1
    renamed = figures_readme([NotebookRun("04_baseline", 60.0, ["fig3_new.png"])], "neu-seg", profile, "cmd", "def456",
                             first)
    assert "[fig3_new.png]" in renamed and "[fig3.png]" not in renamed  # a file 04 no longer writes loses its row
    assert "[fig_eda.png]" in renamed  # 01 did not run: its row stays
    noted = first + "\n## Where the trained models come from\n\nChapter 05 reloads the main job's run.\n"
    kept = figures_readme([NotebookRun("01_eda", 6.0, ["fig_eda.png"])], "neu-seg", profile, "cmd", "def456", noted)
    assert kept.endswith("\n## Where the trained models come from\n\nChapter 05 reloads the main job's run.\n")
    assert kept.count("| [fig3.png]") == 1


def test_html_report_shows_text_figures_and_provenance_not_code(tmp_path):
    executed, figures = tmp_path / "report", tmp_path / "figures"
    executed.mkdir(), figures.mkdir()
    for number, title in (("00", "Setup"), ("01", "Looking at the data")):
        code = nbformat.v4.new_code_cell("secret_variable = 1")
        code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PIXEL, "text/plain": "<Figure>"}),
                        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: noise\n")]
        heading = nbformat.v4.new_markdown_cell(f"# {number} · {title}\n\n{colab_badge('x.ipynb')}\n\nText.")
        nbformat.write(nbformat.v4.new_notebook(cells=[heading, code]), executed / f"{number}_chapter.ipynb")
    (figures / "README.md").write_text("# Figures and tables\n\n| file |\n|---|\n| [fig1.png](fig1.png) |\n")
    page = build_html_report(executed, figures, "steelnb report: demo", "Built for a test.")
    html = page.read_text()
    assert page == executed / "report.html"
    assert html.index("00 · Setup") < html.index("01 · Looking at the data")  # chapters in order
    assert html.count(f"data:image/png;base64,{PIXEL}") == 2  # figures embedded: one file to share
    assert 'href="../figures/fig1.png"' in html  # provenance links work from the page's folder
    assert "secret_variable" not in html and "UserWarning" not in html
    assert "On Colab" not in html and "Text." in html  # the page is not a notebook: no Colab line
    assert "Built for a test." in html


def test_html_report_is_one_file_with_formulas_as_mathml(tmp_path):
    executed = tmp_path / "report"
    executed.mkdir()
    text = ("# 08 · Evaluation\n\nInline $p = cH + r + 1$, a price in code `costs $5 or $6`, prose that costs $5 "
            "and $6, a formula wrapped like its paragraph $\\mathrm{Dice} = \\frac{2}{1}\n\\ge x$, and\n\n"
            "$$\\mathrm{IoU} = \\frac{|P \\cap T|}{|P \\cup T|}$$\n")
    code = nbformat.v4.new_code_cell("")
    code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PIXEL, "text/plain": "<Figure>"})]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text), code]),
                   executed / "08_evaluation.ipynb")
    html = build_html_report(executed, tmp_path, "report", "").read_text()
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*\bhref=[\"']?https?:", html)  # nothing from the web
    assert "import(" not in html and "mathjax" not in html.lower()
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">') == 2
    assert html.count('display="block"') == 1 and "<mfrac>" in html
    assert "costs $5 or $6" in html and "costs $5 and $6" in html  # dollars in prose stay dollars
    assert "$p" not in html and "\\mathrm" not in html and "STEELNBFORMULA" not in html
    assert f"data:image/png;base64,{PIXEL}" in html


def test_html_report_without_executed_notebooks_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m steelnb report"):
        build_html_report(tmp_path, tmp_path, "title")


def test_report_outside_the_course_folder_says_so(monkeypatch, tmp_path):
    from steelnb.commands import report
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    with pytest.raises(FileNotFoundError, match=r"no notebooks.*STEELNB_HOME"):
        report.run_report()


def test_html_report_leaves_out_exercise_checks_widgets_and_resume_notes(tmp_path):
    executed, figures = tmp_path / "report", tmp_path / "figures"
    executed.mkdir(), figures.mkdir()
    check = nbformat.v4.new_code_cell("check_image_miou(p, t, answer)", metadata={"tags": ["exercise"]})
    check.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Set your answer first (it is None).\n")]
    widget = nbformat.v4.new_code_cell("browse(...)")
    widget.outputs = [nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc"}, "text/plain": "interactive(children=(...))"})]
    trained = nbformat.v4.new_code_cell("result = train_run(...)")
    trained.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                              text="Resuming runs/default/x after epoch 5 of 5.\nbest epoch 4\n"
                                              'Downloading: "https://download.pytorch.org/models/r.pth" to '
                                              "/home/someone/.cache/torch/hub/checkpoints/r.pth\n")]
    text = nbformat.v4.new_markdown_cell("# 08 · Evaluation\n\nThe next cell scores it; check it with the cell below.")
    nbformat.write(nbformat.v4.new_notebook(cells=[text, check, widget, trained]), executed / "08_chapter.ipynb")
    html = build_html_report(executed, figures, "steelnb report: demo").read_text()
    assert "Set your answer first" not in html and "interactive(children" not in html
    assert "Resuming" not in html and "best epoch 4" in html and "someone" not in html
    assert "The notebook&#39;s next cell scores it" in html or "The notebook's next cell scores it" in html
    assert "the notebook's cell below" in html or "the notebook&#39;s cell below" in html


def test_a_section_that_only_introduces_a_widget_is_left_out_of_the_page(tmp_path):
    # the reference page once showed an empty "Browse the test images yourself" section
    executed = tmp_path / "report"
    executed.mkdir()
    widget = nbformat.v4.new_code_cell("browse(...)")
    widget.outputs = [nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc"}, "text/plain": "interactive(...)"})]
    cells = [nbformat.v4.new_markdown_cell("# 08 · Evaluation\n\nIntroduction."),
             nbformat.v4.new_markdown_cell("## Browse the test images yourself\n\nPick an image."), widget,
             nbformat.v4.new_markdown_cell("## What you learned\n\nMuch.")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), executed / "08_chapter.ipynb")
    html = build_html_report(executed, tmp_path / "figures", "steelnb report: demo").read_text()
    assert "Browse the test images yourself" not in html and "Pick an image" not in html
    assert "Introduction." in html and "What you learned" in html  # the chapter's other text stays


def test_a_cell_that_runs_too_long_is_stopped_and_named(tmp_path, monkeypatch):
    notebook = tmp_path / "99_slow.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time; time.sleep(60)")]), notebook)
    run = execute_notebook(notebook, tmp_path / "out", tmp_path, timeout_s=2)
    assert "longer than its limit of 2 s" in run.error and run.seconds < 50
    assert (tmp_path / "out" / "99_slow.ipynb").is_file()  # saved with what it had done
    monkeypatch.setenv("STEELNB_PROFILE", "default")  # four 16-minute runs in one cell still fit
    assert cell_timeout_s(current_profile()) == 5 * 16 * 60 + 600


def _png_base64(pixels: np.ndarray) -> str:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def test_page_figures_are_compressed_and_scaled_to_the_page():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 1500, 3), dtype=np.uint8)  # noise: like steel texture, PNG compresses it badly
    plot = np.full((200, 400, 3), 255, np.uint8)
    plot[50:150, 100:300] = (31, 119, 180)  # flat colours, like a bar chart
    for pixels, expected_mime, expected_width in ((photo, "image/jpeg", PAGE_IMAGE_WIDTH), (plot, "image/png", 400)):
        original = _png_base64(pixels)
        mime, data = compress_image(original)
        assert mime == expected_mime and len(data) < len(original)
        shown = Image.open(io.BytesIO(base64.b64decode(data)))
        assert shown.width == expected_width and shown.height == round(pixels.shape[0] * expected_width / pixels.shape[1])
    flat = np.asarray(Image.open(io.BytesIO(base64.b64decode(compress_image(_png_base64(plot))[1]))).convert("RGB"))
    assert np.array_equal(flat, plot)  # 256 colours keep a plot's few colours exactly


def test_the_reference_report_is_committed_small_clean_and_linked():
    # the NEU-Seg report students compare their own outputs with: one offline page of at most 8 MB
    root = Path(__file__).resolve().parents[1]
    page = root / "figures" / "report.html"
    assert page.stat().st_size <= 8 * 2**20
    text = page.read_text(encoding="utf-8")
    assert "neu-seg" in text.lower() and "profile default" in text.lower()
    assert "Set your answer first" not in text and "Resuming" not in text and "the cell below" not in text
    assert "](figures/report.html)" in (root / "README.md").read_text()
    # no folder of the machine that built it: paths relative to the course, the data folder as $STEELNB_DATA
    shown = re.sub(r"data:[^\"')\s]+", "", text)  # embedded figures aside
    absolute = set(re.findall(r"(?<![\w:/.<])/(?:[A-Za-z0-9_.-]+/){2,}", shown))
    assert absolute <= {"/path/to/", "/content/data/"}  # only the page's own examples: a placeholder, Colab
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>|<pre>.*?</pre>|<code>.*?</code>", "", shown, flags=re.S)
    assert not re.search(r"\$\\|\\(mathrm|frac|ge)\b", body)  # no formula left as raw TeX
    assert "Not yet re-made" not in text  # the provenance is the figures README's, not a stale note


def test_the_trained_runs_section_comes_from_the_runs_histories(tmp_path):
    from steelnb.commands.report import TRAINED_HEADING, trained_runs_section, with_trained_runs
    from steelnb.training.checkpoint import save_atomic
    quiet = [{"seconds": 300.0, "load_1min": 2.0, "cores": 2, "cpu": "Test CPU", "commit": "abc1234"}] * 2
    busy = [{"seconds": 420.0, "load_1min": 3.9, "cores": 2, "cpu": "Test CPU", "commit": "abc1234"}]
    for name, history in (("resnet101", quiet), ("baseline", busy)):
        (tmp_path / name).mkdir()
        save_atomic({"history": history}, tmp_path / name / "last.pt")
    (tmp_path / "unfinished").mkdir()  # no epoch yet: no row
    (tmp_path / "resnet101-6epochs-seed1").mkdir()  # a lever's run, not one the chapters use: no row
    save_atomic({"history": quiet}, tmp_path / "resnet101-6epochs-seed1" / "last.pt")
    section = trained_runs_section(tmp_path, {"resnet101", "baseline", "unfinished"})
    assert "| resnet101 | 2 | 10.0 | 2.0-2.0 (2 cores) | no | Test CPU | `abc1234` |" in section
    assert "| baseline | 1 | 7.0 | 3.9-3.9 (2 cores) | yes: other work shared the cores |" in section
    assert "unfinished" not in section and "resnet101-6epochs" not in section
    readme = "# Figures and tables\n\n| file |\n\n" + TRAINED_HEADING + "\n\nold, typed by hand\n\n## Demo\n\nkept\n"
    updated = with_trained_runs(readme, section)
    assert "old, typed by hand" not in updated and "| resnet101 | 2 |" in updated and updated.endswith("## Demo\n\nkept\n")
    assert with_trained_runs("# Figures\n", section).endswith(section)


def test_a_page_that_cannot_be_written_whole_leaves_the_previous_page(tmp_path):
    import resource
    import signal
    executed, figures = tmp_path / "report", tmp_path / "figures"
    executed.mkdir(), figures.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 00 · Setup\n\n" + "Text. " * 2000)]),
                   executed / "00_chapter.ipynb")
    (executed / "report.html").write_text("the previous good page")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))  # the page is larger: as on a full disk
    try:
        with pytest.raises(OSError):
            build_html_report(executed, figures, "steelnb report: demo")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert (executed / "report.html").read_text() == "the previous good page"
    assert sorted(p.name for p in executed.iterdir()) == ["00_chapter.ipynb", "report.html"]


def test_a_chapter_whose_kernel_dies_is_named_and_saved_and_the_page_says_so(tmp_path):
    # a dead kernel (out of memory, a segfault) once ended the whole report with a bare DeadKernelError
    notebook = tmp_path / "98_crash.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 98 · A chapter that crashes"),
        nbformat.v4.new_code_cell("print('before')"),
        nbformat.v4.new_code_cell("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"),
    ]), notebook)
    run = execute_notebook(notebook, tmp_path / "out", tmp_path, timeout_s=60)
    assert "kernel died" in run.error
    saved = nbformat.read(tmp_path / "out" / "98_crash.ipynb", as_version=4)
    assert "did not finish when the report ran it" in saved.cells[1].source
    page = build_html_report(tmp_path / "out", tmp_path, "steelnb report: test").read_text()
    assert "did not finish when the report ran it" in page and "98 · A chapter that crashes" in page


def test_what_would_fail_every_chapter_is_refused_before_any_runs(tmp_path, monkeypatch):
    from steelnb.commands import report
    broken = tmp_path / "notebooks" / "00_broken.ipynb"
    broken.parent.mkdir()
    broken.write_text("this is not JSON")
    monkeypatch.setattr(report, "PROJECT_ROOT", tmp_path)
    with pytest.raises(report.ReportSetupError, match=r"00_broken\.ipynb cannot be read as a notebook.*git checkout"):
        report.check_before_running([broken], [])
    monkeypatch.setenv("STEELNB_DATA", "data/neu-seg")
    with pytest.raises(report.ReportSetupError, match="STEELNB_DATA=data/neu-seg is a relative path"):
        report.check_before_running([], [])
    monkeypatch.delenv("STEELNB_DATA")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(report.ReportSetupError, match=r"writes in .*a-file/figures, which cannot be written"):
        report.check_before_running([], [blocked / "figures"])


def test_an_empty_chapter_range_is_an_error_not_a_silent_success(monkeypatch, capsys):
    from steelnb.__main__ import main
    with pytest.raises(SystemExit, match="no chapter numbered from 20 to 30; the chapters are numbered 00 to 13"):
        main(["report", "--from", "20", "--to", "30"])


def test_the_page_shows_paths_relative_to_the_course_folder(tmp_path):
    # the reference page once showed the build machine's absolute paths in 14 setup outputs
    from steelnb.commands.html_report import relative_to_course
    course = tmp_path / "steelnb"
    assert relative_to_course(f"runs go to {course}/runs/default; figures to {course}", course) == \
        "runs go to runs/default; figures to ."
    assert relative_to_course(f"data in {tmp_path}/elsewhere, {course}2/x", course, data="") == \
        f"data in {tmp_path}/elsewhere, {course}2/x"  # outside the course folder: kept
    data = tmp_path / "neu-seg"  # the data folder, wherever it is, by the variable that names it
    assert relative_to_course(f"Using the real neu-seg data in {data} ({data}/data_wenjian/img_dir...)", course,
                              data=str(data)) == \
        "Using the real neu-seg data in $STEELNB_DATA ($STEELNB_DATA/data_wenjian/img_dir...)"
    executed = tmp_path / "report"
    executed.mkdir()
    code = nbformat.v4.new_code_cell("print(...)")
    from steelnb.env import PROJECT_ROOT
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"Profile 'default': figures go to "
                                           f"{PROJECT_ROOT}/runs/default/figures\n"),
                    nbformat.v4.new_output("execute_result", data={"text/plain": f"{PROJECT_ROOT}/data/x"},
                                           execution_count=1)]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 00 · Setup"), code]),
                   executed / "00_setup.ipynb")
    page = build_html_report(executed, tmp_path / "figures", "steelnb report: test").read_text()
    assert "figures go to runs/default/figures" in page and "data/x" in page
    assert str(PROJECT_ROOT) not in page
