"""The HTML edition, opened page by page in headless Chromium over the DevTools protocol.

Every page must load without console errors, failed requests or requests to the network, every
<img> must be decoded (complete, naturalWidth > 0) and carry alt text, and internal links must point
at existing pages and ids. Without Chromium the tests are skipped, except under CI=true where a
missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import clusterkrise
from clusterkrise.render import render_book
from conftest import executed_copy

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = clusterkrise.PROJECT_ROOT
MINI = Path(__file__).parent / "fixtures" / "mini_book"

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--remote-debugging-port=0",
]

PROBE = """JSON.stringify({
  lang: document.documentElement.getAttribute('lang'),
  title: document.title,
  images: Array.from(document.images).map(i => ({src: i.getAttribute('src'), complete: i.complete,
                                                 width: i.naturalWidth, alt: i.getAttribute('alt')})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  nav: Array.from(document.querySelectorAll('nav.book-toc a')).length,
  pager: Array.from(document.querySelectorAll('nav.pager a')).map(a => a.getAttribute('rel')),
})"""


def chromium_or_skip() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    reason = "chromium is not installed (bash scripts/test installs Debian's chromium when run as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


class DevTools:
    """Minimal Chrome DevTools Protocol client on tornado's websocket (already a dependency)."""

    def __init__(self, url: str):
        self.url = url
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    async def __aenter__(self):
        from tornado.websocket import websocket_connect

        self.ws = await websocket_connect(self.url, max_message_size=64 * 1024 * 1024)
        return self

    async def __aexit__(self, *exc):
        self.ws.close()

    async def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        msg_id = next(self.ids)
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.write_message(json.dumps(msg))
        while True:
            reply = await asyncio.wait_for(self.ws.read_message(), timeout)
            if reply is None:
                raise RuntimeError("DevTools connection closed")
            data = json.loads(reply)
            if data.get("id") == msg_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
            self.events.append(data)

    async def wait_for(self, method: str, session: str, timeout: float = 30):
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for ev in self.events:
                if ev.get("method") == method and ev.get("sessionId") == session:
                    return ev
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no {method} within {timeout} s")
            reply = await asyncio.wait_for(self.ws.read_message(), remaining)
            if reply is None:
                raise RuntimeError("DevTools connection closed")
            self.events.append(json.loads(reply))


async def inspect_pages(ws_url: str, pages: list[Path]) -> dict[str, dict]:
    results = {}
    async with DevTools(ws_url) as dt:
        for page in pages:
            target = (await dt.call("Target.createTarget", {"url": "about:blank"}))["targetId"]
            session = (await dt.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                await dt.call(f"{domain}.enable", session=session)
            dt.events.clear()
            await dt.call("Page.navigate", {"url": page.as_uri()}, session=session)
            await dt.wait_for("Page.loadEventFired", session)
            probe = await dt.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session)
            mine = [e for e in dt.events if e.get("sessionId") == session]
            errors = []
            for ev in mine:
                m, p = ev.get("method"), ev.get("params", {})
                if m == "Runtime.exceptionThrown":
                    errors.append(p["exceptionDetails"].get("text", "exception"))
                elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    errors.append(str(p.get("args")))
                elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                    errors.append(p["entry"].get("text", ""))
                elif m == "Network.loadingFailed":
                    errors.append(f"failed request: {p.get('errorText')}")
            requests = [ev["params"]["request"]["url"] for ev in mine if ev.get("method") == "Network.requestWillBeSent"]
            results[str(page)] = {"probe": json.loads(probe["result"]["value"]), "errors": errors, "requests": requests}
            await dt.call("Target.closeTarget", {"targetId": target})
    return results


@pytest.fixture(scope="module")
def chromium():
    return chromium_or_skip()


def with_devtools(chromium: str, profile: Path, session):
    """Start a headless chromium, wait for its DevTools port and run ``session(ws_url)`` (a coroutine
    function) against it; chromium is stopped however the session ends."""
    profile.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):  # chromium writes the port once it listens
            if port_file.is_file() and len(port_file.read_text().splitlines()) >= 2:
                break
            if proc.poll() is not None:
                pytest.fail(f"chromium exited with {proc.returncode} before opening DevTools")
            time.sleep(0.1)
        else:
            pytest.fail("chromium did not open the DevTools port")
        port, path = port_file.read_text().splitlines()[:2]
        return asyncio.run(session(f"ws://127.0.0.1:{port}{path}"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_browser(chromium: str, pages: list[Path], profile: Path) -> dict[str, dict]:
    return with_devtools(chromium, profile, lambda url: inspect_pages(url, pages))


@pytest.fixture(scope="module")
def books(tmp_path_factory, executed_project):
    real = tmp_path_factory.mktemp("html_real")
    render_book(ROOT, real, formats=("html",))
    mini = tmp_path_factory.mktemp("html_mini")
    executed = executed_copy(MINI / "executed", tmp_path_factory.mktemp("mini_executed"))
    render_book(MINI, mini, formats=("html",), executed_dir=executed)
    return {"real": real, "mini": mini}


@pytest.fixture(scope="module")
def browsed(books, chromium, tmp_path_factory):
    pages = sorted(books["real"].glob("*.html")) + sorted(books["mini"].glob("*.html"))
    return books, run_browser(chromium, pages, tmp_path_factory.mktemp("profile")), pages


def test_html_render_is_reproducible(books, tmp_path):
    again = tmp_path / "again"
    render_book(ROOT, again, formats=("html",))
    first = {p.relative_to(books["real"]): p.read_bytes() for p in books["real"].rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_one_page_per_chapter(books):
    from clusterkrise.render import load_config

    chapters = load_config(ROOT).chapters
    # one page per chapter and the list of figures and tables
    assert len(list(books["real"].glob("*.html"))) == len(chapters) + 1
    assert (books["real"] / "verzeichnisse.html").is_file()
    assert (books["real"] / "index.html").is_file()


def test_every_page_loads_cleanly_offline(browsed):
    _, results, pages = browsed
    assert len(results) == len(pages)
    for page, res in results.items():
        assert res["errors"] == [], f"{page}: {res['errors']}"
        remote = [u for u in res["requests"] if not u.startswith(("file:", "data:", "about:"))]
        assert remote == [], f"{page} requests the network: {remote}"
        probe = res["probe"]
        assert probe["lang"] == "de", page
        assert probe["nav"] > 0, f"{page} has no chapter navigation"
        assert probe["pager"], f"{page} has no previous/next links"


def test_every_image_is_decoded_and_has_alt_text(browsed):
    _, results, _ = browsed
    images = [(page, img) for page, res in results.items() for img in res["probe"]["images"]]
    assert any(page.endswith("02-ergebnisse.html") for page, _ in images), "the fixture's figures were not rendered"
    for page, img in images:
        assert img["complete"] and img["width"] > 0, f"{page}: image {img['src']} not loaded"
        assert img["alt"] and img["alt"].strip(), f"{page}: image {img['src']} has no alt text"


def test_internal_links_point_at_existing_pages_and_ids(browsed):
    _, results, pages = browsed
    for page in pages:
        for href in results[str(page)]["probe"]["links"]:
            parts = urlsplit(href)
            if parts.scheme or href.startswith("mailto:"):
                continue
            target = page if not parts.path else page.parent / parts.path
            assert target.is_file(), f"{page.name}: link {href} points at a missing page"
            if parts.fragment:
                ids = re.findall(r'\bid="([^"]+)"', target.read_text(encoding="utf-8"))
                assert parts.fragment in ids, f"{page.name}: link {href} points at a missing id"


# --- the real book on a phone (390 CSS px) and on a desktop ---------------------------------

LAYOUT_PROBE = """JSON.stringify((() => {
  const main = document.querySelector('main');
  const firstText = Array.from(main.querySelectorAll('p, li')).find(p => !p.closest('nav, header') && p.offsetParent !== null && p.textContent.trim());
  const charts = Array.from(document.querySelectorAll('figure svg.chart'));
  const sizes = charts.flatMap(svg => Array.from(svg.querySelectorAll('text')).filter(t => t.textContent.trim())
      .map(t => ({fig: svg.closest('figure').id, px: t.getBoundingClientRect().height ? parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a : 0})));
  const figures = Array.from(document.querySelectorAll('main figure[id^="fig-"]')).map(f => ({
      id: f.id,
      label: (f.querySelector('svg.chart') || {getAttribute: () => ''}).getAttribute('aria-label') || (f.querySelector('img') || {alt: ''}).alt,
      cells: Array.from(f.querySelectorAll('details.figure-data td')).map(td => td.textContent),
      csv: Array.from(f.querySelectorAll('details.figure-data a[href$=".csv"]')).map(a => a.getAttribute('href'))}));
  const narrowNav = document.querySelector('details.nav-narrow');
  return {
    viewport: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    firstTextTop: firstText ? firstText.getBoundingClientRect().top : null,
    screen: window.innerHeight,
    navOpen: narrowNav ? narrowNav.open : null,
    navVisible: narrowNav ? narrowNav.offsetParent !== null : false,
    sideNavVisible: document.querySelector('nav.book-toc').offsetParent !== null,
    chartText: sizes,
    figures: figures,
    tablesUnwrapped: Array.from(main.querySelectorAll('table')).filter(t => !t.parentElement.classList.contains('table-scroll')).length,
  };
})())"""


async def measure_pages(ws_url: str, pages: list[Path], width: int, height: int) -> dict[str, dict]:
    results = {}
    async with DevTools(ws_url) as dt:
        target = (await dt.call("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await dt.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        await dt.call("Page.enable", session=session)
        await dt.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, session=session)
        for page in pages:
            dt.events.clear()
            await dt.call("Page.navigate", {"url": page.as_uri()}, session=session)
            await dt.wait_for("Page.loadEventFired", session)
            await dt.call("Runtime.evaluate", {"expression": "document.fonts.ready", "awaitPromise": True}, session=session)
            probe = await dt.call("Runtime.evaluate", {"expression": LAYOUT_PROBE, "returnByValue": True}, session=session)
            results[page.name] = json.loads(probe["result"]["value"])
        await dt.call("Target.closeTarget", {"targetId": target})
    return results


def run_layout(chromium: str, pages: list[Path], profile: Path, width: int, height: int) -> dict[str, dict]:
    return with_devtools(chromium, profile, lambda url: measure_pages(url, pages, width, height))


@pytest.fixture(scope="module")
def phone(books, chromium, tmp_path_factory):
    pages = sorted(books["real"].glob("*.html"))
    return run_layout(chromium, pages, tmp_path_factory.mktemp("phone"), 390, 844)


def test_phone_chart_text_is_at_least_11_css_px(phone):
    measured = [t for res in phone.values() for t in res["chartText"]]
    assert len(measured) > 100, "no chart text found: charts must be inline SVG with real text"
    small = sorted({(t["fig"], round(t["px"], 1)) for t in measured if t["px"] < 11 - 0.05})
    assert small == [], f"chart text under 11 CSS px at 390 px width: {small[:10]}"


def test_phone_chapter_text_starts_on_the_first_screen(phone):
    for page, res in phone.items():
        assert res["navVisible"] and not res["navOpen"], f"{page}: the chapter list is not folded on a phone"
        assert not res["sideNavVisible"], f"{page}: the side chapter list shows on a phone"
        assert res["firstTextTop"] is not None and res["firstTextTop"] < res["screen"], \
            f"{page}: the text starts at {res['firstTextTop']} px, below the first screen ({res['screen']} px)"
        assert res["pageWidth"] <= res["viewport"], f"{page}: the page is {res['pageWidth']} px wide on a {res['viewport']} px screen"
        assert res["tablesUnwrapped"] == 0, f"{page}: a table without a scroll box"


def test_every_figure_has_its_values_as_text(phone, books):
    figures = [(page, fig) for page, res in phone.items() for fig in res["figures"]]
    assert len(figures) >= 40
    for page, fig in figures:
        assert fig["cells"], f"{page}: {fig['id']} has no data table"
        assert any(c.strip() for c in fig["cells"]), f"{page}: {fig['id']} has an empty data table"
        assert fig["csv"] and (books["real"] / fig["csv"][0]).is_file(), f"{page}: {fig['id']} has no CSV link"
        assert len(fig["label"]) > 40, f"{page}: {fig['id']} has no describing alt text: {fig['label']!r}"


def test_lists_of_figures_and_tables_link_every_figure(books):
    lists = (books["real"] / "verzeichnisse.html").read_text(encoding="utf-8")
    pages = {p.name: p.read_text(encoding="utf-8") for p in books["real"].glob("*.html")}
    ids = {(name, i) for name, text in pages.items() if name != "verzeichnisse.html"
           for i in re.findall(r'<(?:figure|div) id="((?:fig|tbl)-[^"]+)"', text)}
    links = set(re.findall(r'href="([^"#]+)#((?:fig|tbl)-[^"]+)"', lists))
    assert ids and ids <= links, f"not in the list of figures and tables: {sorted(ids - links)[:5]}"


def test_desktop_shows_the_side_list(books, chromium, tmp_path_factory):
    res = run_layout(chromium, [books["real"] / "07-neue-situation.html"], tmp_path_factory.mktemp("desk"), 1280, 900)
    page = res["07-neue-situation.html"]
    assert page["sideNavVisible"] and not page["navVisible"]
    assert page["pageWidth"] <= page["viewport"]
