"""Archive ids computed after a big scan (``comicsrv.library.archive_ids``)."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update

from comicsrv.extensions import db
from comicsrv.library import archive_ids, scanner
from comicsrv.library.archive_ids import ARCHIVE_IDS_JOB, fill_missing_ids, queue_archive_ids
from comicsrv.library.libraries import create_library
from comicsrv.library.reader import ARCID_BYTES, compute_arcid, compute_ids, compute_koreader_hash
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book, Job
from tests.factories import JobFactory

# Around every boundary of the two hashes: the arcid's 512,000 bytes and
# KOReader's 1 KiB samples at 0, 1 KiB, 4 KiB ... 256 KiB (inside them) and
# 1 MiB, 4 MiB (beyond).
SIZES = (0, 1, 1023, 1024, 1025, 4096 + 512, 263_167, 263_168, 263_169, ARCID_BYTES - 1,
         ARCID_BYTES, ARCID_BYTES + 1, ARCID_BYTES + 1024, 1_048_575, 1_048_576 + 1023,
         1_048_576 + 1024, 4_194_304 + 100)


def _ids_of_book(book: Book) -> tuple[str | None, str | None]:
    return book.arcid, book.koreader_hash


@pytest.mark.parametrize("size", SIZES)
def test_one_read_gives_both_hashes_as_computed_apart(tmp_path, size):
    path = tmp_path / "file.cbz"
    path.write_bytes(random.Random(size).randbytes(size))
    stat = path.stat()
    assert compute_ids(str(path)) == (compute_arcid(str(path)), compute_koreader_hash(str(path)))
    assert compute_ids(str(path), stat.st_size, stat.st_mtime) == compute_ids(str(path))


def test_a_file_changed_since_the_scan_is_not_hashed(tmp_path):
    path = tmp_path / "file.cbz"
    path.write_bytes(b"x" * 2000)
    stat = path.stat()
    assert compute_ids(str(path), stat.st_size + 1, stat.st_mtime) is None
    assert compute_ids(str(path), stat.st_size, stat.st_mtime - 5) is None
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "001.jpg").write_bytes(b"jpg")
    assert compute_ids(str(folder), 1, 0.0) == (compute_arcid(str(folder)), None)


def _scan(app, library):
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id},
                                                  target=f"library:{library.id}")
    db.session.expire_all()
    return job


def test_a_big_first_scan_leaves_the_new_files_ids_to_the_job(app, comic_tree, monkeypatch):
    """The scan's readers are not asked to hash new files when there are
    many; the job it queues fills in every id as computed in a scan, and
    a rescan that changes one file hashes that one in the scan again (its
    old id becomes an alias)."""
    monkeypatch.setattr(scanner, "DEFERRED_IDS_MIN_FILES", 3)
    asked: list[bool] = []
    read_batch = scanner.read_batch

    def recording(stats, cache_dir):
        asked.extend(hash_it for _, _, _, hash_it in stats)
        return read_batch(stats, cache_dir)

    monkeypatch.setattr(scanner, "read_batch", recording)
    library = create_library("Comics", str(comic_tree))
    scan = _scan(app, library)
    assert scan.state == "finished", scan.error
    assert asked and not any(asked)
    ids_job = scan.result["archive_ids_job"]
    runner = app.extensions["comicsrv.jobs"]
    assert runner.wait(ids_job, timeout=30)
    job = db.session.get(Job, ids_job, populate_existing=True)
    books = db.session.execute(select(Book).where(Book.library_id == library.id)).scalars().all()
    assert (job.state, job.type, job.target) == ("finished", ARCHIVE_IDS_JOB, f"library:{library.id}")
    assert job.result == {"hashed": len(books), "skipped": 0}
    for book in books:  # unreadable archives too: LANraragi lists them
        assert _ids_of_book(book) == (compute_arcid(book.path), compute_koreader_hash(book.path))

    asked.clear()
    target = Path(books[0].path)
    old_arcid = books[0].arcid
    with target.open("ab") as fh:
        fh.write(b"\0" * 16)
    scan = _scan(app, library)
    assert asked == [True] and "archive_ids_job" not in scan.result
    changed = db.session.get(Book, books[0].id)
    assert changed.arcid == compute_arcid(str(target)) != old_arcid


def test_the_job_writes_no_id_over_a_fresher_one_nor_for_a_changed_file(app, scanned_library,
                                                                        monkeypatch):
    """A rescan may hash a file while the job hashes the same book, and a
    file may change after its row was read: the job keeps the rescan's id
    and leaves the changed file to the next scan."""
    books = db.session.execute(select(Book).where(Book.library_id == scanned_library.id)
                               .order_by(Book.id)).scalars().all()
    rescanned, changed, plain = books[0], books[1], books[2]
    db.session.execute(update(Book).where(Book.id.in_([b.id for b in books]))
                       .values(arcid=None, koreader_hash=None))
    db.session.commit()
    plain_updated = db.session.get(Book, plain.id).updated_at
    with open(changed.path, "ab") as fh:
        fh.write(b"\0" * 16)
    engine, rescanned_id = db.engine, rescanned.id
    hash_files = archive_ids.hash_files

    def hashed_while_a_rescan_writes(rows):
        result = hash_files(rows)
        with engine.begin() as conn:  # as a rescan's reader would, meanwhile
            conn.execute(update(Book).where(Book.id == rescanned_id)
                         .values(arcid="f" * 40, koreader_hash="e" * 32))
        return result

    monkeypatch.setattr(archive_ids, "hash_files", hashed_while_a_rescan_writes)

    class Context:
        def progress(self, *args, **kwargs):
            pass

        def check_cancelled(self):
            pass

    hashed, skipped = fill_missing_ids(Context(), scanned_library.id, 2)  # type: ignore[arg-type]
    db.session.expire_all()
    assert (hashed, skipped) == (len(books) - 1, 1)
    assert _ids_of_book(db.session.get(Book, rescanned.id)) == ("f" * 40, "e" * 32)
    assert _ids_of_book(db.session.get(Book, changed.id)) == (None, None)
    assert _ids_of_book(db.session.get(Book, plain.id)) == (compute_arcid(plain.path),
                                                             compute_koreader_hash(plain.path))
    # LRReader reloads its index when the newest book's time moves.
    assert db.session.get(Book, plain.id).updated_at > plain_updated


def test_a_queued_job_is_not_queued_twice(app, scanned_library):
    queued = JobFactory(type=ARCHIVE_IDS_JOB, target=f"library:{scanned_library.id}",
                        state="queued")
    JobFactory(type=ARCHIVE_IDS_JOB, target=f"library:{scanned_library.id + 1}", state="queued")
    assert queue_archive_ids(scanned_library.id) == queued.id
    running = db.session.get(Job, queued.id)
    running.state = "running"
    db.session.commit()
    # A running job may have read its rows before this scan wrote its books.
    assert queue_archive_ids(scanned_library.id) != queued.id


def test_the_command_line_scan_ends_with_every_id_known(tmp_path):
    """``comicsrv scan`` waits for the ids of a big first scan: its process
    ends right after, and a server may not be running to take the job."""
    import sqlite3
    import subprocess

    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    from make_library import make_library

    count = scanner.DEFERRED_IDS_MIN_FILES + 10
    make_library(tmp_path / "comics", count, pages=2, seed=5)
    data = tmp_path / "data"
    env = {key: value for key, value in os.environ.items() if key != "COMICSRV_DATABASE_URL"}
    base = [sys.executable, "-m", "comicsrv", "--data-dir", str(data)]
    subprocess.run([*base, "library", "add", "Comics", str(tmp_path / "comics")], env=env,
                   check=True, capture_output=True, timeout=120)
    result = subprocess.run([*base, "scan"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "computing archive ids" in result.stderr
    with sqlite3.connect(data / "comicsrv.db") as conn:
        books, hashed, koreader = conn.execute(
            "SELECT count(*), count(arcid), count(koreader_hash) FROM books").fetchone()
        jobs = conn.execute("SELECT type, state FROM jobs ORDER BY id").fetchall()
    assert books == hashed == koreader == count
    assert jobs == [(SCAN_JOB, "finished"), (ARCHIVE_IDS_JOB, "finished")]


def test_a_job_for_a_library_deleted_meanwhile_finishes_with_nothing_to_do(app):
    job = app.extensions["comicsrv.jobs"].run_now(ARCHIVE_IDS_JOB, {"library_id": 999},
                                                  target="library:999")
    assert (job.state, job.result) == ("finished", {"hashed": 0, "skipped": 0})
