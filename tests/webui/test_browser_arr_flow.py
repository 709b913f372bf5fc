"""The whole *arr path through the pages, in a real Chromium against a real
``comicsrv serve``: the twin of ``tests/automation/test_end_to_end.py``.

Metron credentials saved on Settings → Metadata; a series added from
replayed Metron answers → its missing issue is wanted; a Torznab indexer
(a replay server on 127.0.0.1) and a real qbittorrent-nox added and tested
from their forms (a wrong password first: the client's own refusal shows at
the Test button) → interactive search lists the release with its reasons →
Grab → the queue row shows the client's progress live → the download check
run from System → Tasks imports it: the queue empties, a toast says so, the
history lists the import and the book is in the library. And an invalid
rename template shows its error next to the field and saves nothing.
"""
from __future__ import annotations

import re

import pytest
import yaml
from playwright.sync_api import expect

from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book, Setting
from comicsrv.models.automation import (
    DL_IMPORTED, DOWNLOADED, Download, DownloadClientConfig, IndexerConfig, WatchedIssue,
)
from comicsrv.settings_store import get_setting, set_setting
from tests.factories import PASSWORD, AdminFactory
from tests.peers import qbittorrent  # noqa: F401 (fixture)
from tests.serving import LiveServer, server_env
from tests.webui.arr_peers import RELEASE, SERIES, make_cbz, metron_server, torznab_server
from tests.webui.conftest import DESKTOP, sign_in

METRON_PASSWORD = "metron-s3cret-password"
INDEXER_KEY = "torznab-api-key-4711"


@pytest.fixture
def arr_site(make_app, database_url, tmp_path, qbittorrent):  # noqa: F811
    """A scanned library holding issue 1, an admin, Metron and a Torznab
    indexer on 127.0.0.1, the release's file where qBittorrent saves, and a
    ``comicsrv serve`` told where Metron is (config.yml)."""
    library_root = tmp_path / "library"
    make_cbz(library_root / f"{SERIES} (2018)" / f"{SERIES} 001 (2018).cbz", SERIES, "1", 2018)
    payload = make_cbz(qbittorrent.downloads / "complete" / f"{RELEASE}.cbz", "Unknown", "", 2018,
                       pages=4)
    app = make_app()
    with app.app_context():
        library = create_library("Comics", str(library_root))
        job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
        assert job.state == "finished", job.error
        AdminFactory(username="admin")
        # The download check runs when the test says (System → Tasks), not on a timer.
        set_setting("automation.monitor_interval_seconds", 3600, None)
    metron = metron_server()
    indexer, info_hash = torznab_server(payload)
    data_dir = tmp_path / "serve"
    data_dir.mkdir()
    (data_dir / "config.yml").write_text(yaml.safe_dump(
        {"metadata_urls": {"metron": metron.url + "/api"}}))
    env = server_env(database_url, sse_keepalive_seconds=1, web_queue_progress_seconds=1)
    server = LiveServer(data_dir, env).start()
    try:
        yield {"server": server, "app": app, "metron": metron, "indexer": indexer,
               "info_hash": info_hash, "payload": payload, "library": library_root,
               "qbittorrent": qbittorrent}
    finally:
        server.stop()
        metron.stop()
        indexer.stop()
        assert "Traceback" not in server.output(), server.output()[-6000:]


def _fill_settings(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f"[name='{name}']", value)


