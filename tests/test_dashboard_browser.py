"""The dashboard in a real browser: headless Chromium loads the page from disk, runs its script without a console
message, shows one row per claim in the results, and filters by the address (?verdict=...). A screenshot is kept in
test-artifacts/ (or $REPRO_TEST_ARTIFACTS).

Chromium comes from the system's package manager: the fixture installs Debian's `chromium` package when it is
missing and the test runs as root with apt-get; otherwise the tests are skipped, saying so.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from analysis import dashboard

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def find_or_install_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name), ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "no chromium on PATH and no root apt-get to install it (apt-get install chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=900"]   # another test may be installing (SLURM) at the same time
    install = [*apt, "install", "-y", "-q", "--no-install-recommends", "chromium"]
    try:
        r = subprocess.run(install, capture_output=True, text=True, timeout=900, env=env)
        if r.returncode != 0:
            subprocess.run([*apt, "update", "-q"], capture_output=True, timeout=600, env=env)
            r = subprocess.run(install, capture_output=True, text=True, timeout=900, env=env)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"installing chromium failed: {e}"
    if r.returncode != 0 or not shutil.which("chromium"):
        return None, f"apt-get install chromium failed: {r.stderr.strip()[-300:]}"
    return shutil.which("chromium"), ""


@pytest.fixture(scope="module")
def chromium():
    path, why = find_or_install_chromium()
    if not path:
        pytest.skip(f"headless Chromium unavailable: {why}")
    return path


def load(chromium, url: str, screenshot: Path | None = None, width: int = 1400):
    """(DOM after the page's scripts ran, console messages) for one page load, at a window ``width`` pixels wide."""
    with tempfile.TemporaryDirectory() as profile:
        args = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},2000"]
        if screenshot:
            args += [f"--screenshot={screenshot}", "--hide-scrollbars"]
        else:
            args += ["--dump-dom"]
        r = subprocess.run([*args, url], capture_output=True, text=True, timeout=120)
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    return r.stdout, console


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The dashboard built from the committed results of every paper."""
    results = tmp_path_factory.mktemp("results")
    for claims in sorted((REPO / "results").glob("*/cpu/claims.json")):
        (results / claims.parent.parent.name / "cpu").mkdir(parents=True)
        shutil.copy(claims, results / claims.parent.parent.name / "cpu" / "claims.json")
    assert dashboard.main(["--results", str(results)]) == 0
    n = sum(len(json.loads(p.read_text())["claims"]) for p in results.glob("*/cpu/claims.json"))
    verdicts = [c["verdict"] for p in results.glob("*/cpu/claims.json") for c in json.loads(p.read_text())["claims"]]
    return results / "dashboard" / "index.html", n, verdicts


def shown(dom: str) -> int:
    return int(re.search(r'<span id="shown">(\d+)</span>', dom).group(1))


def test_page_loads_without_console_errors_and_shows_every_claim(chromium, page):
    path, n_claims, _ = page
    dom, console = load(chromium, path.as_uri())
    assert console == [], f"console messages: {console}"
    assert dom.count('<article class="claim"') == n_claims > 0
    assert shown(dom) == n_claims                                  # the filter script ran: all rows visible
    artifacts = Path(os.environ.get("REPRO_TEST_ARTIFACTS", REPO / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "dashboard.png"
    shot.unlink(missing_ok=True)
    load(chromium, path.as_uri(), screenshot=shot)
    assert shot.exists() and shot.stat().st_size > 10_000


def test_filter_from_the_address_hides_the_other_rows(chromium, page):
    path, _, verdicts = page
    dom, console = load(chromium, path.as_uri() + "?verdict=inconclusive")
    assert console == []
    assert shown(dom) == verdicts.count("inconclusive") > 0


def test_a_script_error_is_caught(chromium, tmp_path):
    """The console check can fail: a page whose script throws is reported."""
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><html><body><script>notDefined();</script></body></html>")
    _, console = load(chromium, broken.as_uri())
    assert any("notDefined" in line for line in console)


def test_desktop_and_phone_widths_fit_and_a_figure_opens_larger(chromium, page, tmp_path):
    """At a desktop and at a phone width nothing is wider than the window (the page measures itself: a copy with a
    probe script writes the document's scroll width and the window's width into the DOM; headless Chromium lays out
    no narrower than about 500 pixels, so the phone case checks the phone layout, under 700, at that width), and
    ?open=<paper>-<claim> shows that claim's figure enlarged. The screenshots are kept beside the desktop one."""
    path, _, _ = page
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text().replace(
        "</body>", "<script>document.body.insertAdjacentHTML('beforeend','<span id=sw>'+"
                   "document.documentElement.scrollWidth+' '+document.documentElement.clientWidth+'</span>')</script>"
                   "</body>"))
    for width in (1400, 390):
        dom, console = load(chromium, probe.as_uri(), width=width)
        assert console == []
        scroll, window = map(int, re.search(r'<span id="sw">(\d+) (\d+)</span>', dom).groups())
        assert scroll <= window <= width + 200 and (width > 700 or window < 700), (scroll, window)
    artifacts = Path(os.environ.get("REPRO_TEST_ARTIFACTS", REPO / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    load(chromium, path.as_uri(), screenshot=artifacts / "dashboard-phone.png", width=390)
    card = re.search(r'<article class="claim" id="([^"]+)"[^>]*>(?:(?!</article>).)*<img class="fig"', path.read_text(),
                     re.S).group(1)
    dom, _ = load(chromium, path.as_uri() + f"?open={card}")
    assert 'class="fig big"' in dom
    load(chromium, path.as_uri() + f"?open={card}", screenshot=artifacts / "dashboard-figure.png", width=1200)
    assert (artifacts / "dashboard-phone.png").stat().st_size > 10_000
