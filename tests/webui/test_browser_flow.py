"""The web UI in a real Chromium against a real ``comicsrv serve``: first-run
set-up on an empty server, the first scan's live progress, the library, and
reading with the keyboard, with the position shared with the other APIs."""
from __future__ import annotations

import base64
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from comicsrv.extensions import db
from comicsrv.models import Book, User
from tests.factories import api_key_for
from tests.serving import live_server  # noqa: F401
from tests.webui.books import comicinfo, make_cbz
from tests.webui.conftest import DESKTOP

PASSWORD = "a long enough password"
PATTERN_PAGES = 12
WIDE_PAGE = 8  # page 8 of "Test Pattern #1" is a two-page spread scanned as one image


def pattern_library(comic_tree):
    """The fixture archives plus a 12-page book with a wide page and its sequel.

    Without the RAR and 7z fixtures: under ``comicsrv serve`` their readers
    start unrar/7z from the gevent thread pool, which fails ("child watchers
    are only available on the default loop"); the archive readers' branch
    fixes that, and then they can come back here.
    """
    for path in list(comic_tree.rglob("*")):
        if path.suffix in (".cbr", ".cb7"):
            path.unlink()
    series = comic_tree / "Pattern Press" / "Test Pattern"
    make_cbz(series / "Test Pattern #001.cbz", PATTERN_PAGES, wide=frozenset({WIDE_PAGE}),
             info=comicinfo("Test Pattern", "1", title="Spreads", publisher="Pattern Press",
                            story_arc="The Long Test", arc_number="1", writer="Ann Author"))
    make_cbz(series / "Test Pattern #002.cbz", 4,
             info=comicinfo("Test Pattern", "2", title="Sequel", publisher="Pattern Press",
                            story_arc="The Long Test", arc_number="2"))
    return comic_tree


@pytest.fixture
def library_folder(comic_tree):
    return pattern_library(comic_tree)


