"""The library scan job: walk, diff, read what changed, write in batches.

1. Walk the library (stat only) and load what the catalogue knows of it.
2. Skip every file whose size and mtime are unchanged (all files with
   ``deep``), so a rescan of an unchanged library opens nothing.
3. Read new and changed files in a pool, a batch at a time, and write each
   batch in one transaction while the next batch is read.
4. A new file whose size and archive id match a book that disappeared is
   that book, moved or renamed: it keeps its id and everyone's progress.
5. Books whose file is gone are marked missing, never deleted: a NAS share
   that comes back restores them untouched.

An unreadable file is recorded as an errored book with the reason, and the
scan goes on. A library folder that is not there at all fails the scan
without marking anything missing (an unmounted share is not an empty one).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import defaultdict, deque
from concurrent.futures import (
    BrokenExecutor, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from flask import current_app
from sqlalchemy import or_, select, update

from .. import services
from ..archives.tools import die_with_parent
from ..errors import NotFound
from ..events import BookDeleted, LibraryUpdated, ScanProgress, SeriesDeleted
from ..extensions import db
from ..fspaths import display
from ..jobs.pool import native_executor, run_cpu
from ..jobs.runner import JobContext
from ..models import ArcidAlias, Book, Library, Series, utcnow
from .archive_ids import HASH_TASK_SIZE, fill_missing_ids, hash_files, queue_archive_ids
from .catalog import Catalog, forget_current_arcids, remember_arcids
from .reader import ScannedFile, compute_arcid, read_batch, read_comic
from .walker import (
    COMIC_EXTENSIONS, IMAGE_EXTENSIONS, MIN_FOLDER_PAGES, FileStat, walk_library,
)
from ..models.library import BOOK_MISSING

log = logging.getLogger(__name__)

SCAN_JOB = "library.scan"
# Files per database transaction, and per task sent to a reader process.
BATCH_SIZE = 250
TASK_SIZE = 25
# Below this many files to read, starting worker processes costs more than it saves.
PROCESS_POOL_MIN_FILES = 200
# Tasks queued per reader process: deep enough that the readers keep going
# while the scan's own process waits on the database (a PostgreSQL COPY or
# commit), shallow enough that memory stays flat (2 x 16 x 25 files' results
# are about a megabyte). At 4, first scans on PostgreSQL ran 10 % slower.
TASKS_IN_FLIGHT_PER_WORKER = 16
# From this many new files on, their archive ids are computed after the scan,
# by the ``library.archive_ids`` job, so the books are browsable sooner.
DEFERRED_IDS_MIN_FILES = 200


class LibraryUnavailable(RuntimeError):
    """The library folder is missing or unreadable: nothing is marked missing.
    An outcome to report in one line, not a bug (``expected``)."""

    expected = True


@dataclass(slots=True)
class KnownBook:
    id: int
    size: int
    mtime: float
    state: str
    arcid: str | None
    series_id: int | None = None


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _load_known(library_id: int) -> dict[str, KnownBook]:
    rows = db.session.execute(select(Book.path, Book.id, Book.size, Book.mtime, Book.state,
                                     Book.arcid, Book.series_id).where(Book.library_id == library_id))
    return {path: KnownBook(i, s, m, st, a, se) for path, i, s, m, st, a, se in rows}


def _unchanged(known: KnownBook, stat: FileStat) -> bool:
    return (known.state != BOOK_MISSING and known.size == stat.size
            and abs(known.mtime - stat.mtime) < 1e-6)


def scan_library(ctx: JobContext, library_id: int, deep: bool | None = None) -> dict:
    library = db.session.get(Library, library_id)
    if library is None:
        raise NotFound(f"No library {library_id}")
    if deep is None:  # a scheduled scan: the library's default mode as it is now
        deep = library.default_scan_mode == "deep"
    root = library.path
    if not os.path.isdir(root) or not os.access(root, os.R_OK | os.X_OK):
        raise LibraryUnavailable(f"library folder {root} is missing or unreadable; "
                                 "nothing was marked missing")
    bus = services.events()
    workers = max(1, int(current_app.config["CPU_WORKERS"]))
    cache_dir = str(Path(current_app.config["CACHE_DIR"]) / "archives")

    started = time.perf_counter()
    ctx.progress(0, 0, "listing files", force=True)
    walk_errors: list[tuple[str, str]] = []
    on_disk = {stat.path: stat for stat in walk_library(root, walk_errors)}
    ctx.check_cancelled()
    known = _load_known(library_id)
    catalog = Catalog(library_id, root, bus)
    counts = catalog.counts

    to_read = [stat for path, stat in on_disk.items()
               if deep or path not in known or not _unchanged(known[path], stat)]
    counts.unchanged = len(on_disk) - len(to_read)
    vanished = {path: book for path, book in known.items() if path not in on_disk}
    # Candidates for "moved": vanished books with an archive id, by size.
    vanished_by_size: dict[int, list[tuple[str, KnownBook]]] = defaultdict(list)
    for path, book in vanished.items():
        if book.arcid:
            vanished_by_size[book.size].append((path, book))

    total = len(to_read)
    timings = {"walk": round(time.perf_counter() - started, 3)}
    ctx.progress(0, total, f"reading {total} new or changed files", force=True)
    done = 0
    # The readers give each file's archive id with its contents, except new
    # files when there are many: the ``library.archive_ids`` job hashes those
    # after the scan. A file the readers could not hash (gone by then) is
    # hashed on native threads while later batches are read and written,
    # and stored after indexing.
    defer_ids = sum(1 for stat in to_read if stat.path not in known) >= DEFERRED_IDS_MIN_FILES
    hashes: list[Future] = []
    # The archive id each changed file had: a new one makes it an alias.
    previous_arcids: dict[int, str] = {}
    with _reader_pool(workers, total) as pool, native_executor(workers) as hasher:
        pending: list[ScannedFile] = []

        def flush() -> int:
            written = _write(catalog, pending, known, vanished, vanished_by_size)
            unhashed = [(book_id, item) for book_id, item in written if not item.arcid
                        and not (defer_ids and item.path not in known)]
            previous_arcids.update((book_id, known[item.path].arcid) for book_id, item in unhashed
                                   if item.path in known and known[item.path].arcid)
            # The readers hash each file they were asked to; one they could
            # not (gone since) is hashed here, or by the next scan.
            to_hash = [(book_id, item.path, item.size, item.mtime) for book_id, item in unhashed]
            hashes.extend(hasher.submit(hash_files, chunk)
                          for chunk in _chunks(to_hash, HASH_TASK_SIZE))
            return len(pending)

        tasks = [(stat.path, stat.size, stat.mtime, not defer_ids or stat.path in known)
                 for stat in to_read]
        for results in _read_all(pool, tasks, cache_dir, workers):
            pending.extend(results)
            if len(pending) >= BATCH_SIZE:
                ctx.check_cancelled()
                done += flush()
                pending = []
                ctx.progress(done, total, f"indexed {done} of {total}")
                bus.publish(ScanProgress(library_id=library_id, job_id=ctx.job_id,
                                         current=done, total=total))
        if pending:
            done += flush()
            ctx.progress(done, total, f"indexed {done} of {total}")
        timings["index"] = round(time.perf_counter() - started - timings["walk"], 3)
        hash_started = time.perf_counter()
        ctx.progress(done, total, "computing archive ids", force=True)
        _store_arcids(ctx, hashes, previous_arcids)

    _mark_missing(catalog, vanished, bus, library_id)
    ids_job = None
    if defer_ids:
        ids_job = queue_archive_ids(library_id)
    else:
        fill_missing_ids(ctx, library_id, workers)
    # A changed file that hashed to its old id after all needs no alias.
    forget_current_arcids()
    db.session.commit()
    timings["hash"] = round(time.perf_counter() - hash_started, 3)
    drop_empty_series(library_id, bus)
    library.last_scan_at = utcnow()
    db.session.commit()
    bus.publish(ScanProgress(library_id=library_id, job_id=ctx.job_id, current=total,
                             total=total, message="done"))
    bus.publish(LibraryUpdated(library_id=library_id))
    result = counts.as_dict()
    result["files"] = len(on_disk)
    result["seconds"] = timings
    if ids_job is not None:
        result["archive_ids_job"] = ids_job
    ctx.outcome = scan_outcome(library.name, counts, len(on_disk))
    if walk_errors:
        result["unreadable_folders"] = [f"{display(p)}: {r}" for p, r in walk_errors[:50]]
    ctx.progress(total, total, "done", force=True)
    return result


def scan_outcome(library_name: str, counts, files: int | None = None) -> str:
    """One line for the log: ``library 'Comics': 8 files, 3 new, 1 unreadable``."""
    parts = [f"{files} files"] if files is not None else []
    for label, value in (("new", counts.created), ("changed", counts.updated),
                         ("moved", counts.moved), ("missing", counts.missing),
                         ("unreadable", counts.errored)):
        if value:
            parts.append(f"{value} {label}")
    if len(parts) <= 1:
        parts.append("nothing changed")
    return f"library {library_name!r}: " + ", ".join(parts)


def _reader_pool(workers: int, files: int) -> Executor:
    """Worker processes for big scans: archive listing and XML parsing are
    Python code that holds the GIL, so threads would not use the second core.
    "spawn" gives clean children even when the server is gevent-patched.

    Each worker first arms a parent-death signal: when the server dies
    without a word (the OOM killer's SIGKILL), its workers die with it
    instead of waiting, reparented to init, for tasks that never come, and
    multiprocessing's resource tracker, whose pipe they held open, then ends
    too. So no reader outlives the server or runs beside the next one.
    """
    if workers > 1 and files >= PROCESS_POOL_MIN_FILES:
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))
    return ThreadPoolExecutor(1, thread_name_prefix="scan")


def _read_all(pool: Executor, files: list[tuple[str, int, float, bool]], cache_dir: str,
              workers: int) -> Iterator[list[ScannedFile]]:
    """Results in order, with a bounded number of tasks in flight so memory
    stays flat however big the library is.

    If the worker processes cannot start (a host script without a
    ``__main__`` guard) or die (a crash in a native decoder), the tasks not
    yet done are read in this process instead: the scan slows down but ends.
    """
    tasks = deque(list(chunk) for chunk in _chunks(files, TASK_SIZE))
    in_flight: deque[tuple[list, Future]] = deque()
    try:
        while tasks or in_flight:
            while tasks and len(in_flight) < workers * TASKS_IN_FLIGHT_PER_WORKER:
                future = pool.submit(read_batch, tasks[0], cache_dir)
                in_flight.append((tasks.popleft(), future))
            task, future = in_flight.popleft()
            try:
                yield future.result()
            except BaseException:
                in_flight.appendleft((task, future))
                raise
    except (BrokenExecutor, RuntimeError) as exc:
        log.warning("scan worker processes failed (%s); reading in this process", exc)
        for task, _ in in_flight:
            yield read_batch(task, cache_dir)
        for task in tasks:
            yield read_batch(task, cache_dir)


def _write(catalog: Catalog, results: list[ScannedFile], known: dict[str, KnownBook],
           vanished: dict[str, KnownBook],
           vanished_by_size: dict[int, list[tuple[str, KnownBook]]]) -> list[tuple[int, ScannedFile]]:
    new, changed = [], []
    for item in results:
        if item.path in known and item.path not in vanished:
            changed.append((known[item.path].id, item))
            continue
        moved_from = _match_moved(item, vanished_by_size)
        if moved_from is not None:
            old_path, book = moved_from
            vanished.pop(old_path, None)
            catalog.counts.moved += 1
            changed.append((book.id, item))
        else:
            new.append(item)
    return catalog.write_batch(new, changed)


def _match_moved(item: ScannedFile, by_size: dict[int, list[tuple[str, KnownBook]]]):
    candidates = by_size.get(item.size)
    if not candidates:
        return None
    item.arcid = item.arcid or compute_arcid(item.path)
    for index, (_path, book) in enumerate(candidates):
        if book.arcid == item.arcid:
            return candidates.pop(index)
    return None


def _store_arcids(ctx: JobContext, futures: list[Future], previous: dict[int, str]) -> None:
    """Store the hashed archive ids; a file changed in place keeps the id it
    had as an alias (see ``lrr.archives.find_archive``). Recorded here, once
    the new id is known, so a deep scan of files whose content did not
    change writes no alias at all."""
    values: list[dict] = []

    def store() -> None:
        db.session.execute(update(Book), values)
        remember_arcids((previous[row["id"]], row["id"]) for row in values
                        if previous.get(row["id"], row["arcid"]) != row["arcid"])
        db.session.commit()

    for future in futures:
        values.extend({"id": book_id, "arcid": arcid, "koreader_hash": koreader}
                      for book_id, arcid, koreader in future.result())
        if len(values) >= 1000:
            ctx.check_cancelled()
            store()
            values = []
    if values:
        store()


def _mark_missing(catalog: Catalog, vanished: dict[str, KnownBook], bus, library_id: int) -> None:
    books = [book for book in vanished.values() if book.state != BOOK_MISSING]
    for chunk in _chunks([book.id for book in books], 500):
        db.session.execute(update(Book).where(Book.id.in_(chunk))
                           .values(state=BOOK_MISSING, missing_since=utcnow()))
    db.session.commit()
    catalog.counts.missing = len(books)
    for book in books:
        bus.publish(BookDeleted(book_id=book.id, series_id=book.series_id, library_id=library_id))


def drop_empty_series(library_id: int, bus) -> None:
    """Delete the library's series that have no book left (a book moved to
    another series by its new metadata leaves its old one empty)."""
    empty = db.session.execute(select(Series.id).where(
        Series.library_id == library_id, ~Series.books.any())).scalars().all()
    if empty:
        db.session.execute(Series.__table__.delete().where(Series.id.in_(empty)))
        db.session.commit()
        for series_id in empty:
            bus.publish(SeriesDeleted(series_id=series_id, library_id=library_id))


def index_file(library_id: int, path: str) -> Book:
    """Index one file of a library now, as a scan would (post-processing
    imports, uploads): a new book, or the book already at that path updated.

    A file that post-processing made from a library book (converted or
    tagged, see ``automation.tagging``) becomes that book when the book's
    own file is gone: it was a move, so the book keeps its id, progress and,
    as an alias, its old archive id.
    """
    from ..errors import BadRequest
    from ..jobs.pool import run_cpu
    from .reader import read_comic

    library = db.session.get(Library, library_id)
    if library is None:
        raise NotFound(f"No library {library_id}")
    root = os.path.realpath(library.path)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root or not os.path.isfile(real):
        raise BadRequest(f"{display(path)} is not a file inside library {library.name}")
    stat = os.stat(path)
    cache_dir = str(Path(current_app.config["CACHE_DIR"]) / "archives")
    item = run_cpu(read_comic, path, stat.st_size, stat.st_mtime, cache_dir, True)
    bus = services.events()
    catalog = Catalog(library_id, library.path, bus)
    existing = db.session.execute(select(Book.id).where(
        Book.library_id == library_id, Book.path == path)).scalar()
    if existing is None and item.arcid:
        existing = _book_copied_into(item.arcid, path)
    previous = db.session.execute(select(Book.library_id).where(Book.id == existing)).scalar() \
        if existing else None
    catalog.write_batch([] if existing else [item], [(existing, item)] if existing else [])
    for touched in {library_id, previous} - {None}:
        drop_empty_series(touched, bus)
    return db.session.execute(select(Book).where(
        Book.library_id == library_id, Book.path == path)).scalar_one()


def _book_copied_into(arcid: str, path: str) -> int | None:
    """The book a post-processed copy with this archive id was made from,
    if that book's file is gone (moved away by the import); a copy beside a
    book that is still there is a book of its own."""
    for book_id, book_path in db.session.execute(
            select(Book.id, Book.path).join(ArcidAlias, ArcidAlias.book_id == Book.id)
            .where(ArcidAlias.arcid == arcid).order_by(Book.id)).all():
        if book_path != path and not os.path.exists(book_path):
            return book_id
    return None


def scan_paths(ctx: JobContext, library_id: int, paths: Sequence[str]) -> dict:
    """A scan of a few paths of a library, as a full scan would treat them:
    what the library watcher found changed (``comicsrv.library.watcher``).

    Each path is a file or folder, present or gone. A present folder is
    walked; an image that changed makes its folder a candidate folder book;
    a gone path marks its book, or every book below it, missing. A new file
    with the size and archive id of a book whose file is gone (one of these
    paths, or missing since earlier) is that book moved. The rest of the
    library is not looked at.
    """
    library = db.session.get(Library, library_id)
    if library is None:
        raise NotFound(f"No library {library_id}")
    root = os.path.realpath(library.path)
    if not os.path.isdir(root) or not os.access(root, os.R_OK | os.X_OK):
        raise LibraryUnavailable(f"library folder {root} is missing or unreadable; "
                                 "nothing was marked missing")
    bus = services.events()
    cache_dir = str(Path(current_app.config["CACHE_DIR"]) / "archives")
    on_disk: dict[str, FileStat] = {}
    exact: set[str] = set()
    subtrees: set[str] = set()
    for path in _outermost(_inside(root, paths)):
        if os.path.isdir(path):
            subtrees.add(path)
            exact.add(path)
            folder_book = _folder_book(path, root)
            if folder_book is not None:
                on_disk[path] = folder_book
            for stat in walk_library(path):
                on_disk[stat.path] = stat
        elif os.path.isfile(path):
            ext = os.path.splitext(path)[1].lower()
            if ext in COMIC_EXTENSIONS:
                exact.add(path)
                stat = os.stat(path)
                on_disk[path] = FileStat(path, stat.st_size, stat.st_mtime)
            elif ext in IMAGE_EXTENSIONS and os.path.dirname(path) != root:
                folder = os.path.dirname(path)
                exact.add(folder)
                folder_book = _folder_book(folder, root)
                if folder_book is not None:
                    on_disk[folder] = folder_book
        else:  # gone: the book at it, or every book below it if it was a folder
            exact.add(path)
            subtrees.add(path)
    known = _load_known_paths(library_id, exact, subtrees)
    catalog = Catalog(library_id, library.path, bus)
    to_read = [stat for path, stat in on_disk.items()
               if path not in known or not _unchanged(known[path], stat)]
    catalog.counts.unchanged = len(on_disk) - len(to_read)
    vanished = {path: book for path, book in known.items() if path not in on_disk}
    vanished_by_size: dict[int, list[tuple[str, KnownBook]]] = defaultdict(list)
    for path, book in vanished.items():
        if book.arcid:
            vanished_by_size[book.size].append((path, book))
    sizes = {stat.size for stat in to_read if stat.path not in known}
    if sizes:  # books whose file went missing earlier may have moved here
        for row in db.session.execute(select(
                Book.path, Book.id, Book.size, Book.mtime, Book.state, Book.arcid,
                Book.series_id).where(Book.library_id == library_id, Book.state == BOOK_MISSING,
                                      Book.arcid.is_not(None), Book.size.in_(sizes))):
            if row.path not in vanished:
                vanished_by_size[row.size].append(
                    (row.path, KnownBook(row.id, row.size, row.mtime, row.state, row.arcid,
                                         row.series_id)))
    ctx.progress(0, len(to_read), f"reading {len(to_read)} changed files", force=True)
    results = []
    for index, stat in enumerate(to_read, 1):
        ctx.check_cancelled()
        results.append(run_cpu(read_comic, stat.path, stat.size, stat.mtime, cache_dir, True))
        ctx.progress(index, len(to_read))
    if results:
        _write(catalog, results, known, vanished, vanished_by_size)
    _mark_missing(catalog, vanished, bus, library_id)
    forget_current_arcids()
    db.session.commit()
    drop_empty_series(library_id, bus)
    bus.publish(LibraryUpdated(library_id=library_id))
    ctx.outcome = scan_outcome(library.name, catalog.counts) + f" ({len(paths)} changed paths)"
    result = catalog.counts.as_dict()
    result["paths"] = len(paths)
    return result


def _inside(root: str, paths: Sequence[str]) -> list[str]:
    """The paths below the library's folder (resolved parents, the name as
    given: a deleted file cannot be resolved), skipping hidden names."""
    inside = []
    for path in paths:
        path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if path == root or os.path.commonpath([root, path]) != root:
            continue
        relative = os.path.relpath(path, root).split(os.sep)
        if any(part.startswith(".") or part == "__MACOSX" or part.startswith("@eaDir")
               for part in relative):
            continue
        inside.append(path)
    return inside


def _outermost(paths: Sequence[str]) -> list[str]:
    """``paths`` without those inside another of them (a walked folder covers them)."""
    result: list[str] = []
    for path in sorted(set(paths)):
        if result and path.startswith(result[-1] + os.sep):
            continue
        result.append(path)
    return result


def _folder_book(folder: str, root: str) -> FileStat | None:
    """``folder`` as a book of images, as the walker counts one (no comics,
    no sub-folders, at least ``MIN_FOLDER_PAGES`` images), else None."""
    if folder == root:
        return None
    try:
        with os.scandir(folder) as entries:
            children = [entry for entry in entries if not entry.name.startswith(".")]
        if any(entry.is_dir(follow_symlinks=False) for entry in children):
            return None
        names = [entry for entry in children if entry.is_file()]
        if any(os.path.splitext(e.name)[1].lower() in COMIC_EXTENSIONS for e in names):
            return None
        images = [e.stat() for e in names
                  if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS]
    except OSError:
        return None
    if len(images) < MIN_FOLDER_PAGES:
        return None
    return FileStat(folder, sum(s.st_size for s in images), max(s.st_mtime for s in images),
                    is_folder=True)


def _load_known_paths(library_id: int, exact: set[str],
                      subtrees: set[str]) -> dict[str, KnownBook]:
    """The library's books at ``exact`` paths or below ``subtrees`` (a range
    on the indexed path: ``folder/`` up to ``folder0``, '0' following '/')."""
    columns = (Book.path, Book.id, Book.size, Book.mtime, Book.state, Book.arcid, Book.series_id)
    conditions = [Book.path.in_(sorted(exact))] if exact else []
    for folder in subtrees:
        conditions.append((Book.path > folder + os.sep) & (Book.path < folder + chr(ord(os.sep) + 1)))
    if not conditions:
        return {}
    known = {}
    for chunk in _chunks(conditions, 200):
        for path, i, s, m, st, a, se in db.session.execute(
                select(*columns).where(Book.library_id == library_id, or_(*chunk))):
            known[path] = KnownBook(i, s, m, st, a, se)
    return known
