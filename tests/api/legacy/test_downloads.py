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


def test_queue_and_history_rows_use_comicarr_and_mylar_names_and_words(client, headers):
    series = WatchedSeriesFactory(name="Saga", year=2012, provider_id="4050-69", publisher="Image")
    issue = WatchedIssueFactory(series=series, number="54", provider_id="6543")
    active = DownloadFactory(state="downloading", progress=0.42, watched_issue_id=issue.id,
                             title="Saga 054 (2018)", size=41_000_000, indexer="nzb.su",
                             protocol="torrent", client_item_id="abcdef",
                             download_url="http://127.0.0.1:9/get?apikey=s3cret&id=1")
    queued = DownloadFactory(state="queued")
    done = DownloadFactory(state="imported", progress=1.0, watched_issue_id=issue.id,
                           save_path="/comics/Saga/Saga 054 (2018).cbz")
    failed = DownloadFactory(state="failed", error="dead torrent")
    queue = client.get("/api/downloads/queue", headers=headers).json
    assert queue["success"] is True
    rows = queue["data"]["results"]
    assert [(r["ID"], r["status"], r["progress"]) for r in rows] == [
        (active.id, "Downloading", 0.42), (queued.id, "Queued", 0.0)]
    assert {k: rows[0][k] for k in ("series", "year", "filename", "issueid", "comicid", "issues",
                                    "site", "link_type", "size")} == {
        "series": "Saga", "year": 2012, "filename": "Saga 054 (2018)", "issueid": "6543",
        "comicid": "4050-69", "issues": "54", "site": "nzb.su", "link_type": "torrent",
        "size": 41_000_000}
    assert rows[0]["link"] == "http://127.0.0.1:9/get?apikey=********&id=1"
    assert queue["data"]["total"] == 2 and queue["data"]["has_more"] is False

    # The history is every download, newest first, as Mylar's snatched table.
    history = client.get("/api/downloads/history", headers=headers).json["data"]
    assert history["total"] == 4
    by_id = {r["id"]: r for r in history["results"]}
    assert by_id[done.id] == {
        "IssueID": "6543", "ComicName": "Saga", "Issue_Number": "54", "Size": done.size,
        "DateAdded": by_id[done.id]["DateAdded"], "Status": "Post-Processed",
        "FolderName": "Saga 054 (2018).cbz", "ComicID": "4050-69", "Provider": done.indexer,
        "Hash": None, "crc": None, "id": done.id, "progress": 1.0, "error": None,
        "BookID": None}
    assert by_id[active.id]["Status"] == "Snatched" and by_id[active.id]["Hash"] == "abcdef"
    assert by_id[failed.id]["Status"] == "Failed" and by_id[failed.id]["error"] == "dead torrent"
    paged = client.get("/api/downloads/history", headers=headers,
                       query_string={"limit": 1}).json["data"]
    assert paged["total"] == 4 and paged["has_more"] is True and len(paged["results"]) == 1

    # Clearing by status, then all finished ones; active downloads stay.
    only_failed = client.delete("/api/downloads/history", headers=headers,
                                query_string={"status": "Failed"})
    assert only_failed.status_code == 200 and only_failed.json["data"]["deleted"] == 1
    cleared = client.delete("/api/downloads/history", headers=headers)
    assert cleared.status_code == 200 and cleared.json["data"]["deleted"] == 1
    db.session.expire_all()
    assert {d.id for d in db.session.execute(db.select(Download)).scalars()} == {active.id, queued.id}
    bad = client.delete("/api/downloads/history", headers=headers, query_string={"status": "Snatched"})
    assert bad.status_code == 400 and bad.json["success"] is False


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


def test_process_as_mylars_scripts_send_it_imports_the_named_download(
        app, client, headers, tmp_path, library):
    """autoProcessComics/ComicRN: the job's name at SABnzbd and the folder
    it was unpacked into; the download is found by its client's name."""
    download, issue, folder = make_download(tmp_path, library)
    download.state, download.client_item_id, download.save_path = "downloading", "SABnzbd_nzo_1", None
    db.session.commit()
    answer = client.post("/api/downloads/process", headers=headers, json={
        "nzb_name": "SABnzbd_nzo_1", "nzb_folder": str(folder), "failed": False,
        "apc_version": "2.04", "comicrn_version": "1.01"})
    assert answer.status_code == 202, answer.json
    data = answer.json["data"]
    assert data["download_id"] == download.id and data["outcome"] == "success"
    assert _wait(app, data["job_id"]).state == "finished"
    assert db.session.get(Download, download.id).state == "imported"
    assert db.session.get(WatchedIssue, issue.id).state == "downloaded"


