"""Every *arr page in a real Chromium against one ``comicsrv serve`` shared
by this module, filled with what a running server has (watched series in
every state, a queue, history, a blocklist, indexers one of them synced
from Prowlarr, clients, mappings, feeds, targets, users, tasks): axe-core's
check finds no serious or critical violation at desktop and at phone
width, every page is photographed at both, and nothing overflows a 360 px
screen sideways except inside a scrolling table.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import yaml
from playwright.sync_api import expect

from comicsrv.app import create_app
from comicsrv.automation.metadata_links import link_books
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Job
from comicsrv.models.automation import (
    DL_DOWNLOADING, DL_FAILED, DL_IMPORTED, DL_PAUSED, DOWNLOADED, SKIPPED, SNATCHED, WANTED,
    BlockedRelease, ReleaseDecision, RemotePathMapping, StoryArc, StoryArcIssue,
)
from comicsrv.settings_store import set_setting
from tests.conftest import _empty_tables
from tests.factories import (
    PASSWORD, AdminFactory, DownloadClientConfigFactory, DownloadFactory, IndexerConfigFactory,
    NotificationTargetFactory, UserFactory, WatchedIssueFactory, WatchedSeriesFactory,
)
from tests.serving import LiveServer, server_env
from tests.webui.arr_peers import SERIES, make_cbz, metron_server
from tests.webui.conftest import DESKTOP, PHONE, describe, serious_violations, sign_in

UNREACHABLE = "http://127.0.0.1:9"


def _seed(app, library_root) -> dict[str, int]:
    today = date.today()
    make_cbz(library_root / "Saga (2012)" / "Saga 001 (2012).cbz", "Saga", "1", 2012)
    library = create_library("Comics", str(library_root))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    admin = AdminFactory(username="admin")
    UserFactory(username="reader", library_ids=[library.id])
    set_setting("metadata.metron_username", "reader", None)
    set_setting("metadata.metron_password", "metron-password", None)

    saga = WatchedSeriesFactory(name="Saga", sort_name="saga", year=2012, publisher="Image",
                                provider_id="7001", aliases=["Saga (Image)"],
                                exclude_terms=["Variant"], formats=["cbz", "cbr"])
    states = [DOWNLOADED, WANTED, WANTED, SNATCHED, SKIPPED]
    issues = []
    for number, state in enumerate(states, start=1):
        released = (today - timedelta(days=400 - number * 30)).isoformat()
        issues.append(WatchedIssueFactory(series=saga, number=str(number), number_sort=number,
                                          state=state, store_date=released,
                                          title=f"Chapter {number}"))
    for number in (6, 7):  # announced, not out yet
        WatchedIssueFactory(series=saga, number=str(number), number_sort=number, state=WANTED,
                            store_date=(today + timedelta(days=3 * number)).isoformat())
    link_books(saga.id)  # issue 1 is the library's book
    WatchedSeriesFactory(name="Paper Girls", sort_name="paper girls", status="paused",
                         publisher="Image", year=2015)
    arc = StoryArc(provider="metron", provider_id="177", name="The War for Phang")
    db.session.add(arc)
    for position, issue in enumerate(issues[:3], start=1):
        arc.entries.append(StoryArcIssue(position=position, provider_issue_id=issue.provider_id,
                                         series_name="Saga", number=issue.number,
                                         watched_issue_id=issue.id))
    arc.entries.append(StoryArcIssue(position=4, provider_issue_id="999", series_name="Other",
                                     number="1"))

    indexer = IndexerConfigFactory(name="NZB Indexer", kind="newznab",
                                   settings={"url": UNREACHABLE, "api_key": "indexer-key"},
                                   last_error="NZB Indexer: cannot reach http://127.0.0.1:9/api")
    IndexerConfigFactory(name="Synced Torznab", kind="torznab", protocol="torrent",
                         managed_by="prowlarr",
                         settings={"url": UNREACHABLE + "/1", "api_key": "prowlarr-key"})
    IndexerConfigFactory(name="Comics feed", kind="rss", protocol="torrent",
                         enable_search=False,
                         settings={"url": UNREACHABLE + "/feed.xml", "protocol": "torrent"})
    client = DownloadClientConfigFactory(name="qBittorrent", kind="qbittorrent",
                                         category="comics",
                                         settings={"url": UNREACHABLE, "username": "admin",
                                                   "password": "client-password"})
    db.session.add(RemotePathMapping(download_client_id=client.id, remote_path="/downloads",
                                     local_path=str(library_root)))
    NotificationTargetFactory(name="Discord", kind="apprise",
                              settings={"urls": ["discord://webhook-id/webhook-token"]},
                              events=["grabbed", "failed"])
    NotificationTargetFactory(name="Home Assistant", kind="webhook",
                              settings={"url": UNREACHABLE + "/hook"})

    DownloadFactory(title="Saga 004 (2018) (Digital) (Zone-Empire)", watched_issue_id=issues[3].id,
                    client_id=client.id, client_item_id="a" * 40, state=DL_DOWNLOADING,
                    progress=0.42, size=48_000_000, indexer=indexer.name)
    DownloadFactory(title="Saga 003 (2018) (Digital)", watched_issue_id=issues[2].id,
                    client_id=client.id, client_item_id="b" * 40, state=DL_PAUSED, progress=0.1,
                    size=40_000_000, indexer=indexer.name)
    DownloadFactory(title="Saga 001 (2012) (Digital) (Zone-Empire)", watched_issue_id=issues[0].id,
                    client_id=client.id, state=DL_IMPORTED, progress=1.0, indexer=indexer.name,
                    size=45_000_000)
    DownloadFactory(title="Saga 002 (2012) (c2c)", watched_issue_id=issues[1].id,
                    client_id=client.id, state=DL_FAILED, indexer=indexer.name,
                    error="qBittorrent reports the torrent's files are missing")
    db.session.add(BlockedRelease(title="Saga 002 (2012) (c2c)", indexer=indexer.name,
                                  reason="qBittorrent reports the torrent's files are missing",
                                  watched_issue_id=issues[1].id))
    for title, accepted, reasons in (
            ("Saga 002 (2012) (Digital) (Zone-Empire)", True,
             ["matches Saga #2 by alias 'saga'", "format cbz is preference 1 of 2"]),
            ("Saga 002 (2012) (c2c)", False, ["the release is blocklisted"]),
            ("Saga Variant 002 (2012)", False, ["the title contains the excluded term 'Variant'"])):
        db.session.add(ReleaseDecision(watched_issue_id=issues[1].id, title=title, guid=title,
                                       indexer=indexer.name, source="manual", accepted=accepted,
                                       score=150 if accepted else 0, reasons=reasons,
                                       download_url=UNREACHABLE + "/get", protocol="usenet",
                                       size=44_000_000, published=None))
    db.session.add(Job(type="automation.rss", state="finished", target="automation.rss",
                       progress_message="3 new releases, 0 grabbed"))
    db.session.add(Job(type="library.scan", state="running", progress_current=3,
                       progress_total=10, progress_message="reading files"))
    db.session.commit()
    return {"series": saga.id, "issue": issues[1].id, "arc": arc.id, "indexer": indexer.id,
            "client": client.id, "user": admin.id}


@pytest.fixture(scope="module")
def arr_server(database_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("arr-site")
    app = create_app({"DATA_DIR": str(root / "data"), "DATABASE_URL": database_url,
                      "AUTO_MIGRATE": False, "SCHEDULER_ENABLED": False, "TESTING": True})
    metron = server = None
    try:  # the tables are emptied however the start goes: the next module needs them so
        with app.app_context():
            ids = _seed(app, root / "comics")
        metron = metron_server()
        (root / "serve").mkdir()
        (root / "serve" / "config.yml").write_text(yaml.safe_dump(
            {"metadata_urls": {"metron": metron.url + "/api"}}))
        env = server_env(database_url, scheduler_enabled="false")
        server = LiveServer(root / "serve", env).start()
        yield server, ids
    finally:
        if server is not None:
            server.stop()
        if metron is not None:
            metron.stop()
        with app.app_context():
            _empty_tables()
            db.engine.dispose()
    if server is not None:
        assert "Traceback" not in server.output(), server.output()[-6000:]


PAGES = {  # name: path (filled with the seeded ids)
    "series-grid": "/watchlist",
    "series-table": "/watchlist?view=table",
    "series-add": "/watchlist/add?q=death",
    "series-detail": "/watchlist/{series}",
    "series-rules": "/watchlist/{series}/edit",
    "series-delete": "/watchlist/{series}/delete",
    "interactive-search": "/watchlist/issues/{issue}/releases",
    "story-arcs": "/watchlist/arcs",
    "story-arc": "/watchlist/arcs/{arc}",
    "wanted": "/wanted",
    "upcoming": "/wanted/upcoming",
    "queue": "/activity",
    "history": "/activity/history",
    "blocklist": "/activity/blocklist",
    "settings-media": "/settings/media",
    "settings-libraries": "/settings/libraries",
    "settings-metadata": "/settings/metadata",
    "settings-indexers": "/settings/indexers",
    "settings-indexer": "/settings/indexers/{indexer}",
    "settings-indexer-new": "/settings/indexers/new?kind=torznab",
    "settings-clients": "/settings/download-clients",
    "settings-client": "/settings/download-clients/{client}",
    "settings-rss": "/settings/rss",
    "settings-notifications": "/settings/notifications",
    "settings-notification-new": "/settings/notifications/new?kind=webhook",
    "settings-general": "/settings/general",
    "settings-users": "/settings/users",
    "settings-user": "/settings/users/{user}",
    "system-status": "/system",
    "system-tasks": "/system/tasks",
    "system-logs": "/system/logs",
    "system-wizard": "/system/wizard",
}


@pytest.mark.parametrize("viewport_name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_arr_pages_pass_axe_fit_the_screen_and_are_photographed(
        arr_server, browser_context, screenshots, viewport_name, viewport):
    server, ids = arr_server
    page = browser_context(viewport).new_page()
    sign_in(page, server.url, "admin", PASSWORD)
    found, overflowing = {}, {}
    for name, path in PAGES.items():
        response = page.goto(server.url + path.format(**ids))
        assert response.status == 200, (name, response.status, page.content()[:2000])
        page.wait_for_load_state("networkidle")
        if name == "queue":  # the live rows have replaced the first ones
            expect(page.locator("table.queue tbody tr")).to_have_count(2)
        found[name] = serious_violations(page)
        # Wider than the screen only inside a scrolling table wrapper.
        wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > innerWidth + 1
                     && !e.closest('.tablewrap') && getComputedStyle(e).position !== 'fixed')
            .slice(0, 5).map(e => e.tagName + '.' + e.className)""")
        if wide or page.evaluate("document.documentElement.scrollWidth > innerWidth + 1"):
            overflowing[name] = wide
        page.screenshot(path=screenshots / f"arr-{name}-{viewport_name}.png", full_page=True)
    bad = {name: v for name, v in found.items() if v}
    assert not bad, describe(bad)
    assert not overflowing, overflowing