def _poll(check, timeout: float = 15.0):
    """``check()``'s first truthy answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _alts(page) -> list[str]:
    return page.eval_on_selector_all("#spread img", "imgs => imgs.map(i => i.alt)")


def test_first_run_scan_browse_and_read(live_server, make_app, library_folder,  # noqa: F811
                                        browser_context, screenshots):
    # The folders the server's owner lets libraries come from (no home
    # directory is offered by default).
    server = live_server(SSE_KEEPALIVE_SECONDS=1, LIBRARY_ROOTS=str(library_folder.parent))
    page = browser_context(DESKTOP).new_page()

    # No admin yet: any page leads to set-up.
    page.goto(server.url + "/series?q=x")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.screenshot(path=screenshots / "setup-desktop.png")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Add your first library")

    # The folder picker lists the server's folders through the admin browse service.
    page.click("[data-picker-open]")
    expect(page.locator("[data-picker-list] button").first).to_be_visible()
    page.fill("#path", str(library_folder))
    page.click("text=Add and scan")

    # The scan's progress arrives over SSE until it reaches 100 %, then its
    # result. A scan this small may be over before the page is drawn: then
    # the page shows its result at once, and no progress is left to show.
    result = page.locator("[data-scan-result] .scan-result")
    expect(result).to_be_visible(timeout=60_000)
    if page.locator(".scan-live").count():
        expect(page.locator(".scan-progress progress")).to_have_attribute("value", "100")
    expect(result.locator("[data-count=created] strong")).to_have_text("6")
    expect(result.locator("[data-count=errored] strong")).to_have_text("2")
    expect(result).to_contain_text("password-protected")  # the encrypted zip, with its reason
    page.screenshot(path=screenshots / "scan-desktop.png")

    # Home shows the books.
    page.click("main >> text=Open your library >> nth=0")
    expect(page.locator("[data-row=recently-added] .card")).to_have_count(4)
    expect(page.locator("[data-row=recently-added]")).to_contain_text("Test Pattern #1")

    # Open the series from the grid and start its first issue.
    page.click("nav.mainnav >> text=Library")
    page.goto(server.url + "/series")
    page.click(".card a:has-text('Test Pattern')")
    expect(page.locator("h1")).to_have_text("Test Pattern")
    expect(page.locator(".bookrow")).to_have_count(2)
    page.locator(".bookrow").first.get_by_role("link", name="Read Test Pattern #1").click()
    expect(page.locator("#spread")).to_have_attribute("data-pages", "1")

    # Read with the keyboard to page 5.
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#spread")).to_have_attribute("data-pages", "5")
    expect(page.locator("#page-count")).to_have_text("5 / 12")

    with make_app().app_context():
        admin = db.session.execute(db.select(User).where(User.username == "admin")).scalar_one()
        key = api_key_for(admin, ["SystemAdmin"])
        book = db.session.execute(db.select(Book).where(
            Book.filename == "Test Pattern #001.cbz")).scalar_one()
        book_id, book_path, arcid = book.id, book.path, book.arcid
    headers = {"X-API-Key": key}

    # The same position through CLU's endpoint, as a reader app asks for it.
    def clu_page():
        answer = requests.get(f"{server.url}/api/v1/progress", params={"path": book_path},
                              headers=headers, timeout=10)
        return answer.ok and (answer.json() or {}).get("page_number") == 5
    assert _poll(clu_page), requests.get(f"{server.url}/api/v1/progress",
                                         params={"path": book_path}, headers=headers).text

    # Reloading resumes at page 5.
    page.reload()
    expect(page.locator("#spread")).to_have_attribute("data-pages", "5")

    # And the reverse: a LANraragi client moves the position, the browser follows.
    bearer = {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}
    moved = requests.put(f"{server.url}/api/archives/{arcid}/progress/7", headers=bearer,
                         timeout=10)
    assert moved.ok, moved.text
    page.reload()
    expect(page.locator("#spread")).to_have_attribute("data-pages", "7")

    # Right to left, two pages side by side: page 6 and 7 share a spread,
    # drawn 7 | 6; the wide page 8 stands alone; ArrowLeft reads on.
    page.select_option("#set-layout", "double")
    page.select_option("#set-direction", "rtl")
    expect(page.locator("#spread")).to_have_attribute("data-pages", "6,7")
    assert _alts(page) == ["Page 7", "Page 6"]
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#spread")).to_have_attribute("data-pages", str(WIDE_PAGE))
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#spread")).to_have_attribute("data-pages", "9,10")
    assert _alts(page) == ["Page 10", "Page 9"]
    page.screenshot(path=screenshots / "reader-rtl-double-desktop.png")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#spread")).to_have_attribute("data-pages", str(WIDE_PAGE))

    # The series remembers how it is read. (Wait for the wide page's position
    # to be saved first: reopened there, the reader knows page 8 is wide and
    # pairs 9 | 10 and 11 | 12; reopened elsewhere it would learn it later.)
    def saved_at_wide_page():
        answer = requests.get(f"{server.url}/api/v1/books/{book_id}/progress", headers=headers,
                              timeout=10)
        return answer.ok and answer.json().get("current_page") == WIDE_PAGE
    assert _poll(saved_at_wide_page)
    page.reload()
    expect(page.locator("#set-layout")).to_have_value("double")
    expect(page.locator("#set-direction")).to_have_value("rtl")

    # At the end: mark as read, with the next issue offered.
    page.keyboard.press("End")
    expect(page.locator("#spread")).to_have_attribute("data-pages", "11,12")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#endcard")).to_be_visible()
    expect(page.locator("#next-book")).to_contain_text("Test Pattern #2")
    page.click("#mark-read")
    expect(page.locator("#end-status")).to_have_text("Marked as read.")
    progress = requests.get(f"{server.url}/api/v1/books/{book_id}/progress", headers=headers,
                            timeout=10).json()
    assert progress["is_completed"] is True and progress["current_page"] == PATTERN_PAGES
