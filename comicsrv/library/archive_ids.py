"""Archive ids and KOReader hashes, filled in after a scan (job type
``library.archive_ids``).

LANraragi's archive id is the SHA-1 of a file's first 512,000 bytes, and
KOReader's document id an MD5 of samples of it: reading and hashing that
half megabyte was 40 % of a first scan's CPU, on top of reading each file's
entry list and ComicInfo. A scan that finds many new files therefore leaves
their ids empty and queues this job: the books are browsable as soon as
they are written, and LANraragi clients (which list only books with an id)
and KOReader sync see them seconds later. A scan of a few files, and every
changed file (whose old id becomes an alias), is still hashed in the scan.

Safe beside a scan of the same library: a file is hashed only if it still
has the size and mtime the catalogue describes, and an id is written only
where none was, so a rescan's fresher id is never overwritten.
"""
from __future__ import annotations

from typing import Iterator, Sequence

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select

from .. import services
from ..events import LibraryUpdated
from ..extensions import db
from ..jobs.pool import native_executor
from ..jobs.runner import JobContext
from ..models import Book, Library
from ..models.jobs import QUEUED, Job
from ..models.library import BOOK_MISSING
from .reader import compute_ids

ARCHIVE_IDS_JOB = "library.archive_ids"
# Files per task on a hashing thread, and per database transaction.
HASH_TASK_SIZE = 50
WRITE_BATCH = 1000

# (book id, path, size, mtime) in; (book id, arcid, KOReader hash) out.
HashRow = tuple[int, str, int, float]


def archive_ids_target(library_id: int) -> str:
    return f"library:{library_id}"


def queue_archive_ids(library_id: int) -> int:
    """Queue the library's archive-id job unless one is queued already (it
    will see every book without an id when it starts); the job id."""
    queued = db.session.execute(select(Job.id).where(
        Job.type == ARCHIVE_IDS_JOB, Job.target == archive_ids_target(library_id),
        Job.state == QUEUED).limit(1)).scalar()
    if queued is not None:
        return queued
    return services.jobs().submit(ARCHIVE_IDS_JOB, {"library_id": library_id},
                                  target=archive_ids_target(library_id))


def archive_ids_job(ctx: JobContext, library_id: int) -> dict:
    library = db.session.get(Library, library_id)
    if library is None:  # deleted since the scan: nothing left to hash
        return {"hashed": 0, "skipped": 0}
    workers = max(1, int(current_app.config["CPU_WORKERS"]))
    hashed, skipped = fill_missing_ids(ctx, library_id, workers)
    if hashed:
        services.events().publish(LibraryUpdated(library_id=library_id))
    ctx.outcome = f"library {library.name!r}: {hashed} archive ids computed" + (
        f", {skipped} files changed or gone meanwhile (the next scan reads them)" if skipped else "")
    return {"hashed": hashed, "skipped": skipped}


def fill_missing_ids(ctx: JobContext, library_id: int, workers: int) -> tuple[int, int]:
    """Hash the library's books that have no archive id or KOReader hash
    (folder books have no KOReader hash and are hashed again: cheap, their
    arcid is a listing), on ``workers`` native threads: reading and hashing
    release the GIL. Returns (hashed, skipped because changed or gone)."""
    rows = db.session.execute(select(Book.id, Book.path, Book.size, Book.mtime).where(
        Book.library_id == library_id, Book.state != BOOK_MISSING,
        or_(Book.arcid.is_(None), and_(Book.koreader_hash.is_(None),
                                       Book.format != "folder")))
        .order_by(Book.id)).all()
    db.session.commit()  # no transaction held open while hashing
    total = len(rows)
    if not total:
        return 0, 0
    ctx.progress(0, total, f"computing {total} archive ids", force=True)
    hashed = 0
    # Threads of its own, not the server's CPU pool: page and cover requests
    # keep theirs while a big library is hashed.
    with native_executor(workers) as pool:
        for start in range(0, total, WRITE_BATCH):
            ctx.check_cancelled()
            chunk = rows[start:start + WRITE_BATCH]
            values = [{"book_id": i, "new_arcid": a, "new_koreader_hash": k}
                      for part in pool.map(hash_files, _chunks(chunk, HASH_TASK_SIZE))
                      for i, a, k in part]
            if values:
                _store(values)
            db.session.commit()
            hashed += len(values)
            ctx.progress(start + len(chunk), total, f"computed {hashed} of {total} archive ids")
    return hashed, total - hashed


def _store(values: list[dict]) -> None:
    """Write the ids only where none was, or the same: a rescan may have
    hashed a newer content of the file meanwhile."""
    table = Book.__table__
    db.session.execute(
        table.update().where(table.c.id == bindparam("book_id"),
                             or_(table.c.arcid.is_(None), table.c.arcid == bindparam("new_arcid")))
        .values(arcid=bindparam("new_arcid"), koreader_hash=bindparam("new_koreader_hash")),
        values)


def hash_files(rows: Sequence[HashRow]) -> list[tuple[int, str, str | None]]:
    """(book id, arcid, KOReader hash) of each row whose file still has its
    size and mtime; a file changed or gone since is left to the next scan."""
    hashed = []
    for book_id, path, size, mtime in rows:
        try:
            ids = compute_ids(path, size, mtime)
        except OSError:
            continue
        if ids is not None:
            hashed.append((book_id, *ids))
    return hashed


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