def test_a_plain_user_sees_no_arr_page(arr_server, browser_context):
    server, ids = arr_server
    page = browser_context(DESKTOP).new_page()
    sign_in(page, server.url, "reader", PASSWORD)
    nav = page.locator("nav.mainnav")
    for label in ("Series", "Wanted", "Activity", "Settings", "System"):
        expect(nav).not_to_contain_text(label)
    for path in ("/watchlist", "/wanted", "/activity", "/settings/general", "/system",
                 "/live/events"):
        assert page.goto(server.url + path).status == 403, path
    assert page.locator('meta[name="live-events"]').count() == 0


def test_the_add_page_lists_metron_results_and_series_show_their_covers(arr_server,
                                                                         browser_context):
    server, ids = arr_server
    page = browser_context(DESKTOP).new_page()
    sign_in(page, server.url, "admin", PASSWORD)
    page.goto(server.url + "/watchlist/add?q=death")
    expect(page.locator("li.result")).to_contain_text(SERIES)
    expect(page.locator("li.result")).to_contain_text("2018")
    # Saga lives in the library: its cover is its first book's, served locally.
    page.goto(server.url + "/watchlist")
    cover = page.locator(".card", has_text="Saga").locator("img.cover")
    expect(cover).to_have_attribute("src", re.compile(r"^/api/v1/books/\d+/thumbnail\?size=360$"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