def test_process_goes_through_the_clients_remote_path_mapping(
        app, client, headers, tmp_path, library, blackhole):
    from comicsrv.models.automation import RemotePathMapping

    download, _, folder = make_download(tmp_path, library)
    download.client_id, download.state = blackhole.id, "downloading"
    db.session.add(RemotePathMapping(download_client_id=blackhole.id, remote_path="/data/done",
                                     local_path=str(folder.parent)))
    db.session.commit()
    answer = client.post("/api/downloads/process", headers=headers, json={
        "nzb_name": download.title, "nzb_folder": f"/data/done/{folder.name}"})
    assert answer.status_code == 202, answer.json
    assert db.session.get(Download, download.id).save_path == str(folder)
    assert _wait(app, answer.json["data"]["job_id"]).state == "finished"


def test_process_a_failed_job_fails_the_download_and_wants_the_issue(client, headers, tmp_path,
                                                                     library):
    download, issue, folder = make_download(tmp_path, library)
    download.state, download.client_item_id = "downloading", "SABnzbd_nzo_2"
    db.session.commit()
    answer = client.post("/api/downloads/process", headers=headers, json={
        "nzb_name": "SABnzbd_nzo_2", "nzb_folder": str(folder), "failed": 1})
    assert answer.status_code == 202 and answer.json["data"]["outcome"] == "failure"
    db.session.expire_all()
    assert db.session.get(Download, download.id).state == "failed"
    assert db.session.get(WatchedIssue, issue.id).state == "wanted"
    assert db.session.execute(db.select(BlockedRelease)).scalars().one().title == download.title


def test_process_a_job_comicsrv_did_not_grab_for_the_issue_it_names(
        app, client, headers, tmp_path, library):
    download, issue, folder = make_download(tmp_path, library)
    db.session.delete(download)
    issue.provider_id = "4000-98765"[5:]
    db.session.commit()
    nameless = client.post("/api/downloads/process", headers=headers, json={
        "nzb_name": "Saga 1 from elsewhere", "nzb_folder": str(folder)})
    assert nameless.status_code == 404 and "issueid" in nameless.json["error"]["message"]
    answer = client.post("/api/downloads/process", headers=headers, json={
        "nzb_name": "Saga 1 from elsewhere", "nzb_folder": str(folder), "issueid": "4000-98765"})
    assert answer.status_code == 202, answer.json
    assert _wait(app, answer.json["data"]["job_id"]).state == "finished"
    assert db.session.get(WatchedIssue, issue.id).state == "downloaded"
    made = db.session.get(Download, answer.json["data"]["download_id"])
    assert made.indexer == "manual" and made.state == "imported"


def test_process_refuses_a_folder_that_is_not_there(client, headers, tmp_path, library):
    download, _, _ = make_download(tmp_path, library)
    answer = client.post("/api/downloads/process", headers=headers, json={
        "nzb_name": download.title, "nzb_folder": str(tmp_path / "nowhere")})
    assert answer.status_code == 400 and "does not exist" in answer.json["error"]["message"]
    assert db.session.get(Download, download.id).state == "completed"


def test_mylars_force_process_command_with_post_and_query_parameters(
        app, client, headers, tmp_path, library, admin):
    """nzbToMylar: POST /api?cmd=forceProcess&apikey=...&nzb_folder=...&nzb_name=...&failed=0."""
    download, _, folder = make_download(tmp_path, library)
    download.state, download.client_item_id = "downloading", "Saga.1.2012.nzb"
    db.session.commit()
    key = api_key_for(admin, ["SystemAdmin"])
    answer = client.post("/api", query_string={
        "cmd": "forceProcess", "apikey": key, "nzb_folder": str(folder),
        "nzb_name": "Saga.1.2012", "failed": "0", "apc_version": "2.04",
        "comicrn_version": "1.01"})
    assert answer.status_code == 200, answer.json
    assert answer.json["data"]["download_id"] == download.id
    assert _wait(app, answer.json["data"]["job_id"]).state == "finished"
    assert db.session.get(Download, download.id).state == "imported"


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
    assert answer.status_code == 200 and answer.json["data"]["status"] == "Removed"
    assert not (tmp_path / "watch" / "Saga 001.torrent").exists()
    db.session.expire_all()
    assert db.session.get(WatchedIssue, issue.id).state == "wanted"
    assert client.delete("/api/downloads/4242", headers=headers).status_code == 404


