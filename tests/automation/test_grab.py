"""Grabbing through the real blackhole client into real folders, the release
file served by a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import pytest

from comicsrv.automation.decisions import match, record
from comicsrv.automation.grab import AlreadyGrabbed, GrabFailed, NoDownloadClient, grab
from comicsrv.extensions import db
from comicsrv.hookspecs import Release
from comicsrv.models import Download, DownloadClientConfig, ReleaseDecision
from comicsrv.models.automation import DL_QUEUED, SNATCHED, WANTED
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.factories import DownloadClientConfigFactory, WatchedIssueFactory, WatchedSeriesFactory
from tests.plugins.test_blackhole import TORRENT

TITLE = "Saga 054 (2018) (Digital) (Zone-Empire)"


@pytest.fixture
def server():
    with ReplayServer() as server:
        server.add("GET", "/saga.torrent",
                   Recorded(TORRENT, 200, {"Content-Type": "application/x-bittorrent"}))
        yield server


@pytest.fixture
def issue(app):
    series = WatchedSeriesFactory(name="Saga", year=2012)
    return WatchedIssueFactory(series=series, number="54", number_sort=54.0, cover_date="2018-10-01")


def blackhole(tmp_path, name="Blackhole", **fields):
    watch, done = tmp_path / f"{name}-watch", tmp_path / f"{name}-done"
    watch.mkdir()
    done.mkdir()
    fields = {"kind": "blackhole", "protocol": "torrent", "category": "comics", **fields}
    return DownloadClientConfigFactory(
        name=name,
        settings={"watch_folder": str(watch), "completed_folder": str(done), "settle_seconds": 0},
        **fields)


def release(server, path="/saga.torrent", title=TITLE, protocol="torrent"):
    return Release(title=title, download_url=server.url + path, indexer="Local", protocol=protocol,
                   guid=f"{server.url}/details/1", size=40_000_000)


def test_grab_drops_the_file_records_the_download_and_announces_it(app, server, issue, tmp_path):
    client = blackhole(tmp_path)
    r = release(server)
    decision = match(r, [issue])[0]
    record([decision], "search")
    with app.extensions["comicsrv.events"].subscribe(["release_grabbed"]) as events:
        download = grab(r, issue, decision=decision)
        event = events.get(timeout=2)
    assert (tmp_path / "Blackhole-watch" / f"{TITLE}.torrent").read_bytes() == TORRENT
    assert (download.client_id, download.client_item_id, download.state) == (client.id, TITLE, DL_QUEUED)
    assert (download.guid, download.indexer, download.size, download.score) == (
        r.guid, "Local", 40_000_000, decision.score)
    assert db.session.get(type(issue), issue.id).state == SNATCHED
    assert db.session.get(ReleaseDecision, decision.row.id).grabbed is True
    assert (event.download_id, event.title, event.client, event.watched_issue_id) == (
        download.id, TITLE, "Blackhole", issue.id)


def test_the_same_release_is_never_grabbed_twice(app, server, issue, tmp_path):
    blackhole(tmp_path)
    grab(release(server), issue)
    with pytest.raises(AlreadyGrabbed) as caught:
        grab(release(server, title="another title, same guid"), issue)
    assert caught.value.status == 409
    assert db.session.execute(db.select(db.func.count(Download.id))).scalar() == 1


def test_no_client_for_the_protocol_is_a_clear_4xx_and_nothing_is_snatched(app, server, issue, tmp_path):
    blackhole(tmp_path)
    blackhole(tmp_path, name="Off", enabled=False, protocol="usenet")
    with pytest.raises(NoDownloadClient) as caught:
        grab(release(server, protocol="usenet"), issue)
    assert caught.value.status == 400 and "no enabled download client for usenet" in caught.value.message
    assert db.session.get(type(issue), issue.id).state == WANTED
    assert db.session.execute(db.select(Download)).first() is None


def test_a_client_error_keeps_the_issue_wanted_and_records_the_error(app, server, issue, tmp_path):
    client = blackhole(tmp_path)
    r = release(server, path="/gone.torrent")
    decision = match(r, [issue])[0]
    record([decision], "search")
    with pytest.raises(GrabFailed) as caught:
        grab(r, issue, decision=decision)
    assert "HTTP 404" in caught.value.message
    assert db.session.get(type(issue), issue.id).state == WANTED
    assert db.session.execute(db.select(Download)).first() is None
    assert "HTTP 404" in db.session.get(DownloadClientConfig, client.id).last_error
    row = db.session.get(ReleaseDecision, decision.row.id)
    assert row.grabbed is False and any(r.startswith("grab failed: Blackhole:") for r in row.reasons)


def test_clients_are_tried_by_priority_and_a_broken_one_is_skipped(app, server, issue, tmp_path):
    broken = blackhole(tmp_path, name="Broken", priority=1)
    broken.settings = {**broken.settings, "watch_folder": str(tmp_path / "missing")}
    db.session.commit()
    second = blackhole(tmp_path, name="Second", priority=5)
    blackhole(tmp_path, name="Third", priority=9)
    download = grab(release(server), issue)
    assert download.client_id == second.id
    assert (tmp_path / "Second-watch" / f"{TITLE}.torrent").exists()
    assert not list((tmp_path / "Third-watch").iterdir())
    assert "does not exist" in db.session.get(DownloadClientConfig, broken.id).last_error


def test_a_grab_logs_one_line(app, server, issue, tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="comicsrv")
    blackhole(tmp_path)
    download = grab(release(server), issue)
    assert [r.getMessage() for r in caplog.records if r.name == "comicsrv.automation.grab"] == [
        f"grabbed {TITLE!r} from Local with Blackhole (download {download.id}, issue {issue.id})"]
