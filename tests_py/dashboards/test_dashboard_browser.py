"""The dashboards in a real browser: Debian's headless Chromium (make chromium), driven by Playwright, loads every
page from a `streamlit run` server on 127.0.0.1, works a filter, and finds no error and no personal data; a
screenshot of each page goes to target/dashboard-screenshots/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taglake.core.project import Project
from taglake.privacy import patterns
from taglake.privacy.scan.canaries import collect_canaries
from taglake.privacy.scan.match import NAME_RUN

pytestmark = [pytest.mark.browser, pytest.mark.dbt]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "target" / "dashboard-screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Streamlit's own markers of a failed page: an exception block, an st.error box.
ERROR_SELECTORS = ('[data-testid="stException"]', '[data-testid="stAlertContentError"]')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run dashboards/app.py` on 127.0.0.1 over the session's build; stopped when the module ends."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
        "--", "--database", str(built_project.duckdb_path), "--artifacts", str(built_project.target_path.parent),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            assert proc.poll() is None, "streamlit stopped: " + log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "streamlit did not answer on 127.0.0.1 within 60 s"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), "Debian's chromium is missing: run `make chromium`"
    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user data dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1400, "height": 1800}
        )
        try:
            yield context.new_page()
        finally:
            context.close()


@pytest.fixture(scope="module")
def personal_data_in(built_project: Project) -> Callable[[str], list[str]]:
    """The kinds of personal data found in a page's text: any shape (taglake.privacy.patterns, every spelling) or
    any of the raw lake's own clear values (its canaries), names as whole runs of letters."""
    canaries = collect_canaries(built_project.lake_dir)
    needles = {
        unicodedata.normalize("NFKC", v).casefold() for kind, vs in canaries.items() if kind != "name" for v in vs
    }
    names = {unicodedata.normalize("NFKC", v) for v in canaries.get("name", set())}
    assert needles and names, "the raw lake has canaries to look for"

    def found(text: str) -> list[str]:
        folded = unicodedata.normalize("NFKC", text)
        kinds = {f.kind for f in patterns.find(text)}
        if any(n in folded.casefold() for n in needles):
            kinds.add("raw value")
        runs = NAME_RUN.findall(folded)
        if any(run in names or any(len(n) >= 3 and n in run for n in names) for run in runs):
            kinds.add("name")
        return sorted(kinds)

    return found


def _settle(page: object, heading: str) -> None:
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    page.wait_for_timeout(300)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=60_000)


def _pick(page: object, label: str, option: str | None) -> None:
    """Open the Streamlit selectbox or multiselect labelled `label` (a combobox) and choose `option` (or the first)."""
    box = page.get_by_role("combobox", name=label).first
    box.click()
    options = page.get_by_role("option")
    if option:
        box.fill(option)  # the list is virtualised: typing narrows it to the option
        options = options.filter(has_text=option)
    options.first.click()
    page.keyboard.press("Escape")


PAGES = [
    # url path (the default page is the root), heading, (filter label, option to pick or None for the first), what
    # appears once it is applied
    ("", "Tag populations", ("Segment by", "age_band"), "Drill-down by age_band"),
    ("quality", "Data quality", ("Source (model checked)", "crm.customers"), "Reconciliation"),
    ("models", "Model history", ("Month", None), "Score distribution"),
    ("cost", "Cost", None, "This dashboard's queries"),
]


@pytest.mark.parametrize(("path", "heading", "pick", "then"), PAGES, ids=[p[0] or "tags" for p in PAGES])
def test_each_page_loads_takes_a_filter_and_shows_no_error_and_no_personal_data(
    server: str,
    page: object,
    personal_data_in: Callable[[str], list[str]],
    path: str,
    heading: str,
    pick: tuple[str, str] | None,
    then: str,
) -> None:
    page.goto(f"{server}/{path}", wait_until="domcontentloaded")
    _settle(page, heading)
    if pick is not None:
        _pick(page, *pick)
    else:  # cost has no filter: it is reached through the navigation, as a user would
        page.goto(server, wait_until="domcontentloaded")
        _settle(page, "Tag populations")
        page.get_by_role("link", name="Cost").first.click()
    _settle(page, heading)
    page.get_by_text(then).first.wait_for(timeout=60_000)
    for selector in ERROR_SELECTORS:
        assert page.locator(selector).count() == 0, f"{path}: the page shows a Streamlit error ({selector})"
    text = page.locator("body").inner_text()
    assert heading in text
    assert personal_data_in(text) == [], f"{path}: personal data on the page"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{path or 'tags'}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_page_showing_a_planted_value_is_caught(personal_data_in: Callable[[str], list[str]]) -> None:
    """The page check itself can fail: a full-width, spaced national ID and a +886 mobile are found."""
    assert "national_id" in personal_data_in("客戶 Ａ１２３ ４５６ ７８９")
    assert "mobile" in personal_data_in("call +886 912-345-678 now")
