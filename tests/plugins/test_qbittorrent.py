"""The qBittorrent plugin against a real qbittorrent-nox on 127.0.0.1.

Torrents are made for comic files already on disk, so qBittorrent's check
finds them complete without any peer. What a local 4.5 cannot show (the 5.x
stop/start endpoints, a ban) is served by ReplayServer in qBittorrent's
documented shapes.
"""
from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path

import pytest

from comicsrv.hookspecs import IntegrationAuthError, IntegrationError, Release
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.qbittorrent import (
    QBittorrent, content_path, magnet_info_hash, torrent_info_hash,
)
from tests.conftest import FIXTURE_ARCHIVES
from tests.peers import make_torrent, qbittorrent  # noqa: F401 (fixture)

COMIC = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz"


def wait_for(check, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def comic_torrent(folder: Path, name: str = COMIC.name) -> tuple[Path, bytes, str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    shutil.copyfile(COMIC, path)
    torrent, info_hash = make_torrent(path)
    return path, torrent, info_hash


def served(torrent: bytes) -> ReplayServer:
    server = ReplayServer()  # started by the caller's "with"
    server.add("GET", "/download/1.torrent",
               Recorded(torrent, headers={"Content-Type": "application/x-bittorrent"}))
    return server


def release(url: str, title: str = "Captain Science 001 (1950)") -> Release:
    return Release(title=title, download_url=url, indexer="local", protocol="torrent")


def state_of(client: QBittorrent, info_hash: str):
    found = client.status([info_hash])
    return found[0] if found else None


def test_torrent_for_files_on_disk_completes_with_its_path(qbittorrent, tmp_path):
    path, torrent, info_hash = comic_torrent(qbittorrent.downloads / "complete")
    client = QBittorrent(qbittorrent.settings(category="comics",
                                              save_path=str(path.parent)))
    assert client.test().ok
    assert "comics" not in client.categories()
    with served(torrent) as server:
        assert client.add(release(f"{server.url}/download/1.torrent")) == info_hash

    assert "comics" in client.categories()  # created on the way
    done = wait_for(lambda: (s := state_of(client, info_hash)) and s.state == "completed" and s,
                    what="the torrent to complete")
    assert done.save_path == str(path)
    assert done.progress == 1.0
    assert done.category == "comics"
    # status() without ids lists the category's torrents.
    assert [s.id for s in client.status()] == [info_hash]


def test_adding_the_same_torrent_twice_returns_its_hash(qbittorrent):
    path, torrent, info_hash = comic_torrent(qbittorrent.downloads / "twice")
    client = QBittorrent(qbittorrent.settings(save_path=str(path.parent)))
    with served(torrent) as server:
        assert client.add(release(f"{server.url}/download/1.torrent")) == info_hash
        assert client.add(release(f"{server.url}/download/1.torrent")) == info_hash
    assert len(client.status([info_hash])) == 1


def test_magnet_is_passed_through_with_its_hash(qbittorrent):
    _, _, info_hash = comic_torrent(qbittorrent.downloads / "magnet")
    b32 = base64.b32encode(bytes.fromhex(info_hash)).decode()
    client = QBittorrent(qbittorrent.settings())
    assert client.add(release(f"magnet:?xt=urn:btih:{b32}&dn=Captain+Science")) == info_hash
    found = wait_for(lambda: state_of(client, info_hash), what="the magnet to be listed")
    # No DHT and no trackers: it waits for metadata, which is "downloading".
    assert found.state in ("downloading", "queued")


def test_pause_and_resume_an_incomplete_torrent(qbittorrent, tmp_path):
    _, torrent, info_hash = comic_torrent(tmp_path / "elsewhere")
    empty = qbittorrent.downloads / "empty"
    empty.mkdir()
    client = QBittorrent(qbittorrent.settings(save_path=str(empty)))
    with served(torrent) as server:
        client.add(release(f"{server.url}/download/1.torrent"))
    wait_for(lambda: (s := state_of(client, info_hash)) and s.state == "downloading",
             what="the torrent to start downloading")

    client.pause(info_hash)
    wait_for(lambda: state_of(client, info_hash).state == "paused", what="paused")
    assert client.raw_state(info_hash) == "pausedDL"  # qBittorrent 4.x's name
    client.resume(info_hash)
    wait_for(lambda: state_of(client, info_hash).state != "paused", what="resumed")
    assert state_of(client, info_hash).state in ("downloading", "queued")


def test_remove_keeps_or_deletes_the_files(qbittorrent):
    kept, kept_torrent, kept_hash = comic_torrent(qbittorrent.downloads / "keep")
    gone, gone_torrent, gone_hash = comic_torrent(qbittorrent.downloads / "delete",
                                                  "Captain Science #001 copy.cbz")
    keep_client = QBittorrent(qbittorrent.settings(save_path=str(kept.parent)))
    delete_client = QBittorrent(qbittorrent.settings(save_path=str(gone.parent)))
    with served(kept_torrent) as server:
        keep_client.add(release(f"{server.url}/download/1.torrent"))
    with served(gone_torrent) as server:
        delete_client.add(release(f"{server.url}/download/1.torrent"))
    for info_hash in (kept_hash, gone_hash):
        wait_for(lambda h=info_hash: (s := state_of(keep_client, h)) and s.state == "completed",
                 what="completion")

    keep_client.remove(kept_hash, delete_files=False)
    delete_client.remove(gone_hash, delete_files=True)
    wait_for(lambda: not keep_client.status([kept_hash, gone_hash]), what="both removed")
    wait_for(lambda: not gone.exists(), what="the deleted torrent's file to go")
    assert kept.read_bytes() == COMIC.read_bytes()


def test_wrong_password_is_a_clear_error_and_never_retried(qbittorrent):
    client = QBittorrent(qbittorrent.settings(password="wrong"))
    with pytest.raises(IntegrationAuthError, match="rejected the username or password"):
        client.status()
    result = QBittorrent(qbittorrent.settings(password="wrong")).test()
    assert not result.ok and "not retried" in result.message
    # The right password is a change of settings: it is tried, and works.
    assert QBittorrent(qbittorrent.settings()).test().ok


def test_a_refused_login_does_not_reach_the_server_again():
    with ReplayServer() as server:
        server.add("POST", "/api/v2/auth/login", Recorded.text("Fails."))
        settings = {"url": server.url, "username": "admin", "password": "nope"}
        for _ in range(3):
            with pytest.raises(IntegrationAuthError):
                QBittorrent(settings).status()
        assert len(server.requests) == 1
        with pytest.raises(IntegrationAuthError):
            QBittorrent({**settings, "password": "changed"}).status()
        assert len(server.requests) == 2


def test_a_ban_says_so():
    with ReplayServer() as server:
        server.add("POST", "/api/v2/auth/login", Recorded.text("Forbidden", status=403))
        with pytest.raises(IntegrationAuthError, match="banned"):
            QBittorrent({"url": server.url, "username": "a", "password": "b"}).status()


def test_unreachable_client_is_an_integration_error(free_port):
    with pytest.raises(IntegrationError, match="cannot reach qBittorrent"):
        QBittorrent({"url": f"http://127.0.0.1:{free_port}"}).status()


def _qbittorrent5(server: ReplayServer, torrents: list[dict]) -> None:
    server.add("POST", "/api/v2/auth/login", Recorded(b"", status=204,
                                                      headers={"Set-Cookie": "SID=abc; path=/"}))
    server.add("GET", "/api/v2/app/webapiVersion", Recorded.text("2.11.2"))
    server.add("GET", "/api/v2/torrents/info", Recorded.json(torrents))
    server.add("POST", "/api/v2/torrents/stop", Recorded(b"", status=200))
    server.add("POST", "/api/v2/torrents/start", Recorded(b"", status=200))


def test_qbittorrent_5_names_and_endpoints():
    torrents = [
        {"hash": "A" * 40, "name": "done", "state": "stoppedUP", "progress": 1,
         "save_path": "D:\\Downloads\\comics", "content_path": "D:\\Downloads\\comics\\done.cbz"},
        {"hash": "b" * 40, "name": "half", "state": "stoppedDL", "progress": 0.5,
         "save_path": "/data/comics", "content_path": ""},
    ]
    with ReplayServer() as server:
        _qbittorrent5(server, torrents)
        client = QBittorrent({"url": server.url, "username": "a", "password": "b"})
        states = {s.id: s for s in client.status()}
        assert states["a" * 40].state == "completed"
        assert states["a" * 40].save_path == "D:\\Downloads\\comics\\done.cbz"
        assert states["b" * 40].state == "paused"
        assert states["b" * 40].save_path == "/data/comics/half"
        client.pause("b" * 40)
        client.resume("b" * 40)
        paths = [r.path for r in server.requests if r.method == "POST"]
        assert paths[-2:] == ["/api/v2/torrents/stop", "/api/v2/torrents/start"]


@pytest.mark.parametrize("state, expected", [
    ("uploading", "completed"), ("stalledUP", "completed"), ("forcedUP", "completed"),
    ("queuedUP", "completed"), ("pausedUP", "completed"), ("stoppedUP", "completed"),
    ("checkingUP", "queued"), ("queuedDL", "queued"), ("checkingDL", "queued"),
    ("checkingResumeData", "queued"), ("downloading", "downloading"),
    ("stalledDL", "downloading"), ("metaDL", "downloading"), ("forcedDL", "downloading"),
    ("allocating", "downloading"), ("moving", "downloading"), ("pausedDL", "paused"),
    ("stoppedDL", "paused"), ("error", "failed"), ("missingFiles", "failed"),
    ("someFutureState", "downloading"),
])
def test_state_names_of_4x_and_5x(state, expected):
    status = QBittorrent._status({"hash": "c" * 40, "name": "x", "state": state,
                                  "save_path": "/d"})
    assert status.state == expected
    assert (status.error is not None) == (expected == "failed")


def test_info_hashes():
    torrent, info_hash = make_torrent(COMIC)
    assert torrent_info_hash(torrent) == info_hash
    b32 = base64.b32encode(bytes.fromhex(info_hash)).decode()
    assert magnet_info_hash(f"magnet:?dn=x&xt=urn:btih:{b32}") == info_hash
    assert magnet_info_hash(f"magnet:?xt=urn:btih:{info_hash.upper()}") == info_hash
    with pytest.raises(IntegrationError, match="not a valid .torrent"):
        torrent_info_hash(b"<html>not found</html>")
    with pytest.raises(IntegrationError, match="not a valid .torrent"):
        torrent_info_hash(torrent[:40])
    with pytest.raises(IntegrationError, match="btih"):
        magnet_info_hash("magnet:?dn=nothing")


def test_content_path_of_relative_and_windows_paths():
    assert content_path({"save_path": "/data", "content_path": "/data/x.cbz"}) == "/data/x.cbz"
    assert content_path({"save_path": "/data", "content_path": "x.cbz"}) == "/data/x.cbz"
    assert content_path({"save_path": "D:\\dl", "name": "x"}) == "D:\\dl\\x"
    assert content_path({"save_path": "\\\\nas\\dl", "content_path": "\\\\nas\\dl\\x"}) == "\\\\nas\\dl\\x"
