"""End to end in a real browser: report.html and viewer.html of a small run, served on
127.0.0.1, opened in headless Debian Chromium driven by Playwright.

Checks that every report image decoded, that the viewer draws on its canvas and redraws when
the time slider, the layer checkboxes and the field dropdown change, and that the pages log no
console error. Screenshots go to tests/artifacts/ (ignored by git).

Without /usr/bin/chromium (``apt-get install chromium``) or Playwright the browser tests are
skipped locally, and fail in CI (``CI`` set), whose .ci/run installs both. ``TMESIM_CHROMIUM``
names another Chromium binary.
"""

from __future__ import annotations

import hashlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tmesim
from conftest import build, small_dict
from tmesim.cli import app
from tmesim.viz import make_server, write_viewer
from tmesim.viz.viewer import viewer_data

CHROMIUM = os.environ.get("TMESIM_CHROMIUM", "/usr/bin/chromium")  # Debian's package
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _need(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI: .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:  # noqa: ANN001
    out = tmp_path_factory.mktemp("browser") / "run"
    tmesim.simulate(build(small_dict(days=1.0)), out=out, seed=5, days=1.0, report=True)
    write_viewer(out)
    return out


@pytest.fixture(scope="module")
def base_url(run_dir: Path):  # noqa: ANN201
    server = make_server(run_dir, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):  # noqa: ANN001, ANN201
    if not Path(CHROMIUM).exists():
        _need(f"{CHROMIUM} not found: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright is not installed: pip install -e '.[test]'")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=FLAGS, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        yield context
        context.close()


def _open(browser, url: str):  # noqa: ANN001, ANN202
    """A new page at ``url`` and the list its console errors, page errors and failed requests go to."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    return page, errors


def test_report_images_render(browser, base_url: str) -> None:  # noqa: ANN001
    page, errors = _open(browser, f"{base_url}/report.html")
    imgs = page.evaluate("""() => Array.from(document.images, (i) => ({
        alt: i.alt, ok: i.complete, w: i.naturalWidth, h: i.naturalHeight}))""")
    assert len(imgs) >= 8, imgs  # 3 maps, populations, states, tissue, fields, network
    bad = [i for i in imgs if not (i["ok"] and i["w"] > 0 and i["h"] > 0)]
    assert not bad, bad
    assert "Rules and their sources" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    page.close()
    assert errors == []


CANVAS_STATS = """() => {
  const c = document.getElementById('map'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0; const colours = new Set();
  for (let k = 0; k < d.length; k += 4) {
    if (d[k] < 235 || d[k + 1] < 235 || d[k + 2] < 235) ink++;
    if (k % 64 === 0) colours.add((d[k] << 16) | (d[k + 1] << 8) | d[k + 2]);
  }
  return {ink: ink / (d.length / 4), colours: colours.size, url: c.toDataURL()};
}"""


def _state(page) -> dict:  # noqa: ANN001
    s = page.evaluate(CANVAS_STATS)
    s["hash"] = hashlib.sha1(s.pop("url").encode()).hexdigest()
    return s


def test_viewer_draws_and_responds(browser, base_url: str) -> None:  # noqa: ANN001
    page, errors = _open(browser, f"{base_url}/viewer.html")
    page.wait_for_selector("body[data-ready='1']")
    assert page.is_hidden("#error")
    assert page.evaluate("window.tmesimViewer.snapshots") == 3
    assert page.inner_text("#day") == "0"
    first = _state(page)
    assert first["ink"] > 0.05 and first["colours"] > 5, first
    page.screenshot(path=str(ARTIFACTS / "viewer-day0.png"), full_page=True)

    # the time slider, moved with the keyboard as a person would: a different picture
    page.focus("#time")
    page.keyboard.press("End")
    assert page.inner_text("#day") == "1"
    last = _state(page)
    assert last["hash"] != first["hash"] and last["ink"] > 0.05
    page.keyboard.press("Home")
    assert _state(page)["hash"] == first["hash"]  # back to the same picture
    page.keyboard.press("End")

    # a substrate field under the cells: the heat map and its colour bar add colours
    assert "oxygen" in page.evaluate("window.tmesimViewer.fields")
    page.select_option("#field", label="oxygen (mmHg)")
    with_field = _state(page)
    assert with_field["hash"] != last["hash"] and with_field["colours"] > last["colours"]
    assert "oxygen" in page.evaluate("document.title + ' ' + document.getElementById('field').selectedOptions[0].text")
    page.screenshot(path=str(ARTIFACTS / "viewer-oxygen.png"), full_page=True)

    # layers: one type off changes the picture; all off leaves the field alone
    page.uncheck("#layers input[data-code='1']")  # cancer
    no_cancer = _state(page)
    assert no_cancer["hash"] != with_field["hash"]
    page.click("#none")
    assert page.evaluate("Array.from(document.querySelectorAll('#layers input')).every((c) => !c.checked)")
    field_only = _state(page)
    assert field_only["hash"] != no_cancer["hash"] and field_only["ink"] > 0.3  # the heat map fills the plot
    page.select_option("#field", value="")
    empty = _state(page)
    assert empty["ink"] < first["ink"] / 2  # only axes and labels left
    page.click("#all")
    assert _state(page)["hash"] == last["hash"]

    # the read-out of the site under the mouse
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    assert "µm" in page.inner_text("#hover")

    # play runs through the snapshots and stops at the last
    page.click("#play")
    page.wait_for_function("document.getElementById('time').value === '2' "
                           "&& document.getElementById('play').textContent.includes('play')", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "viewer-day1.png"), full_page=True)
    page.close()
    assert errors == []


def test_viewer_file_is_self_contained(run_dir: Path) -> None:
    html = (run_dir / "viewer.html").read_text()
    assert "<script src" not in html and "http://" not in html and "https://" not in html
    assert (run_dir / "viewer.html").stat().st_size < 300_000


def test_viewer_data_matches_the_run(run_dir: Path) -> None:
    """The embedded grids hold each live cell's type at its site; fields are downsampled on request."""
    import base64
    import zlib

    import numpy as np

    data = viewer_data(run_dir, field_max=20)
    rd = tmesim.RunDirectory(run_dir)
    assert data["times"] == rd.snapshot_times() and (data["nx"], data["ny"]) == (48, 48)
    grids = np.frombuffer(zlib.decompress(base64.b64decode(data["cells"])), np.uint8).reshape(3, 48, 48)
    names = [t["name"] for t in data["types"]]
    last = rd.cells(1.0)
    live = last[last.status == "live"]
    for k, name in enumerate(names, start=1):
        assert (grids[-1] == k).sum() == (live.cell_type == name).sum(), name
    row = live.iloc[0]
    assert names[grids[-1, int(row.y_um // 20), int(row.x_um // 20)] - 1] == row.cell_type
    assert (grids[-1] == 255).sum() == (last.status != "live").sum()
    assert data["types"][names.index("CD8_T_cell")]["label"] == "CD8 cytotoxic T cell"
    ds = rd.fields()
    oxygen = next(f for f in data["fields"] if f["name"] == "oxygen")
    assert (oxygen["nx"], oxygen["ny"], oxygen["dx"]) == (16, 16, 60.0)  # 48 sites in blocks of 3
    assert oxygen["unit"] == "mmHg" and oxygen["label"] == "oxygen"
    assert np.isclose(oxygen["min"], float(ds.oxygen.coarsen(x=3, y=3).mean().min()), rtol=1e-5)
    assert np.isclose(oxygen["max"], float(ds.oxygen.coarsen(x=3, y=3).mean().max()), rtol=1e-5)
    q = np.frombuffer(zlib.decompress(base64.b64decode(oxygen["data"])), np.uint8)
    assert q.size == 3 * 16 * 16 and q.min() == 0 and q.max() == 255


def test_view_command_serves_until_ctrl_c(run_dir: Path, base_url: str) -> None:
    # a port in use is a one-line error naming --port
    port = base_url.rsplit(":", 1)[1]
    res = CliRunner().invoke(app, ["view", str(run_dir), "--port", port, "--no-browser"])
    assert res.exit_code == 2 and "--port" in res.output
    # Ctrl-C must reach the server even when this test runs where SIGINT is ignored (a shell
    # starts background jobs that way, and children inherit it): restore the default in the child
    proc = subprocess.Popen([sys.executable, "-m", "tmesim", "view", str(run_dir), "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline, url = time.monotonic() + 30, ""
        while not url and time.monotonic() < deadline and proc.poll() is None:
            if select.select([proc.stdout], [], [], 0.5)[0]:
                line = proc.stdout.readline().strip()
                url = line if line.startswith("http://127.0.0.1:") else ""
        assert url.endswith("/viewer.html"), (url, proc.poll())
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b'id="tmesim-data"' in r.read()
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=30) == 0, proc.stderr.read()  # generous: CI machines can be loaded
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