def test_ddl_takes_comicarrs_id_link_site_and_fetches_in_the_background(
        app, client, headers, server, blackhole, tmp_path, library):
    server.add("GET", "/get/42", Recorded(CBZ.read_bytes(), 200, {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": 'attachment; filename="Saga 001 (2012) (digital).cbz"'}))
    series = WatchedSeriesFactory(name="Saga", year=2012, publisher="Image", library_id=library.id,
                                  provider_id="69")
    issue = WatchedIssueFactory(series=series, number="1", number_sort=1.0, state="wanted",
                                cover_date="2012-03-14", provider_id="111")
    answer = client.post("/api/downloads/ddl", headers=headers, json={
        "id": "4000-111", "link": f"{server.url}/get/42", "site": "DDL(GetComics)"})
    assert answer.status_code == 200, answer.json
    data = answer.json["data"]
    assert data["issueid"] == "111" and data["comicid"] == "69" and data["site"] == "DDL(GetComics)"
    assert data["link_type"] == "ddl" and data["message"] == "DDL download queued: 111"
    fetch = _wait(app, data["job_id"])
    assert fetch.state == "finished", fetch.error
    row = db.session.get(Download, data["ID"])
    assert row.title == "Saga 001 (2012) (digital).cbz"
    assert _wait(app, fetch.result["postprocess_job_id"]).state == "finished"
    assert db.session.get(Download, data["ID"]).state == "imported"
    assert db.session.get(WatchedIssue, issue.id).state == "downloaded"
    # Nothing half-written was left in the completed folder.
    assert not [p for p in (tmp_path / "done").iterdir() if p.name.startswith(".")]


def test_ddl_refuses_at_once_what_it_can_check(client, headers, blackhole):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="1",
                                provider_id="111")
    cases = [({"link": "http://127.0.0.1:9/x.cbz", "site": "Mega"}, 400, "id"),
             ({"id": 111, "site": "Mega"}, 400, "link"),
             ({"id": 111, "link": "http://127.0.0.1:9/x.cbz"}, 400, "site"),
             ({"id": "99999", "link": "http://127.0.0.1:9/x.cbz", "site": "Mega"}, 404, "Issue"),
             ({"id": 111, "link": "ftp://example.invalid/x.cbz", "site": "Mega"}, 400, "http")]
    for body, status, words in cases:
        answer = client.post("/api/downloads/ddl", headers=headers, json=body)
        assert answer.status_code == status, (body, answer.json)
        assert answer.json["success"] is False and words in answer.json["error"]["message"]
    assert db.session.execute(db.select(Download)).first() is None
    assert db.session.get(WatchedIssue, issue.id).state != "snatched"


def test_a_ddl_link_that_gives_no_comic_fails_the_download_and_can_be_requeued(
        app, client, headers, server, blackhole, tmp_path):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="1",
                                provider_id="111", state="wanted")
    server.add("GET", "/page.html", Recorded(b"<html></html>", 200, {"Content-Type": "text/html"}))
    answer = client.post("/api/downloads/ddl", headers=headers, json={
        "id": "111", "link": f"{server.url}/page.html", "site": "MediaFire"}).json["data"]
    _wait(app, answer["job_id"])
    failed = db.session.get(Download, answer["ID"])
    assert failed.state == "failed" and "not a comic file" in failed.error
    assert db.session.get(WatchedIssue, issue.id).state == "wanted"
    assert list((tmp_path / "done").iterdir()) == []
    row = client.get("/api/downloads/history", headers=headers).json["data"]["results"][0]
    assert row["Status"] == "Failed" and "not a comic file" in row["error"]

    # The site works again: requeue fetches the same link once more.
    server.add("GET", "/page.html", Recorded(CBZ.read_bytes(), 200, {
        "Content-Disposition": 'attachment; filename="Saga 001.cbz"'}))
    again = client.post(f"/api/downloads/{failed.id}/requeue", headers=headers)
    assert again.status_code == 200, again.json
    fetched = _wait(app, again.json["data"]["job_id"])
    assert fetched.state == "finished" and fetched.result["path"].endswith("Saga 001.cbz")


def test_ddl_without_a_blackhole_client_says_so(client, headers, app):
    WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="1", provider_id="111")
    answer = client.post("/api/downloads/ddl", headers=headers,
                         json={"id": 111, "link": "http://127.0.0.1:9/x.cbz", "site": "Mega"})
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
        return results and results[0]["status"] == "Downloading" and results[0]

    queued = wait_for(monitored_state, what="the monitor to see it downloading")
    assert queued["ID"] == download.id and queued["client_item_id"] == info_hash
    assert queued["status"] == "Downloading" and queued["link_type"] == "torrent"
    answer = client.delete(f"/api/downloads/{download.id}", headers=headers,
                           query_string={"delete_files": "true"})
    assert answer.status_code == 200 and answer.json["data"]["status"] == "Removed"
    wait_for(lambda: not peer.status([info_hash]), what="qbittorrent to drop the torrent")
    db.session.expire_all()
    assert db.session.get(WatchedIssue, issue.id).state == "wanted"
    assert client.get("/api/downloads/queue", headers=headers).json["data"]["total"] == 0
