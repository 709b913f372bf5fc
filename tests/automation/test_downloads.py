"""The download monitor and its services, against a real qbittorrent-nox and a
real nzbget on 127.0.0.1 (SABnzbd, which Debian lacks, through ReplayServer)."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from comicsrv.automation import downloads as monitor
from comicsrv.automation.integrations import instance_for
from comicsrv.errors import Conflict, NotFound
from comicsrv.extensions import db
from comicsrv.hookspecs import Release
from comicsrv.library.libraries import create_library
from comicsrv.models import Book, Job
from comicsrv.models.automation import (
    DL_COMPLETED, DL_DOWNLOADING, DL_FAILED, DL_IMPORTED, DL_QUEUED, DL_REMOVED, SNATCHED,
    WANTED, BlockedRelease, Download, RemotePathMapping, WatchedIssue,
)
from comicsrv.models.base import utcnow
from comicsrv.settings_store import set_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.factories import DownloadClientConfigFactory, DownloadFactory, WatchedIssueFactory
from tests.peers import nzbget, qbittorrent  # noqa: F401 (fixtures)
from tests.plugins.test_qbittorrent import COMIC, comic_torrent, served, wait_for

FIXTURES = Path(__file__).parent.parent / "fixtures" / "downloaders"


@pytest.fixture
def events(app):
    sub = app.extensions["comicsrv.events"].subscribe(["download_updated", "download_failed"])
    seen: list = []

    def drain():
        while (event := sub.get(timeout=0.05)) is not None:
            seen.append(event)
        return seen

    yield drain
    sub.close()


@pytest.fixture
def search_calls(monkeypatch):
    """Records ``search.search_issue`` calls: only the hand-over to the search
    is under test here (tests/automation/test_search.py covers the search)."""
    from comicsrv.automation import search

    calls: list[int] = []
    monkeypatch.setattr(search, "search_issue", calls.append)
    return calls


def run_monitor(app) -> dict:
    job = app.extensions["comicsrv.jobs"].run_now(monitor.JOB_TYPE)
    assert job.state == "finished", job.error
    return job.result


def qbt_client_row(peer, **settings):
    return DownloadClientConfigFactory(kind="qbittorrent", protocol="torrent", category="comics",
                                       settings=peer.settings(category="comics", **settings))


def grab(row, path: Path, torrent: bytes, **download) -> Download:
    """Hand a torrent to the client as the search would, and record it."""
    client = instance_for("download_client", row)
    with served(torrent) as server:
        info_hash = client.add(Release("Captain Science 001 (1950)",
                                       f"{server.url}/download/1.torrent", "local", "torrent"))
    issue = WatchedIssueFactory(state=SNATCHED)
    return DownloadFactory(client_id=row.id, client_item_id=info_hash, watched_issue_id=issue.id,
                           title="Captain Science 001 (1950)", guid="guid-cs-1", indexer="local",
                           **download)


def test_completed_torrent_gets_its_mapped_path_and_is_handed_to_post_processing(
        app, qbittorrent, tmp_path, events):
    (tmp_path / "library").mkdir()
    library = create_library("Comics", str(tmp_path / "library"))
    set_setting("postprocess.write_comicinfo", False, None)
    path, torrent, _ = comic_torrent(qbittorrent.downloads / "complete")
    # comicsrv sees qBittorrent's folder under another name, as across containers.
    local = tmp_path / "mnt-downloads"
    os.symlink(qbittorrent.downloads, local)
    row = qbt_client_row(qbittorrent, save_path=str(path.parent))
    db.session.add(RemotePathMapping(download_client_id=row.id,
                                     remote_path=str(qbittorrent.downloads),
                                     local_path=str(local)))
    db.session.commit()
    download = grab(row, path, torrent)

    def completed_or_beyond():
        run_monitor(app)
        db.session.expire_all()
        return db.session.get(Download, download.id).state not in (DL_QUEUED, DL_DOWNLOADING)

    wait_for(completed_or_beyond, what="the monitor to see the torrent complete")
    download = db.session.get(Download, download.id)
    assert download.save_path == str(local / "complete" / COMIC.name)
    assert Path(download.save_path).read_bytes() == COMIC.read_bytes()
    assert download.progress == 1.0 and download.completed_at is not None
    assert any(e.name == "download_updated" and e.state == DL_COMPLETED and
               e.download_id == download.id for e in events())
    # Handed over: post-processing's job for this download exists (and it
    # set the download to "importing" before anything else could run).
    job = db.session.execute(select(Job).where(Job.type == "automation.postprocess")).scalar_one()
    assert job.params["download_id"] == download.id
    assert download.job_id == job.id
    assert app.extensions["comicsrv.jobs"].wait(job.id, timeout=60)
    assert row.last_error is None
    # ... which imported it into the library.
    db.session.expire_all()
    download = db.session.get(Download, download.id)
    assert download.state == DL_IMPORTED, download.error
    book = db.session.get(Book, download.book_id)
    assert book.library_id == library.id
    assert Path(book.path).read_bytes() == COMIC.read_bytes()
    assert path.exists()  # still seeding: a torrent is hard-linked by default
    assert db.session.get(WatchedIssue, download.watched_issue_id).state == "downloaded"


def test_failed_download_is_blocklisted_wanted_again_announced_and_searched(
        app, events, search_calls):
    server = ReplayServer()
    server.add("GET", "/api", Recorded.file(FIXTURES / "sabnzbd" / "sonarr-QueueEmpty.json",
                                            "application/json"), query={"mode": "queue"})
    server.add("GET", "/api", Recorded.file(FIXTURES / "sabnzbd" / "history.json",
                                            "application/json"), query={"mode": "history"})
    with server:
        row = DownloadClientConfigFactory(kind="sabnzbd", protocol="usenet",
                                          settings={"url": server.url, "api_key": "k"})
        issue = WatchedIssueFactory(state=SNATCHED)
        download = DownloadFactory(client_id=row.id, client_item_id="SABnzbd_nzo_fail01",
                                   protocol="usenet", state=DL_DOWNLOADING, title="Saga 054 (2018)",
                                   guid="nzb-guid-54", indexer="local", watched_issue_id=issue.id)
        done = DownloadFactory(client_id=row.id, client_item_id="SABnzbd_nzo_unpack",
                               protocol="usenet", state=DL_DOWNLOADING)
        result = run_monitor(app)

    assert result["failed"] == 1 and result["checked"] == 2
    db.session.expire_all()
    download = db.session.get(Download, download.id)
    assert download.state == DL_FAILED
    assert download.error.startswith("Aborted, cannot be completed")
    (blocked,) = db.session.execute(select(BlockedRelease)).scalars().all()
    assert (blocked.title, blocked.guid, blocked.indexer, blocked.watched_issue_id) == (
        "Saga 054 (2018)", "nzb-guid-54", "local", issue.id)
    assert db.session.get(WatchedIssue, issue.id).state == WANTED
    failed = [e for e in events() if e.name == "download_failed"]
    assert [(e.download_id, e.watched_issue_id) for e in failed] == [(download.id, issue.id)]
    assert search_calls == [issue.id]
    # The one still unpacking is left to finish.
    assert db.session.get(Download, done.id).state == DL_DOWNLOADING


def test_a_download_the_client_no_longer_knows_fails(app, qbittorrent, search_calls):
    row = qbt_client_row(qbittorrent)
    issue = WatchedIssueFactory(state=SNATCHED)
    seen = DownloadFactory(client_id=row.id, client_item_id="a" * 40, state=DL_DOWNLOADING,
                           watched_issue_id=issue.id)
    just_added = DownloadFactory(client_id=row.id, client_item_id="b" * 40, state=DL_QUEUED)
    long_ago = DownloadFactory(client_id=row.id, client_item_id="c" * 40, state=DL_QUEUED,
                               created_at=utcnow() - timedelta(hours=1))
    run_monitor(app)
    db.session.expire_all()
    assert db.session.get(Download, seen.id).state == DL_FAILED
    assert db.session.get(Download, seen.id).error == "removed from the client"
    assert db.session.get(Download, just_added.id).state == DL_QUEUED
    assert db.session.get(Download, long_ago.id).state == DL_FAILED
    assert search_calls == [issue.id]


def test_an_unreachable_client_is_recorded_and_its_downloads_left_alone(app, free_port, events):
    row = DownloadClientConfigFactory(kind="qbittorrent",
                                      settings={"url": f"http://127.0.0.1:{free_port}"})
    download = DownloadFactory(client_id=row.id, client_item_id="d" * 40, state=DL_DOWNLOADING,
                               progress=0.5)
    result = run_monitor(app)
    assert result["unreachable"] == [row.name]
    db.session.expire_all()
    assert "cannot reach qBittorrent" in db.session.get(type(row), row.id).last_error
    download = db.session.get(Download, download.id)
    assert (download.state, download.progress) == (DL_DOWNLOADING, 0.5)
    assert events() == []


def test_nzbget_queue_is_monitored(app, nzbget, events):
    row = DownloadClientConfigFactory(kind="nzbget", protocol="usenet",
                                      settings=nzbget.settings())
    client = instance_for("download_client", row)
    server = ReplayServer()
    server.add("GET", "/getnzb/1.nzb", Recorded.file(FIXTURES / "nzb" / "ValidNzb.nzb",
                                                     "application/x-nzb"))
    with server:
        nzb_id = client.add(Release("Saga 001 (2012)", f"{server.url}/getnzb/1.nzb", "local",
                                    "usenet"))
    download = DownloadFactory(client_id=row.id, client_item_id=nzb_id, protocol="usenet",
                               state=DL_DOWNLOADING)
    run_monitor(app)
    db.session.expire_all()
    # No news server: NZBGet holds it queued, in its intermediate folder.
    download = db.session.get(Download, download.id)
    assert download.state == DL_QUEUED
    assert download.save_path.startswith(str(nzbget.main_dir / "inter"))
    assert [e.state for e in events()] == [DL_QUEUED]
    run_monitor(app)
    assert len(events()) == 1  # nothing changed, nothing announced


def test_pause_resume_remove_and_client_items(app, qbittorrent, tmp_path):
    _, torrent, info_hash = comic_torrent(tmp_path / "elsewhere")
    empty = qbittorrent.downloads / "empty"
    empty.mkdir()
    row = qbt_client_row(qbittorrent, save_path=str(empty))
    download = grab(row, empty, torrent, state=DL_QUEUED)
    client = instance_for("download_client", row)

    items = monitor.client_items(row.id)
    assert [(i["id"], i["download_id"]) for i in items] == [(info_hash, download.id)]

    monitor.pause(download.id)
    wait_for(lambda: client.status([info_hash])[0].state == "paused", what="paused")
    assert db.session.get(Download, download.id).state == "paused"
    monitor.resume(download.id)
    wait_for(lambda: client.status([info_hash])[0].state != "paused", what="resumed")

    issue_id = download.watched_issue_id
    monitor.remove(download.id, delete_files=True)
    wait_for(lambda: not client.status([info_hash]), what="removed")
    download = db.session.get(Download, download.id)
    assert download.state == DL_REMOVED
    assert db.session.get(WatchedIssue, issue_id).state == WANTED
    # The monitor leaves a removed download alone.
    run_monitor(app)
    assert db.session.get(Download, download.id).state == DL_REMOVED


def test_service_errors_are_domain_errors(app):
    with pytest.raises(NotFound):
        monitor.pause(12345)
    orphan = DownloadFactory()
    with pytest.raises(Conflict):
        monitor.remove(orphan.id)
    with pytest.raises(NotFound):
        monitor.client_items(999)


def test_remove_completed_waits_for_seeding_to_end(app, qbittorrent):
    path, torrent, info_hash = comic_torrent(qbittorrent.downloads / "seeding")
    row = qbt_client_row(qbittorrent, save_path=str(path.parent))
    download = grab(row, path, torrent, state=DL_IMPORTED, imported_at=utcnow())
    client = instance_for("download_client", row)
    wait_for(lambda: (s := client.status([info_hash])) and s[0].state == "completed",
             what="completion")

    assert monitor.remove_completed(download) == \
        "kept: the client is not set to remove completed downloads"
    row.remove_completed = True
    db.session.commit()
    assert monitor.remove_completed(download) == "kept: still seeding"
    assert client.status([info_hash])
    client.pause(info_hash)  # seeding stopped (as at the ratio limit)
    wait_for(lambda: client.raw_state(info_hash) == "pausedUP", what="pausedUP")
    assert monitor.remove_completed(download) == f"removed from {row.name}"
    wait_for(lambda: not client.status([info_hash]), what="the torrent to go")


def test_remove_completed_removes_usenet_at_once_and_never_before_import(app, nzbget):
    row = DownloadClientConfigFactory(kind="nzbget", protocol="usenet", remove_completed=True,
                                      settings=nzbget.settings())
    client = instance_for("download_client", row)
    with ReplayServer() as server:
        server.add("GET", "/getnzb/1.nzb", Recorded.file(FIXTURES / "nzb" / "ValidNzb.nzb",
                                                         "application/x-nzb"))
        nzb_id = client.add(Release("Saga 002 (2012)", f"{server.url}/getnzb/1.nzb", "local",
                                    "usenet"))
    download = DownloadFactory(client_id=row.id, client_item_id=nzb_id, protocol="usenet",
                               state=DL_COMPLETED)
    assert monitor.remove_completed(download) == "kept: the download is not imported"
    download.state, download.imported_at = DL_IMPORTED, utcnow()
    db.session.commit()
    assert monitor.remove_completed(download) == f"removed from {row.name}"
    assert client.status([nzb_id]) == []


def test_remove_completed_reports_an_unreachable_client(app, free_port):
    row = DownloadClientConfigFactory(kind="nzbget", protocol="usenet", remove_completed=True,
                                      settings={"url": f"http://127.0.0.1:{free_port}"})
    download = DownloadFactory(client_id=row.id, client_item_id="7", state=DL_IMPORTED)
    assert monitor.remove_completed(download).startswith(f"not removed from {row.name}")


def test_the_monitor_is_a_registered_job(app):
    assert monitor.JOB_TYPE in app.extensions["comicsrv.jobs"].types
    assert run_monitor(app) == {"clients": 0, "checked": 0, "updated": 0, "handed_over": 0,
                                "failed": 0, "unreachable": []}
