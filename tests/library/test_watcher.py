"""Watching libraries: changed paths indexed within seconds, without a full
scan. The live tests run a real ``comicsrv serve`` (the observers are
greenlets there) and real files; the others drive the pieces directly."""
from __future__ import annotations

import shutil
import time

import pytest

from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.library.watcher import (
    SCAN_PATHS_JOB, LibraryWatcher, effective_mode, filesystem_type,
)
from comicsrv.models import Book, Job
from tests.conftest import FIXTURE_ARCHIVES
from tests.processes import wait_until
from tests.serving import live_server  # noqa: F401

CBZ = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz"
CBZ_CIX = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001-cix.cbz"

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /mnt/nas rw,relatime shared:20 - nfs4 nas:/export rw,vers=4.2
31 30 0:41 / /mnt/nas/local\\040disk rw,relatime shared:21 - xfs /dev/sdb1 rw
32 22 0:42 / /mnt/user rw,nosuid shared:22 - fuse.shfs shfs rw
33 22 0:43 / /media/smb rw shared:23 - cifs //nas/comics rw
"""


@pytest.mark.parametrize("path, kind, mode", [
    ("/home/me/comics", "ext4", "native"),
    ("/mnt/nas/comics/Marvel", "nfs4", "poll"),
    ("/mnt/nas/local disk/comics", "xfs", "native"),  # a local disk mounted inside the share
    ("/mnt/user/comics", "fuse.shfs", "native"),  # unRAID's user shares see inotify
    ("/media/smb", "cifs", "poll"),
])
def test_auto_polls_network_shares_and_uses_inotify_elsewhere(path, kind, mode):
    assert filesystem_type(path, MOUNTINFO) == kind
    assert effective_mode("auto", path, MOUNTINFO) == mode
    assert effective_mode("off", path, MOUNTINFO) == "off"
    assert effective_mode("native", path, MOUNTINFO) == "native"


def test_the_real_mount_table_is_read():
    assert filesystem_type("/") is not None


def _books(server, headers) -> dict[str, dict]:
    answer = server.get("/api/v1/books", headers=headers, params={"page_size": 100})
    assert answer.status_code == 200, answer.text
    return {item["filename"] if "filename" in item else item["title"]: item
            for item in answer.json()["items"]}


def _wait_for_books(server, headers, expect, timeout=5.0):
    found = {}

    def check():
        nonlocal found
        found = _books(server, headers)
        return expect(found)

    assert wait_until(check, timeout, interval=0.1), found
    return found


@pytest.mark.parametrize("mode, settings", [
    ("native", {}),
    ("poll", {"watch_poll_seconds": "1"}),
])
def test_a_file_dropped_into_a_watched_library_appears_within_5_seconds(
        app, admin_headers, live_server, tmp_path, mode, settings):  # noqa: F811
    root = tmp_path / "comics"
    (root / "Youthful").mkdir(parents=True)
    create_library("Comics", str(root), watch_mode=mode)
    server = live_server(watch_debounce_seconds="0.5", **settings)
    assert wait_until(lambda: "watching library 'Comics'" in server.output(), 10)
    assert _books(server, admin_headers) == {}

    # Copied in under a temporary name, then renamed: as download clients do.
    partial = root / "Youthful" / "Captain Science #001.cbz.part"
    shutil.copy(CBZ, partial)
    dropped = time.monotonic()
    partial.rename(root / "Youthful" / "Captain Science #001.cbz")
    books = _wait_for_books(server, admin_headers, lambda found: len(found) == 1)
    assert time.monotonic() - dropped < 5
    (book,) = books.values()

    # Renamed inside the library: the same book (its id, so its progress).
    (root / "Youthful" / "Captain Science #001.cbz").rename(root / "Youthful" / "Renamed.cbz")
    assert wait_until(lambda: server.get(f"/api/v1/books/{book['id']}", headers=admin_headers)
                      .json().get("path", "").endswith("Renamed.cbz"), 5, interval=0.1)

    # Deleted: marked missing (left out of the list), never deleted.
    (root / "Youthful" / "Renamed.cbz").unlink()
    _wait_for_books(server, admin_headers, lambda found: found == {})
    with app.app_context():
        db.session.expire_all()
        assert db.session.get(Book, book["id"]).state == "missing"
        jobs = db.session.execute(db.select(Job.type)).scalars().all()
    assert SCAN_JOB not in jobs and SCAN_PATHS_JOB in jobs  # never a full scan
    assert "library.scan_paths finished" in server.output()


def test_an_unwatched_library_is_left_alone(app, admin_headers, live_server, tmp_path):  # noqa: F811
    root = tmp_path / "comics"
    root.mkdir()
    (tmp_path / "other").mkdir()
    create_library("Quiet", str(root), watch_mode="off")
    create_library("Loud", str(tmp_path / "other"), watch_mode="native")
    server = live_server(watch_debounce_seconds="0.2")
    assert wait_until(lambda: "watching library 'Loud'" in server.output(), 10)
    shutil.copy(CBZ, root / "a.cbz")
    shutil.copy(CBZ, tmp_path / "other" / "b.cbz")
    _wait_for_books(server, admin_headers, lambda found: len(found) == 1)
    time.sleep(1.0)
    assert [item["path"] for item in _books(server, admin_headers).values()] == [
        str(tmp_path / "other" / "b.cbz")]
    assert "watching library 'Quiet'" not in server.output()


def _run_scan_paths(app, library_id, paths):
    runner = app.extensions["comicsrv.jobs"]
    job = runner.run_now(SCAN_PATHS_JOB, {"library_id": library_id, "paths": [str(p) for p in paths]},
                         target=f"library:{library_id}")
    assert job.state == "finished", job.error
    return job.result


def test_scan_paths_reads_only_the_paths_given(app, tmp_path):
    root = tmp_path / "lib"
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    shutil.copy(CBZ, root / "A" / "one.cbz")
    shutil.copy(CBZ_CIX, root / "B" / "two.cbz")
    library = create_library("Comics", str(root))
    result = _run_scan_paths(app, library.id, [root / "A" / "one.cbz"])
    assert result["created"] == 1
    assert [b.path for b in db.session.execute(db.select(Book)).scalars()] == [
        str(root / "A" / "one.cbz")]  # B/two.cbz was not looked at

    # A folder walks everything below it; unchanged files are not read again.
    result = _run_scan_paths(app, library.id, [root])
    assert result["created"] == 0  # the library root itself is never a path
    result = _run_scan_paths(app, library.id, [root / "A", root / "B"])
    assert (result["created"], result["unchanged"]) == (1, 1)

    # A folder that is gone marks every book below it missing.
    shutil.rmtree(root / "B")
    result = _run_scan_paths(app, library.id, [root / "B"])
    assert result["missing"] == 1
    states = dict(db.session.execute(db.select(Book.path, Book.state)).all())
    assert states == {str(root / "A" / "one.cbz"): "ok", str(root / "B" / "two.cbz"): "missing"}

    # The file comes back elsewhere: the missing book, moved.
    missing_id = db.session.execute(db.select(Book.id).where(Book.state == "missing")).scalar()
    (root / "C").mkdir()
    shutil.copy(CBZ_CIX, root / "C" / "two again.cbz")
    result = _run_scan_paths(app, library.id, [root / "C" / "two again.cbz"])
    assert result["moved"] == 1
    moved = db.session.get(Book, missing_id)
    assert (moved.path, moved.state) == (str(root / "C" / "two again.cbz"), "ok")


def test_scan_paths_makes_a_folder_of_images_a_book(app, tmp_path):
    from PIL import Image

    root = tmp_path / "lib"
    folder = root / "Scans" / "Issue 1"
    folder.mkdir(parents=True)
    library = create_library("Comics", str(root))
    for number in (1, 2):
        Image.new("RGB", (20, 30), "white").save(folder / f"{number:03}.png")
    _run_scan_paths(app, library.id, [folder / "002.png"])
    book = db.session.execute(db.select(Book)).scalar_one()
    assert book.path == str(folder) and book.page_count == 2
    Image.new("RGB", (20, 30), "white").save(folder / "003.png")
    _run_scan_paths(app, library.id, [folder / "003.png"])
    db.session.expire_all()
    assert db.session.get(Book, book.id).page_count == 3


def test_a_vanished_library_folder_fails_without_marking_anything(app, tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    shutil.copy(CBZ, root / "one.cbz")
    library = create_library("Comics", str(root))
    _run_scan_paths(app, library.id, [root / "one.cbz"])
    shutil.rmtree(root)
    job = app.extensions["comicsrv.jobs"].run_now(
        SCAN_PATHS_JOB, {"library_id": library.id, "paths": [str(root / "one.cbz")]})
    assert job.state == "failed" and "nothing was marked missing" in job.error
    assert db.session.execute(db.select(Book.state)).scalar_one() == "ok"


def test_paths_wait_until_quiet_and_while_a_scan_runs(make_app, tmp_path):
    app = make_app(WATCH_DEBOUNCE_SECONDS=2.0)
    root = tmp_path / "lib"
    root.mkdir()
    with app.app_context():
        library = create_library("Comics", str(root))
        library_id = library.id
    watcher = LibraryWatcher(app)
    path = str(root / "new.cbz")
    shutil.copy(CBZ, path)
    now = time.monotonic()
    for offset in (0.0, 0.5, 1.0):  # a file still being written: events keep coming
        watcher.inbox.append((library_id, path, now + offset))
    assert watcher.flush(now + 2.5) == []  # 1.5 s quiet: not yet
    with app.app_context():
        scan = app.extensions["comicsrv.jobs"]._create(SCAN_JOB, {"library_id": library_id},
                                                      f"library:{library_id}", None)
        assert watcher.flush(now + 3.5) == []  # quiet now, but a full scan runs
        scan.state = "finished"
        db.session.commit()
    (job_id,) = watcher.flush(now + 3.5)
    assert watcher.pending == {}
    runner = app.extensions["comicsrv.jobs"]
    assert runner.wait(job_id, 30)
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.state == "finished" and job.params["paths"] == [path]
        assert db.session.execute(db.select(Book.path)).scalar_one() == path


def test_watch_mode_through_the_api(client, admin_headers, tmp_path):
    from comicsrv.settings_store import set_setting

    set_setting("filesystem.allowed_roots", [str(tmp_path)], None)
    (tmp_path / "lib").mkdir()
    created = client.post("/api/v1/libraries", headers=admin_headers,
                          json={"name": "Comics", "path": str(tmp_path / "lib")})
    assert created.status_code == 201 and created.json["watch_mode"] == "auto"
    changed = client.put(f"/api/v1/libraries/{created.json['id']}", headers=admin_headers,
                         json={"watch_mode": "poll"})
    assert changed.status_code == 200 and changed.json["watch_mode"] == "poll"
    bad = client.put(f"/api/v1/libraries/{created.json['id']}", headers=admin_headers,
                     json={"watch_mode": "sometimes"})
    assert bad.status_code in (400, 422) and "watch_mode" in bad.get_data(as_text=True)


def test_reading_a_watched_library_reports_nothing(app, tmp_path, monkeypatch):
    """The kernel is asked only for changes: a server reads its library's
    files all day (every page is an open and a close), and each read
    reported to the observer cost it CPU on the path that serves pages."""
    from comicsrv.library import watcher as watcher_module

    seen = []
    real_dispatch = watcher_module._Handler.dispatch
    monkeypatch.setattr(watcher_module._Handler, "dispatch",
                        lambda self, event: seen.append(event.event_type)
                        or real_dispatch(self, event))
    root = tmp_path / "lib"
    root.mkdir()
    shutil.copy(CBZ, root / "old.cbz")
    library = create_library("Comics", str(root), watch_mode="native")
    watcher = LibraryWatcher(app)
    watcher._watch(library, "native")
    try:
        for _ in range(20):
            with open(root / "old.cbz", "rb") as fh:
                fh.read(4096)
        shutil.copy(CBZ, root / "new.cbz")
        assert wait_until(lambda: "closed" in seen, 10), seen
        assert "created" in seen
        assert not {"opened", "closed_no_write"} & set(seen), seen
        assert any(path.endswith("new.cbz") for _, path, _ in watcher.inbox)
    finally:
        watcher.stop()
