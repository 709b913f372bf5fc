"""``/api/downloads``: history, queue, post-processing, requeue, direct
downloads and cancel through the real pipeline services, the real blackhole
client and folders, and a local Torznab indexer on 127.0.0.1."""
from __future__ import annotations

from pathlib import Path

import pytest

from comicsrv.extensions import db
from comicsrv.models import Book, Job
from comicsrv.models.automation import BlockedRelease, Download, WatchedIssue
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.automation.test_postprocess import CBZ, library, make_download  # noqa: F401
from tests.automation.test_search import SAGA_54, serve, torznab
from tests.factories import (
    DownloadClientConfigFactory, DownloadFactory, WatchedIssueFactory, WatchedSeriesFactory,
    api_key_for,
)
from tests.peers import qbittorrent  # noqa: F401 (fixture)


@pytest.fixture
def headers(admin):
    return {"X-Api-Key": api_key_for(admin, ["SystemAdmin"])}


@pytest.fixture
def blackhole(app, tmp_path):
    (tmp_path / "watch").mkdir()
    (tmp_path / "done").mkdir()
    return DownloadClientConfigFactory(
        name="Blackhole", kind="blackhole", protocol="torrent",
        settings={"watch_folder": str(tmp_path / "watch"),
                  "completed_folder": str(tmp_path / "done"), "settle_seconds": 0})


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


def _wait(app, job_id):
    assert app.extensions["comicsrv.jobs"].wait(job_id, 60)
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_queue_and_history_split_active_from_finished_and_clear_keeps_active(client, headers):
    active = DownloadFactory(state="downloading", progress=0.42)
    queued = DownloadFactory(state="queued")
    done = DownloadFactory(state="imported", progress=1.0)
    failed = DownloadFactory(state="failed", error="dead torrent")
    queue = client.get("/api/downloads/queue", headers=headers).json
    assert queue["success"] is True
    assert [(r["id"], r["progress"]) for r in queue["data"]["results"]] == [
        (active.id, 0.42), (queued.id, 0.0)]
    assert queue["data"]["total"] == 2 and queue["data"]["has_more"] is False
    history = client.get("/api/downloads/history", headers=headers,
                         query_string={"limit": 1}).json["data"]
    assert history["total"] == 2 and history["has_more"] is True and len(history["results"]) == 1
    assert {r["id"] for r in client.get("/api/downloads/history", headers=headers)
            .json["data"]["results"]} == {done.id, failed.id}
    cleared = client.delete("/api/downloads/history", headers=headers)
    assert cleared.status_code == 200 and cleared.json["data"]["deleted"] == 2
    db.session.expire_all()
    assert {d.id for d in db.session.execute(db.select(Download)).scalars()} == {active.id, queued.id}


def test_process_one_download_imports_it_into_the_library(app, client, headers, tmp_path, library):
    download, issue, _ = make_download(tmp_path, library)
    answer = client.post("/api/downloads/process", headers=headers,
                         json={"download_id": download.id})
    assert answer.status_code == 202, answer.json
    job = _wait(app, answer.json["data"]["job_id"])
    assert job.state == "finished", job.error
    assert db.session.get(Download, download.id).state == "imported"
    assert db.session.execute(db.select(Book)).scalars().first() is not None


def test_process_without_a_download_runs_the_monitor_which_hands_over(
        app, client, headers, blackhole, tmp_path, library):
    download, _, folder = make_download(tmp_path, library)
    # The blackhole's completed folder holds the finished download.
    target = Path(blackhole.settings["completed_folder"]) / folder.name
    folder.rename(target)
    download.client_id, download.client_item_id = blackhole.id, folder.name
    db.session.commit()
    answer = client.post("/api/downloads/process", headers=headers)
    assert answer.status_code == 202
    job = _wait(app, answer.json["data"]["job_id"])
    assert job.type == "automation.monitor_downloads" and job.result["handed_over"] == 1
    row = db.session.get(Download, download.id)
    assert row.job_id and _wait(app, row.job_id).state == "finished"
    assert db.session.get(Download, download.id).state == "imported"


def test_process_an_unknown_download_is_404_in_the_envelope(client, headers):
    answer = client.post("/api/downloads/process", headers=headers, json={"download_id": 999})
    assert answer.status_code == 404 and answer.json["error"]["code"] == 404


def test_requeue_a_failed_download_wants_the_issue_and_grabs_the_next_candidate(
        client, headers, server, blackhole):
    serve(server, SAGA_54)
    torznab(server)
    series = WatchedSeriesFactory(name="Saga", year=2012)
    issue = WatchedIssueFactory(series=series, number="54", number_sort=54.0,
                                cover_date="2018-10-01", store_date="2018-08-29", state="snatched")
    failed = DownloadFactory(watched_issue_id=issue.id, state="failed",
                             title="Saga 054 (2018) (Digital) (Zone-Empire).cbz",
                             guid=f"{server.url}/files/details/cbz54")
    db.session.add(BlockedRelease(title=failed.title, guid=failed.guid, reason="failed"))
    db.session.commit()
    answer = client.post(f"/api/downloads/{failed.id}/requeue", headers=headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["data"]["search"]["title"] == "Saga 054 (2018) (Digital) (Zone-Empire).cbr"
    db.session.expire_all()
    assert db.session.get(WatchedIssue, issue.id).state == "snatched"
    assert db.session.execute(db.select(BlockedRelease)).scalars().one().title == failed.title
    # Only a failed download is requeued.
    again = client.post(f"/api/downloads/{failed.id + 1}/requeue", headers=headers)
    assert again.status_code == 409 and "only a failed download" in again.json["error"]["message"]


def test_cancel_removes_the_download_at_its_client_and_wants_the_issue(
        client, headers, blackhole, tmp_path):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="1",
                                state="snatched")
    (tmp_path / "watch" / "Saga 001.torrent").write_bytes(b"d4:infod4:name1:xee")
    download = DownloadFactory(watched_issue_id=issue.id, client_id=blackhole.id,
                               client_item_id="Saga 001")
    answer = client.delete(f"/api/downloads/{download.id}", headers=headers)
    assert answer.status_code == 200 and answer.json["data"]["state"] == "removed"
    assert not (tmp_path / "watch" / "Saga 001.torrent").exists()
    db.session.expire_all()
    assert db.session.get(WatchedIssue, issue.id).state == "wanted"
    assert client.delete("/api/downloads/4242", headers=headers).status_code == 404


