"""The blackhole client with real folders and a real HTTP server on 127.0.0.1
serving the release files (a .torrent made here, Sonarr's recorded NZBs)."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from comicsrv.hookspecs import IntegrationError, Release
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.blackhole import BlackholeClient, safe_name

NZBS = Path(__file__).parent.parent / "fixtures" / "indexers" / "nzb"


def bencode(value) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, str):
        return bencode(value.encode())
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(value[k]) for k in sorted(value)) + b"e"


TORRENT = bencode({"announce": "http://127.0.0.1:9/announce", "info": {
    "name": "Saga 054 (2018) (Digital) (Zone-Empire).cbz", "length": 5,
    "piece length": 16384, "pieces": hashlib.sha1(b"pages").digest()}})


@pytest.fixture
def server():
    with ReplayServer() as server:
        server.add("GET", "/saga.torrent",
                   Recorded(TORRENT, 200, {"Content-Type": "application/x-bittorrent"}))
        server.add("GET", "/saga.nzb", Recorded.file(NZBS / "ValidNzb.nzb", "application/x-nzb"))
        server.add("GET", "/error.nzb", Recorded.file(NZBS / "NewznabError.nzb", "application/x-nzb"))
        server.add("GET", "/fail.nzb", Recorded.file(NZBS / "NotNzb.nzb", "application/x-nzb"))
        yield server


@pytest.fixture
def folders(tmp_path):
    watch, done = tmp_path / "watch", tmp_path / "done"
    watch.mkdir()
    done.mkdir()
    return watch, done


def client(folders, **settings):
    watch, done = folders
    return BlackholeClient({"watch_folder": str(watch), "completed_folder": str(done),
                            "settle_seconds": 0, **settings})


def release(url, title="Saga 054 (2018) (Digital) (Zone-Empire)", protocol="torrent"):
    return Release(title=title, download_url=url, indexer="test", protocol=protocol)


def test_add_fetches_the_torrent_into_the_watch_folder(server, folders):
    item_id = client(folders).add(release(server.url + "/saga.torrent"))
    assert item_id == "Saga 054 (2018) (Digital) (Zone-Empire)"
    dropped = folders[0] / f"{item_id}.torrent"
    assert dropped.read_bytes() == TORRENT
    assert os.listdir(folders[0]) == [dropped.name]  # no temporary file left behind


def test_add_fetches_an_nzb_and_writes_magnets(server, folders):
    item_id = client(folders).add(release(server.url + "/saga.nzb", protocol="usenet"))
    assert (folders[0] / f"{item_id}.nzb").read_bytes() == (NZBS / "ValidNzb.nzb").read_bytes()
    magnet = "magnet:?xt=urn:btih:9fb267cff5ae5603f07a347676ec3bf3e35f75e1&dn=Saga"
    item_id = client(folders).add(release(magnet, title="Saga 055 (2018)"))
    assert (folders[0] / "Saga 055 (2018).magnet").read_text() == magnet
    with pytest.raises(IntegrationError, match="magnet links are turned off"):
        client(folders, magnet_files=False).add(release(magnet))


def test_an_existing_file_is_never_overwritten(server, folders):
    first = client(folders).add(release(server.url + "/saga.torrent"))
    (folders[0] / f"{first}.torrent").write_bytes(b"the user's own file")
    second = client(folders).add(release(server.url + "/saga.torrent"))
    assert second == f"{first} (1)"
    assert (folders[0] / f"{first}.torrent").read_bytes() == b"the user's own file"


@pytest.mark.parametrize("path, message", [
    ("/error.nzb", "answered with an error instead of the release file"),
    ("/fail.nzb", "not a valid .nzb"),
    ("/missing.nzb", "HTTP 404"),
])
def test_a_bad_release_file_is_refused_and_nothing_is_dropped(server, folders, path, message):
    with pytest.raises(IntegrationError, match=message):
        client(folders).add(release(server.url + path, protocol="usenet"))
    assert os.listdir(folders[0]) == []


def test_unsafe_titles_become_safe_names(server, folders):
    item_id = client(folders).add(release(server.url + "/saga.torrent", title='../../etc/passwd: "x"?'))
    assert "/" not in item_id and os.listdir(folders[0]) == [f"{item_id}.torrent"]
    assert safe_name("  ...  ") == "release"


def test_status_reports_queued_then_completed_with_the_save_path(server, folders):
    bh = client(folders)
    item_id = bh.add(release(server.url + "/saga.torrent"))
    assert [s.state for s in bh.status([item_id])] == ["queued"]
    # The external client picks the file up ...
    os.unlink(folders[0] / f"{item_id}.torrent")
    assert [s.state for s in bh.status([item_id])] == ["downloading"]
    # ... and finishes into the completed folder, named after the release.
    finished = folders[1] / "Saga.054.(2018).(Digital).(Zone-Empire)"
    finished.mkdir()
    (finished / "Saga 054.cbz").write_bytes(b"x" * 1000)
    status, = bh.status([item_id])
    assert (status.id, status.state, status.progress, status.size) == (item_id, "completed", 1.0, 1000)
    assert status.save_path == str(finished)
    assert [s.name for s in bh.status()] == [finished.name]


def test_a_download_still_being_written_is_not_completed(folders):
    bh = client(folders, settle_seconds=60)
    (folders[1] / "Saga 054 (2018).cbz").write_bytes(b"partial")
    assert [s.state for s in bh.status(["Saga 054 (2018)"])] == ["downloading"]
    old = time.time() - 120
    os.utime(folders[1] / "Saga 054 (2018).cbz", (old, old))
    assert [s.state for s in bh.status(["Saga 054 (2018)"])] == ["completed"]


def test_remove_keeps_finished_files_unless_asked(server, folders):
    bh = client(folders)
    item_id = bh.add(release(server.url + "/saga.torrent"))
    finished = folders[1] / f"{item_id}.cbz"
    finished.write_bytes(b"comic")
    bh.remove(item_id)
    assert not (folders[0] / f"{item_id}.torrent").exists()
    assert finished.exists()
    bh.remove(item_id, delete_files=True)
    assert not finished.exists()


def test_missing_folders_are_clear_errors(tmp_path):
    bh = BlackholeClient({"watch_folder": str(tmp_path / "nope"), "completed_folder": str(tmp_path)})
    with pytest.raises(IntegrationError, match="does not exist"):
        bh.add(release("magnet:?xt=urn:btih:00"))
    assert not bh.test().ok
    assert BlackholeClient({"watch_folder": str(tmp_path), "completed_folder": str(tmp_path)}).test().ok


def test_registered_through_entry_points(app):
    assert app.extensions["comicsrv.plugins"].integrations("download_client")["blackhole"] is BlackholeClient
