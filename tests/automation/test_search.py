"""Searching indexers served by real HTTP servers on 127.0.0.1 (recorded bodies,
and comic answers built around the recorded nzb.su body), deciding, and
grabbing through the real blackhole client."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from comicsrv.automation import search
from comicsrv.automation.search import search_indexers, search_issue
from comicsrv.extensions import db
from comicsrv.hookspecs import SearchQuery
from comicsrv.models import Download, FeedItem, IndexerConfig, ReleaseDecision, WatchedIssue
from comicsrv.models.automation import DL_FAILED, PAUSED, SNATCHED, WANTED
from comicsrv.models.base import utcnow
from comicsrv.settings_store import set_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.automation.indexer_answers import Item, answer
from tests.factories import (
    DownloadClientConfigFactory, DownloadFactory, IndexerConfigFactory, WatchedIssueFactory,
    WatchedSeriesFactory,
)
from tests.plugins.test_blackhole import TORRENT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "indexers"
XML = "application/rss+xml"
SAGA_54 = [
    Item("Saga 053 (2018) (Digital) (Zone-Empire).cbz"),
    Item("Saga 054 (2018) (Digital) (Zone-Empire).cbr", guid="cbr54"),
    Item("Saga 054 (2018) (Digital) (Zone-Empire).cbz", guid="cbz54"),
    Item("Batman Beyond 054 (2018) (Digital) (Zone-Empire).cbz"),
]


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


def torznab(server, name="Local", path="/api", **fields):
    fields = {"kind": "torznab", "protocol": "torrent", **fields}
    return IndexerConfigFactory(
        name=name, settings={"url": server.url, "api_path": path, "api_key": "k",
                             "categories": [7030]}, **fields)


def serve(server, items, path="/api"):
    def respond(request):
        return Recorded.text(answer(items, base=f"{server.url}/files"), XML)
    server.add("GET", path, respond, query={"t": "search"})
    for item in items:  # every release's file is a real .torrent
        server.add("GET", f"/files/getnzb/{item.guid}.nzb",
                   Recorded(TORRENT, 200, {"Content-Type": "application/x-bittorrent"}))


@pytest.fixture
def client(app, tmp_path):
    (tmp_path / "watch").mkdir()
    (tmp_path / "done").mkdir()
    return DownloadClientConfigFactory(
        name="Blackhole", kind="blackhole", protocol="torrent",
        settings={"watch_folder": str(tmp_path / "watch"), "completed_folder": str(tmp_path / "done"),
                  "settle_seconds": 0})


@pytest.fixture
def saga_54(app):
    series = WatchedSeriesFactory(name="Saga", year=2012)
    return WatchedIssueFactory(series=series, number="54", number_sort=54.0, cover_date="2018-10-01",
                               store_date="2018-08-29")


def test_search_fans_out_and_one_failing_indexer_is_recorded_and_skipped(app, server):
    serve(server, SAGA_54, path="/good/api")
    server.add("GET", "/bad/api", Recorded.file(FIXTURES / "sonarr" / "Newznab_unauthorized.xml", XML))
    good = torznab(server, "Good", "/good/api")
    bad = torznab(server, "Bad", "/bad/api")
    outcome = search_indexers(SearchQuery("Saga 054"))
    assert len(outcome.releases) == 4 and {r.indexer for r in outcome.releases} == {"Good"}
    assert outcome.searched == ["Good"]
    assert "Incorrect user credentials" in outcome.errors["Bad"]
    bad = db.session.get(IndexerConfig, bad.id)
    assert bad.failure_count == 1 and "error 100" in bad.last_error
    assert bad.disabled_until is None  # a bad key is reported, not backed off
    assert db.session.get(IndexerConfig, good.id).failure_count == 0


def test_indexers_are_asked_concurrently(app, server):
    # Both answers wait for each other: asked one after the other, the first
    # would time out and fail.
    barrier = threading.Barrier(2, timeout=5)

    def waiting(request):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return Recorded.text("asked one at a time", status=404)
        return Recorded.text(answer(SAGA_54[:1], base=server.url), XML)

    server.add("GET", "/one/api", waiting)
    server.add("GET", "/two/api", waiting)
    torznab(server, "One", "/one/api")
    torznab(server, "Two", "/two/api")
    outcome = search_indexers(SearchQuery("Saga 054"))
    assert outcome.errors == {} and sorted(outcome.searched) == ["One", "Two"]


def test_back_off_grows_and_a_backing_off_indexer_is_not_called(app, server):
    server.add("GET", "/api", Recorded.text("busy", status=429, **{"Retry-After": "1"}))
    row = torznab(server)
    before = utcnow()
    outcome = search_indexers(SearchQuery("x"))
    row = db.session.get(IndexerConfig, row.id)
    assert "HTTP 429" in outcome.errors["Local"]
    assert row.failure_count == 1
    assert timedelta(seconds=59) <= row.disabled_until - before <= timedelta(seconds=62)
    calls = len(server.requests)
    outcome = search_indexers(SearchQuery("x"))
    assert outcome.skipped == ["Local"] and len(server.requests) == calls
    row.disabled_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    search_indexers(SearchQuery("x"))
    row = db.session.get(IndexerConfig, row.id)
    assert row.failure_count == 2
    assert row.disabled_until - utcnow() > timedelta(seconds=110)  # 60 s, then 120 s
    # A success clears the record.
    server.clear()
    serve(server, SAGA_54)
    row.disabled_until = None
    db.session.commit()
    search_indexers(SearchQuery("x"))
    row = db.session.get(IndexerConfig, row.id)
    assert (row.failure_count, row.last_error, row.disabled_until) == (0, None, None)


def test_back_off_counts_the_failures_of_every_process(app, make_app, server):
    """Two processes searched the same indexer from rows read before either
    answer came back: both failures count, and the back-off doubles."""
    server.add("GET", "/api", Recorded.text("busy", status=429, **{"Retry-After": "1"}))
    row_id = torznab(server).id
    other = make_app()
    with other.app_context():
        stale = db.session.get(IndexerConfig, row_id)  # read before the first failure
        assert stale.failure_count == 0 and stale.disabled_until is None
        with app.app_context():  # meanwhile, this process fails and backs off
            search_indexers(SearchQuery("x"))
        outcome = search_indexers(SearchQuery("x"), indexers=[stale])
        assert "HTTP 429" in outcome.errors["Local"]
    db.session.expire_all()
    row = db.session.get(IndexerConfig, row_id)
    assert row.failure_count == 2
    assert row.disabled_until - utcnow() > timedelta(seconds=110)  # 60 s, then 120 s


def test_disabled_and_search_disabled_indexers_are_not_asked(app, server):
    serve(server, SAGA_54)
    torznab(server, "Off", enabled=False)
    torznab(server, "RssOnly", enable_search=False)
    assert search_indexers(SearchQuery("x")).searched == []
    assert server.requests == []


def test_search_issue_decides_and_grabs_the_best_release(app, server, client, saga_54, tmp_path):
    serve(server, SAGA_54)
    torznab(server)
    result = search_issue(saga_54.id)
    assert result["grabbed"] and result["title"] == "Saga 054 (2018) (Digital) (Zone-Empire).cbz"
    assert server.requests[0].query["q"] == "Saga 054"
    assert (tmp_path / "watch" / "Saga 054 (2018) (Digital) (Zone-Empire).cbz.torrent").exists()
    assert db.session.get(WatchedIssue, saga_54.id).state == SNATCHED
    rows = db.session.execute(db.select(ReleaseDecision).order_by(ReleaseDecision.id)).scalars().all()
    assert [(r.title[:12], r.accepted, r.grabbed, r.source) for r in rows] == [
        ("Saga 053 (20", False, False, "search"), ("Saga 054 (20", True, False, "search"),
        ("Saga 054 (20", True, True, "search"), ("Batman Beyon", False, False, "search")]
    assert "issue 053 is not the wanted issue 54" in rows[0].reasons


def test_search_issue_without_grab_and_with_nothing_acceptable(app, server, client, saga_54):
    serve(server, SAGA_54[:1])
    torznab(server)
    result = search_issue(saga_54.id, grab=False)
    assert (result["accepted"], result["grabbed"]) == (0, None)
    # Nothing accepted for "Saga 054": the unpadded number is asked too.
    assert [r.query["q"] for r in server.requests] == ["Saga 054", "Saga 54"]
    assert db.session.get(WatchedIssue, saga_54.id).state == WANTED
    assert db.session.get(WatchedIssue, saga_54.id).last_searched_at is not None


def test_after_a_failed_download_the_next_candidate_is_grabbed(app, server, client, saga_54):
    serve(server, SAGA_54)
    torznab(server)
    DownloadFactory(watched_issue_id=saga_54.id, title="Saga 054 (2018) (Digital) (Zone-Empire).cbz",
                    guid=f"{server.url}/files/details/cbz54", state=DL_FAILED)
    result = search_issue(saga_54.id)
    assert result["title"] == "Saga 054 (2018) (Digital) (Zone-Empire).cbr"


def test_no_second_grab_while_a_download_is_active(app, server, client, saga_54):
    serve(server, SAGA_54)
    torznab(server)
    DownloadFactory(watched_issue_id=saga_54.id, title="something else")
    result = search_issue(saga_54.id)
    assert result["grabbed"] is None and "still queued" in result["grab_error"]


def test_search_wanted_job_spaces_searches_and_skips_unreleased_and_paused(
        app, server, client, saga_54, admin, monkeypatch):
    serve(server, SAGA_54)
    torznab(server)
    series = saga_54.series
    WatchedIssueFactory(series=series, number="55", number_sort=55.0, store_date="2999-01-01")
    WatchedIssueFactory(series=series, number="56", number_sort=56.0)  # no date: searched
    paused = WatchedSeriesFactory(name="Paused", status=PAUSED)
    WatchedIssueFactory(series=paused, number="1", number_sort=1.0)
    set_setting("automation.search_spacing_seconds", 7, admin.id)
    waits = []
    monkeypatch.setattr(search, "sleep", waits.append)
    job = app.extensions["comicsrv.jobs"].run_now("automation.search_wanted")
    assert job.state == "finished"
    assert job.result == {"searched": 2, "grabbed": 1, "failed": 0}
    assert waits == [7.0]
    assert {r.query["q"] for r in server.requests if r.path == "/api"} >= {"Saga 054", "Saga 056"}
    assert (job.progress_current, job.progress_total) == (2, 2)


def test_rss_job_keeps_new_items_matches_and_grabs_once(app, server, client, saga_54):
    serve(server, SAGA_54)
    torznab(server, enable_search=False)
    runner = app.extensions["comicsrv.jobs"]
    job = runner.run_now("automation.rss")
    assert job.result["new"] == 4 and len(job.result["grabbed"]) == 1
    assert "q" not in server.requests[0].query
    items = db.session.execute(db.select(FeedItem).order_by(FeedItem.id)).scalars().all()
    assert [i.watched_issue_id for i in items] == [None, saga_54.id, saga_54.id, None]
    assert items[1].parsed["number"] == "054"
    download = db.session.execute(db.select(Download)).scalar_one()
    assert download.title.endswith(".cbz")
    sources = set(db.session.execute(db.select(ReleaseDecision.source)).scalars())
    assert sources == {"rss"}
    # The same feed again: nothing new, nothing grabbed twice.
    job = runner.run_now("automation.rss")
    assert (job.result["new"], job.result["grabbed"]) == (0, [])
    assert db.session.execute(db.select(db.func.count(FeedItem.id))).scalar() == 4
    assert db.session.execute(db.select(IndexerConfig.last_rss_at)).scalar() is not None
