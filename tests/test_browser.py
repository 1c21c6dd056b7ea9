"""The course in a real browser: chapters 00 and 08 run in JupyterLab (its front end, not only its kernel),
and the HTML report opens with every image and formula rendered. Headless Chromium is driven through
Playwright with the system's Chromium as its browser (Debian's ``chromium`` package; Playwright's own
browser download is not needed). Both tests skip, saying why, when either is missing.

Screenshots go to ``$STEELNB_SCREENSHOTS`` (default: the test's temporary folder) for a person to look at.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from steelnb.commands.html_report import build_html_report

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHAPTERS = ("00_setup_and_data.ipynb", "08_evaluation.ipynb")
pytestmark = pytest.mark.slow  # JupyterLab, a browser and two chapters, training included

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("STEELNB_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, serving copies of the chapters (the course's notebooks stay
    untouched); the kernels run the smoke profile with their runs in a temporary folder."""
    home = tmp_path_factory.mktemp("lab")
    (home / "notebooks").mkdir()
    for chapter in CHAPTERS:
        shutil.copy(ROOT / "notebooks" / chapter, home / "notebooks" / chapter)
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "STEELNB_SMOKE": "1", "STEELNB_OFFLINE": "1", "STEELNB_RUNS": str(home / "runs"),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    log = open(home / "jupyterlab.log", "w")  # noqa: SIM115 - the server writes to it until the fixture ends
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as answer:
                json.load(answer)
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab did not start: {(home / 'jupyterlab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not answer within a minute")
    yield {"url": url, "token": token, "home": home}
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


#: JavaScript run in the page: the state of the open notebook whose path ends with the argument, read through
#: JupyterLab's own application object (null until it is open with a kernel).
NOTEBOOK_STATE = """(chapter) => {
  if (!window.jupyterapp || !window.jupyterapp.shell) { return null; }
  const panel = [...window.jupyterapp.shell.widgets('main')].find(
    widget => widget.context && widget.context.path.endsWith(chapter));
  if (!panel || !panel.content || !panel.sessionContext.session) { return null; }
  const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
  const errors = [];
  for (const cell of cells) {
    for (const output of cell.model.outputs.toJSON()) {
      if (output.output_type === 'error') { errors.push(output.ename + ': ' + output.evalue); }
    }
  }
  return {id: panel.id, current: window.jupyterapp.shell.currentWidget === panel,
          kernel: panel.sessionContext.session.kernel ? panel.sessionContext.session.kernel.status : 'none',
          code_cells: cells.length, executed: cells.filter(cell => cell.model.executionCount !== null).length,
          errors: errors};
}"""


def _run_chapter(page, lab: dict, chapter: str, timeout_s: float = 600) -> dict:
    """Open ``chapter`` in a fresh JupyterLab workspace, run all its cells, save it and return its state."""
    page.goto(f"{lab['url']}/lab/workspaces/{chapter[:2]}/tree/notebooks/{chapter}?reset&token={lab['token']}")
    page.wait_for_function(f"() => {{ const state = ({NOTEBOOK_STATE})({json.dumps(chapter)}); "
                           "return state !== null && state.kernel === 'idle'; }", timeout=120_000)
    state = page.evaluate(NOTEBOOK_STATE, chapter)
    page.evaluate(f"() => window.jupyterapp.shell.activateById({json.dumps(state['id'])})")
    page.wait_for_function(f"() => ({NOTEBOOK_STATE})({json.dumps(chapter)}).current")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE, chapter)
        if state["errors"] or (state["executed"] == state["code_cells"] and state["kernel"] == "idle"):
            break
        time.sleep(1)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    time.sleep(1)
    return state


@pytest.fixture(scope="module")
def executed(lab, browser, screenshots):
    """Chapters 00 and 08 run in JupyterLab: their states, with a screenshot of each and of the viewer."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    states = {}
    for chapter in CHAPTERS:
        states[chapter] = _run_chapter(page, lab, chapter)
        page.screenshot(path=str(screenshots / f"jupyterlab_{chapter[:2]}.png"))
    viewer = page.locator(".jp-OutputArea-output .widget-interact").first
    states["viewer"] = {"controls": page.locator(".jp-OutputArea-output .widget-interact .widget-slider").count()
                        + page.locator(".jp-OutputArea-output .widget-interact .widget-dropdown").count(),
                        "visible": viewer.count() > 0 and viewer.is_visible()}
    if states["viewer"]["visible"]:
        viewer.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "jupyterlab_08_viewer.png"))
    page.close()
    return states


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_in_jupyterlab_without_an_error(executed, chapter):
    state = executed[chapter]
    assert state["errors"] == [], state["errors"]
    assert state["code_cells"] > 3 and state["executed"] == state["code_cells"], state


def test_the_widget_viewer_renders_its_controls_in_jupyterlab(executed):
    assert executed["viewer"]["visible"], "the viewer of chapter 08 shows no widget (is jupyterlab_widgets installed?)"
    assert executed["viewer"]["controls"] >= 3  # image slider, class dropdown, threshold slider


def test_report_opens_with_every_image_and_formula_rendered(executed, lab, browser, screenshots):
    report = build_html_report(lab["home"] / "notebooks", lab["home"] / "runs" / "smoke" / "figures",
                               "steelnb report: browser test", "Chapters 00 and 08 run in JupyterLab.",
                               page=screenshots / "report.html")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate("() => [...document.images].map(i => [i.complete, i.naturalWidth])")
    assert images and all(done and width > 0 for done, width in images), images
    formulas = page.evaluate("() => [...document.querySelectorAll('math')].map(m => m.getBoundingClientRect().width)")
    assert formulas and all(width > 0 for width in formulas)  # MathML laid out by the browser itself
    assert "$p = cH" not in page.inner_text("body")  # no TeX left as text
    assert all(url.startswith(("file:", "data:")) for url in requests), requests  # nothing from the web
    page.locator("math").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "report.png"))
    page.close()