def test_watch_search_grab_and_import_through_the_pages(arr_site, browser_context, screenshots):
    server, app, qbt = arr_site["server"], arr_site["app"], arr_site["qbittorrent"]
    context = browser_context(DESKTOP)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, server.url, "admin", PASSWORD)

    # --- Metron's credentials; the password never comes back --------------------------------
    page.goto(server.url + "/settings/metadata")
    page.fill("#f-metadata-metron-username", "reader")
    page.fill("#f-metadata-metron-password", METRON_PASSWORD)
    page.click("main form >> text=Save")
    expect(page.locator("main")).to_contain_text("Metadata providers saved.")
    expect(page.locator("#f-metadata-metron-password")).to_have_attribute(
        "placeholder", re.compile("Saved"))
    assert METRON_PASSWORD not in page.content()

    # --- an invalid rename template: the field says why, nothing is saved -------------------
    page.goto(server.url + "/settings/media")
    template = page.locator("#f-postprocess-rename-template")
    template.fill("{series.__class__}/{issue}")
    expect(page.locator("#naming-preview")).to_contain_text("plain name")  # the live preview
    page.check("[name='postprocess.convert_to_cbz']")
    page.click("main form >> text=Save")
    expect(page.locator("#f-postprocess-rename-template-error")).to_contain_text("plain name")
    expect(template).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=screenshots / "arr-naming-error-desktop.png", full_page=True)
    with app.app_context():
        assert get_setting("postprocess.rename_template").startswith("{series} ({year})")
        assert get_setting("postprocess.convert_to_cbz") is False  # all or nothing
        assert db.session.get(Setting, "postprocess.convert_to_cbz") is None
    template.fill("{series} ({year})/{series} {issue:03}")
    expect(page.locator("#naming-preview code")).to_have_text("Saga (2012)/Saga 054.cbz")
    page.uncheck("[name='postprocess.convert_to_cbz']")
    page.click("main form >> text=Save")
    expect(page.locator("main")).to_contain_text("Media management saved.")

    # --- add the series: issue 1 is in the library, issue 2 is wanted -------------------------
    page.click("nav.mainnav >> text=Series")
    page.click("main >> text=Add series")
    page.fill("#add-q", "death")
    page.click("main form[role=search] button[type=submit]")
    result = page.locator("li.result", has_text=SERIES)
    expect(result).to_contain_text("2018")
    result.locator("input[name=search_now]").uncheck()
    result.locator("button", has_text=f"Add {SERIES}").click()
    expect(page.locator("h1")).to_contain_text(SERIES)
    expect(page.locator("main")).to_contain_text(f"Watching {SERIES}.")
    rows = page.locator("table.issues tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-state", DOWNLOADED)
    expect(rows.nth(1)).to_have_attribute("data-state", "wanted")
    expect(page.locator(".havebar").first).to_have_attribute("aria-label", "1 of 2 issues")
    page.screenshot(path=screenshots / "arr-series-desktop.png", full_page=True)

    page.click("nav.mainnav >> text=Wanted")
    expect(page.locator("main table tbody tr")).to_have_count(1)
    expect(page.locator("main table tbody")).to_contain_text(f"{SERIES}")
    expect(page.locator("main table tbody")).to_contain_text("#2")

    # --- the Torznab indexer, tested from its form, then saved --------------------------------
    page.goto(server.url + "/settings/indexers")
    page.select_option("#new-kind", "torznab")
    page.get_by_role("button", name="Add", exact=True).click()
    page.fill("#f-name", "Local Torznab")
    _fill_settings(page, {"settings.url": arr_site["indexer"].url,
                          "settings.api_key": INDEXER_KEY})
    page.click("[data-test-button]")
    expect(page.locator("#form-test [data-test-ok]")).to_have_attribute("data-test-ok", "true")
    expect(page.locator("#form-test")).to_contain_text("recent releases")
    page.click("main form >> button:text-is('Save')")
    expect(page.locator("main")).to_contain_text("Added the indexer Local Torznab.")
    assert INDEXER_KEY not in page.content()

    # --- qBittorrent: the wrong password first, its refusal at the Test button -----------------
    page.goto(server.url + "/settings/download-clients")
    page.select_option("#new-kind", "qbittorrent")
    page.get_by_role("button", name="Add", exact=True).click()
    page.fill("#f-name", "qBittorrent")
    _fill_settings(page, {"settings.url": qbt.url, "settings.username": qbt.username,
                          "settings.password": "not the password",
                          "settings.save_path": str(arr_site["payload"].parent)})
    page.click("[data-test-button]")
    expect(page.locator("#form-test [data-test-ok]")).to_have_attribute("data-test-ok", "false")
    expect(page.locator("#form-test")).to_contain_text(
        "qBittorrent rejected the username or password")
    page.screenshot(path=screenshots / "arr-client-test-failed-desktop.png", full_page=True)
    page.fill("[name='settings.password']", qbt.password)
    page.click("[data-test-button]")
    expect(page.locator("#form-test [data-test-ok]")).to_have_attribute("data-test-ok", "true")
    expect(page.locator("#form-test")).to_contain_text("qBittorrent")
    page.click("main form >> button:text-is('Save')")
    expect(page.locator("main")).to_contain_text("Added the download client qBittorrent.")
    assert qbt.password not in page.content()
    with app.app_context():
        client = db.session.execute(db.select(DownloadClientConfig)).scalar_one()
        assert client.settings["password"] == qbt.password and client.category == "comics"
        indexer = db.session.execute(db.select(IndexerConfig)).scalar_one()
        assert indexer.settings["api_key"] == INDEXER_KEY and indexer.protocol == "torrent"

    # --- interactive search: the release with the reasons it was accepted; grab ---------------
    page.goto(server.url + "/watchlist")
    page.click(f".card a:has-text('{SERIES}')")
    page.locator("table.issues tbody tr").nth(1).get_by_role(
        "link", name="Interactive search for #2").click()
    release = page.locator("table.releases tbody tr", has_text=RELEASE)
    expect(release).to_have_class(re.compile("accepted"))
    expect(release.locator(".reasons")).to_contain_text(f"matches {SERIES} #2 by alias")
    expect(release.locator(".reasons")).to_contain_text("format")
    expect(release).to_contain_text("Local Torznab")
    expect(release).to_contain_text("12")  # seeders
    page.screenshot(path=screenshots / "arr-interactive-search-desktop.png", full_page=True)
    release.get_by_role("button", name=f"Grab {RELEASE}").click()
    expect(release).to_contain_text("Grabbed")
    expect(page.locator("#toasts .toast-grabbed")).to_contain_text(f"Grabbed {SERIES} #2")
    expect(page.locator("[data-live-badge]")).to_have_attribute("data-active", "1")

    # --- the queue: the client's progress arrives live -----------------------------------------
    page.click("nav.mainnav >> text=Activity")
    row = page.locator("table.queue tbody tr", has_text=RELEASE)
    expect(row).to_be_visible()
    # qBittorrent finds the file complete; the page learns it over SSE, no reload.
    expect(row).to_have_attribute("data-percent", "100", timeout=60_000)
    expect(row.locator("progress")).to_have_attribute("value", "100")
    page.screenshot(path=screenshots / "arr-queue-desktop.png", full_page=True)

    # --- System → Tasks → run the download check: the import happens -----------------------------
    tasks = context.new_page()
    tasks.goto(server.url + "/system/tasks")
    tasks.get_by_role("button", name="Run now: Check download clients").click()
    expect(tasks.locator("main")).to_contain_text("Check download clients started")
    tasks.close()
    expect(page.locator("[data-empty-queue]")).to_be_visible(timeout=90_000)
    expect(page.locator("#toasts .toast-imported")).to_contain_text(f"Imported {SERIES} #2")
    expect(page.locator("[data-live-badge]")).to_be_hidden()

    # --- history: imported, found by an interactive search, with the book ---------------------------
    page.click("main nav.tabs >> text=History")
    imported = page.locator("table.history tbody tr", has_text=RELEASE)
    expect(imported).to_have_attribute("data-state", DL_IMPORTED)
    expect(imported).to_contain_text("Local Torznab")
    expect(imported).to_contain_text("(manual)")
    page.screenshot(path=screenshots / "arr-history-desktop.png", full_page=True)
    imported.get_by_role("link", name="In the library").click()
    expect(page.locator("h1")).to_contain_text(f"{SERIES} #2")
    with app.app_context():
        download = db.session.execute(db.select(Download)).scalar_one()
        book = db.session.get(Book, download.book_id)
        assert book.path == str(arr_site["library"] / f"{SERIES} (2018)" / f"{SERIES} 002.cbz")
        issue = db.session.get(WatchedIssue, download.watched_issue_id)
        assert (issue.state, issue.book_id) == (DOWNLOADED, book.id)
    # The series page counts it.
    page.goto(server.url + "/watchlist")
    expect(page.locator(".havebar").first).to_have_attribute("aria-label", "2 of 2 issues")