def test_ddl_downloads_the_file_into_the_completed_folder_and_imports_it(
        app, client, headers, server, blackhole, tmp_path, library):
    server.add("GET", "/get/42", Recorded(CBZ.read_bytes(), 200, {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": 'attachment; filename="Saga 001 (2012) (digital).cbz"'}))
    series = WatchedSeriesFactory(name="Saga", year=2012, publisher="Image", library_id=library.id)
    issue = WatchedIssueFactory(series=series, number="1", number_sort=1.0, state="wanted",
                                cover_date="2012-03-14")
    answer = client.post("/api/downloads/ddl", headers=headers,
                         json={"url": f"{server.url}/get/42", "issue_id": issue.id})
    assert answer.status_code == 201, answer.json
    data = answer.json["data"]
    assert data["title"] == "Saga 001 (2012) (digital).cbz" and data["protocol"] == "ddl"
    assert data["save_path"] == str(tmp_path / "done" / "Saga 001 (2012) (digital).cbz")
    job = _wait(app, data["job_id"])
    assert job.state == "finished", job.error
    assert db.session.get(Download, data["id"]).state == "imported"
    assert db.session.get(WatchedIssue, issue.id).state == "downloaded"


def test_ddl_refuses_what_it_cannot_do_properly(client, headers, server, blackhole, tmp_path):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="1")
    server.add("GET", "/page.html", Recorded(b"<html></html>", 200, {"Content-Type": "text/html"}))
    server.add("GET", "/gone.cbz", Recorded(b"", 404, {}))
    url = server.url
    cases = [({"url": f"{url}/page.html", "issue_id": issue.id}, 400, "not a comic file"),
             ({"url": f"{url}/gone.cbz", "issue_id": issue.id}, 503, "HTTP 404"),
             ({"url": f"{url}/x.cbz", "issue_id": 99999}, 404, "Issue 99999"),
             ({"url": "ftp://example.invalid/x.cbz", "issue_id": issue.id}, 400, "Not a valid URL")]
    for body, status, message in cases:
        answer = client.post("/api/downloads/ddl", headers=headers, json=body)
        assert answer.status_code == status, (body, answer.json)
        assert answer.json["success"] is False
        if message:
            assert message in answer.json["error"]["message"]
    # Nothing half-written was left behind.
    assert list((tmp_path / "done").iterdir()) == []


def test_ddl_without_a_blackhole_client_says_so(client, headers, app):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="1")
    answer = client.post("/api/downloads/ddl", headers=headers,
                         json={"url": "http://127.0.0.1:9/x.cbz", "issue_id": issue.id})
    assert answer.status_code == 400 and "blackhole" in answer.json["error"]["message"]


def test_every_downloads_route_wants_an_api_key(client):
    answer = client.get("/api/downloads/queue")
    assert answer.status_code == 401 and answer.json["success"] is False


def test_queue_and_cancel_against_a_real_qbittorrent(app, client, headers, qbittorrent, tmp_path):
    """A grabbed torrent whose data is nowhere stays downloading at
    qbittorrent-nox: the monitor (POST /process) puts it in the queue, and
    cancel removes it from qbittorrent itself."""
    from comicsrv.automation.grab import grab
    from comicsrv.hookspecs import Release
    from comicsrv_plugins.qbittorrent import QBittorrent
    from tests.plugins.test_qbittorrent import comic_torrent, served, wait_for

    _, torrent, info_hash = comic_torrent(tmp_path / "elsewhere")
    empty = qbittorrent.downloads / "empty"
    empty.mkdir()
    DownloadClientConfigFactory(name="qBittorrent", kind="qbittorrent", protocol="torrent",
                                category="comics",
                                settings=qbittorrent.settings(save_path=str(empty)))
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Captain Science"), number="1",
                                state="wanted")
    with served(torrent) as server:
        download = grab(Release(title="Captain Science 001 (1950)", indexer="local",
                                download_url=f"{server.url}/download/1.torrent",
                                protocol="torrent"), issue)
    assert download.client_item_id == info_hash
    peer = QBittorrent(qbittorrent.settings())
    wait_for(lambda: peer.status([info_hash]), what="qbittorrent to list the torrent")

    def monitored_state():
        job_id = client.post("/api/downloads/process", headers=headers).json["data"]["job_id"]
        _wait(app, job_id)
        results = client.get("/api/downloads/queue", headers=headers).json["data"]["results"]
        return results and results[0]["state"] == "downloading" and results[0]

    queued = wait_for(monitored_state, what="the monitor to see it downloading")
    assert queued["id"] == download.id and queued["client_item_id"] == info_hash
    answer = client.delete(f"/api/downloads/{download.id}", headers=headers,
                           query_string={"delete_files": "true"})
    assert answer.status_code == 200 and answer.json["data"]["state"] == "removed"
    wait_for(lambda: not peer.status([info_hash]), what="qbittorrent to drop the torrent")
    db.session.expire_all()
    assert db.session.get(WatchedIssue, issue.id).state == "wanted"
    assert client.get("/api/downloads/queue", headers=headers).json["data"]["total"] == 0
