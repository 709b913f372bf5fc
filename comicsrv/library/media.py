"""Covers and pages of books, as bytes ready to serve.

- Cover thumbnails are made once and cached on disk, keyed by the book's
  content (archive id, cover page, size), so a moved file keeps its cover
  and a changed file gets a new one. The key is also the ETag.
- A page stored uncompressed in a zip is a byte range of the archive: it is
  read with one seek, without opening the archive or decoding anything.
- Other pages come from an open-archive cache, so a reader turning the pages
  of a solid RAR does not unpack the archive once per page.
- All image work runs through ``run_cpu``: off the event loop under gevent.
  At most ``IMAGE_QUEUE`` requests' image work runs or waits at once; one
  more is refused with ``Busy`` (503 + Retry-After) before any work, so a
  burst of resizes cannot queue every other request behind it.
- Pathological pages cost bounded time and memory, and only once. Two kinds
  of work go to worker processes (``comicsrv.jobs.pool.ProcessWorkers``)
  that are killed past ``RENDER_TIMEOUT_SECONDS``: PDF pages (a crafted
  vector page renders for minutes, and PDFium cannot be stopped in a thread)
  and decodes of more than ``LARGE_IMAGE_PIXELS`` (a 14,000-pixel PNG is
  780 MB decoded; Pillow cannot decode a PNG reduced). There are
  ``LARGE_IMAGE_DECODES`` large-image workers, so six readers of such a page
  queue, on their own greenlets, instead of each allocating 780 MB on a CPU
  thread while everyone else's pages stall; the memory goes back to the
  system with the worker, not into the server's heap for good. Both kinds
  of result go to a disk cache of ``RENDER_CACHE_MB``: the queued requests
  and the next reader get a file read.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .. import images
from ..archives import ArchiveError, ComicArchive, open_archive
from ..errors import BadRequest, Busy, NotFound
from ..filebody import FileBody
from ..jobs.pool import ProcessWorkers, WorkerFailed, WorkerTimeout, run_cpu
from ..models import Book
from . import spans
from .access import BookFile

log = logging.getLogger(__name__)

DEFAULT_COVER_EDGE = 400
#: Bytes read from the start of a page to name its format (``images.sniff``).
SNIFF_BYTES = 256
ARCHIVE_CACHE_SIZE = 8
#: Address space of a PDF worker: a normal render peaks under 100 MB; a
#: crafted page asking for gigabytes fails there instead of swapping the NAS.
PDF_WORKER_MEMORY = 1 << 30
#: Address space of a large-image worker: the 200 MP pixel budget decoded at
#: 4 bytes a pixel, a converted copy and the interpreter.
IMAGE_WORKER_MEMORY = 3 << 30
#: A page that ran out of time is refused at once for this long, instead of
#: burning a worker for the whole limit on every request.
SLOW_PAGE_MEMORY_SECONDS = 3600.0
SLOW_PAGE_MEMORY_SIZE = 1024


def book_version(book: Book | BookFile) -> str:
    """Changes whenever the file's content may have: the archive id, size and
    modification time. Page URLs carry it (``?v=``) so a cached page is
    never stale."""
    return hashlib.sha1(f"{book.arcid}:{book.size}:{book.mtime}".encode()).hexdigest()[:16]


class MediaUnavailable(NotFound):
    """The book exists but its file (or that page) cannot be read now."""

    code = "media_unavailable"


class PageTooSlow(MediaUnavailable):
    """Rendering the page ran past the time limit and was stopped."""

    code = "render_timeout"


class ArchiveChanged(OSError):
    """The file on disk is not the one the catalogue describes."""


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What one page may cost; see the module docstring and ``config.py``."""

    render_timeout: float = 15.0
    pdf_render_workers: int = 2
    large_image_pixels: int = 25_000_000
    large_image_decodes: int = 1
    render_cache_bytes: int = 1024 * 1024 * 1024
    image_queue: int = 16

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MediaLimits:
        defaults = cls()
        return cls(
            render_timeout=float(config.get("RENDER_TIMEOUT_SECONDS", defaults.render_timeout)),
            pdf_render_workers=int(config.get("PDF_RENDER_WORKERS", defaults.pdf_render_workers)),
            large_image_pixels=int(config.get("LARGE_IMAGE_PIXELS", defaults.large_image_pixels)),
            large_image_decodes=int(config.get("LARGE_IMAGE_DECODES",
                                               defaults.large_image_decodes)),
            render_cache_bytes=int(float(config.get("RENDER_CACHE_MB", 1024)) * 1024 * 1024),
            image_queue=int(config.get("IMAGE_QUEUE", defaults.image_queue)),
        )


@dataclass(frozen=True, slots=True)
class Media:
    data: bytes
    mime_type: str
    etag: str | None = None
    path: str | None = None  # set when ``data`` is empty and the file is served as is
    # Set instead of ``data`` for a page served straight from its file
    # (``page(..., as_file=True)``); the response closes it.
    body: FileBody | None = None


class ArchiveCache:
    """A few open archives, most recently used first, each with its own lock
    (archive readers are not safe for concurrent reads)."""

    def __init__(self, cache_dir: str, size: int = ARCHIVE_CACHE_SIZE):
        self.cache_dir = cache_dir
        self.size = size
        self._open: OrderedDict[tuple[str, float], tuple[ComicArchive, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    def read_page(self, path: str, mtime: float, index: int) -> bytes:
        archive, lock = self._get(path, mtime)
        with lock:
            return run_cpu(archive.read_page, index)

    def read_entry(self, path: str, mtime: float, name: str) -> bytes:
        archive, lock = self._get(path, mtime)
        with lock:
            return run_cpu(archive.read_entry, name)

    def _get(self, path: str, mtime: float) -> tuple[ComicArchive, threading.Lock]:
        key = (path, mtime)
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key]
        archive = run_cpu(open_archive, path, self.cache_dir)
        with self._lock:
            if key in self._open:  # another request opened it meanwhile
                archive.close()
                return self._open[key]
            self._open[key] = (archive, threading.Lock())
            while len(self._open) > self.size:
                _, (old, old_lock) = self._open.popitem(last=False)
                with old_lock:
                    old.close()
            return self._open[key]

    def close(self) -> None:
        with self._lock:
            while self._open:
                _, (archive, _) = self._open.popitem()
                archive.close()


class RenderCache:
    """Results of expensive page work (a resize of a huge page, a rendered PDF
    page) as files, keyed by content, at most ``max_bytes`` in all.

    Only costly results come here, so the cache holds the pages it pays to
    keep rather than every page ever read. A hit refreshes the file's mtime;
    past the budget the least recently used files go first. Several
    processes may share the directory: writes are atomic renames, and the
    running total is re-measured at every eviction.
    """

    def __init__(self, directory: Path, max_bytes: int):
        self.directory = directory
        self.max_bytes = max_bytes
        self._size: int | None = None
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def get(self, key: str) -> bytes | None:
        if self.max_bytes <= 0:
            return None
        path = self.path(key)
        try:
            data = path.read_bytes()
            os.utime(path)
        except FileNotFoundError:  # never made, or evicted meanwhile
            return None
        return data

    def put(self, key: str, data: bytes) -> None:
        if self.max_bytes <= 0 or len(data) > self.max_bytes:
            return
        _write_atomically(self.path(key), data)
        with self._lock:
            if self._size is None:
                self._size = self._measure()
            else:
                self._size += len(data)
            if self._size > self.max_bytes:
                self._evict()

    def _files(self) -> list[os.DirEntry]:
        if not self.directory.is_dir():
            return []
        return [entry for sub in os.scandir(self.directory) if sub.is_dir()
                for entry in os.scandir(sub.path)
                if entry.is_file() and not entry.name.startswith(".tmp-")]

    def _measure(self) -> int:
        return sum(entry.stat().st_size for entry in self._files())

    def _evict(self) -> None:
        entries = sorted(((e.stat().st_mtime, e.stat().st_size, e.path) for e in self._files()))
        total = sum(size for _, size, _ in entries)
        target = self.max_bytes * 0.8
        for _, size, path in entries:
            if total <= target:
                break
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            total -= size
        self._size = total


_workers: dict[str, ProcessWorkers] = {}
_workers_lock = threading.Lock()


def shared_workers(kind: str, size: int, memory_limit: int) -> ProcessWorkers:
    """The process's worker processes for ``kind`` of work ("pdf",
    "image"), made on first use: one set per process, however many apps it
    builds (tests build hundreds)."""
    with _workers_lock:
        if kind not in _workers:
            _workers[kind] = ProcessWorkers(size, memory_limit=memory_limit)
        return _workers[kind]


class MediaService:
    def __init__(self, cache_dir: str, limits: MediaLimits | None = None):
        self.limits = limits or MediaLimits()
        self.covers_dir = Path(cache_dir) / "covers"
        self.archives = ArchiveCache(str(Path(cache_dir) / "archives"))
        self.renders = RenderCache(Path(cache_dir) / "renders", self.limits.render_cache_bytes)
        self._too_slow: OrderedDict[str, float] = OrderedDict()
        self._image_work = 0  # requests' image work running or waiting
        self._image_lock = threading.Lock()

    @contextmanager
    def _admitted(self, what: str) -> Iterator[None]:
        """A place for one request's image work, or ``Busy`` at once."""
        with self._image_lock:
            if self._image_work >= self.limits.image_queue:
                raise Busy(f"{what}: the server is busy making images; retry in a moment")
            self._image_work += 1
        try:
            yield
        finally:
            with self._image_lock:
                self._image_work -= 1

    # -- covers ------------------------------------------------------------

    def cover_key(self, book: Book | BookFile, edge: int) -> str:
        content = book.arcid or hashlib.sha1(f"{book.path}:{book.size}:{book.mtime}".encode()).hexdigest()
        return f"{content}-{book.cover_page}-{edge}"

    def cover_path(self, key: str) -> Path:
        return self.covers_dir / key[:2] / f"{key}.jpg"

    def cover(self, book: Book | BookFile, edge: int = DEFAULT_COVER_EDGE, *,
              as_file: bool = False) -> Media:
        """A JPEG thumbnail of the book's cover page, long edge ``edge``.
        With ``as_file``, a cover made before comes as a ``FileBody`` of its
        cache file (opened here, so an eviction meanwhile cannot race it)."""
        edge = max(images.MIN_EDGE, min(images.MAX_EDGE, int(edge)))
        key = self.cover_key(book, edge)
        path = self.cover_path(key)
        if as_file:
            try:
                return Media(b"", "image/jpeg", key, str(path), body=FileBody.open(path))
            except FileNotFoundError:
                pass
        elif path.exists():
            return Media(b"", "image/jpeg", key, str(path))
        index = book.cover_page if book.cover_page < book.page_count else 0
        what = f"The cover of book {book.id}"
        with self._admitted(what):
            page = self._page_bytes(book, index)
            try:
                pixels = run_cpu(images.thumbnail_cost, page, edge)
                if pixels < self.limits.large_image_pixels:
                    data = run_cpu(images.thumbnail, page, edge)
                else:
                    data = self._in_worker(self.render_key(book, index, f"cover{edge}"), what,
                                           self._image_workers(), _always, images.thumbnail,
                                           page, edge)
            except images.ImageError as exc:
                raise MediaUnavailable(f"{what} cannot be decoded: {exc}") from None
        _write_atomically(path, data)
        return Media(data, "image/jpeg", key, str(path))

    def has_cover(self, book: Book, edge: int = DEFAULT_COVER_EDGE) -> bool:
        return self.cover_path(self.cover_key(book, edge)).exists()

    # -- pages -------------------------------------------------------------

    def page(self, book: Book | BookFile, number: int, *, width: int | None = None,
             height: int | None = None, fmt: str | None = None,
             as_file: bool = False) -> Media:
        """Page ``number`` (1-based) as stored, or resized/re-encoded on request.

        With ``as_file``, a page stored uncompressed comes back as a
        ``FileBody`` over its byte range (for the server to ``sendfile``)
        instead of bytes. A resize of a large image happens in a worker
        process and is cached; a cached one is served without reading the
        page at all."""
        if not 1 <= number <= book.page_count:
            raise NotFound(f"Book {book.id} has no page {number} (it has {book.page_count})")
        etag = f"{book.arcid or book.id}-{number}-{width or 0}x{height or 0}-{fmt or 'orig'}"
        if width is None and height is None and fmt is None:
            if as_file:
                body = self._stored_page_file(book, number - 1)
                if body is not None:
                    mime = images.mime_type(images.sniff(body.head(SNIFF_BYTES)))
                    return Media(b"", mime, etag, body=body)
            data = self._page_bytes(book, number - 1)
            return Media(data, images.mime_type(images.sniff(data)), etag)
        key = self.render_key(book, number - 1, f"{width or 0}x{height or 0}-{fmt or 'orig'}")
        cached = run_cpu(self.renders.get, key)
        if cached is not None:
            return Media(cached, images.mime_type(images.sniff(cached)), etag)
        what = f"Page {number} of book {book.id}"
        with self._admitted(what):
            data = self._page_bytes(book, number - 1)
            try:
                pixels = run_cpu(images.transform_cost, data, width, height, fmt)
                if pixels < self.limits.large_image_pixels:
                    out, mime = run_cpu(images.transform, data, width, height, fmt)
                else:
                    out = self._in_worker(key, what, self._image_workers(), _first_always,
                                          images.transform, data, width, height, fmt)
                    mime = images.mime_type(images.sniff(out))
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
            except images.ImageTooLargeError as exc:
                raise BadRequest(str(exc), code="image_too_large") from None
            except images.ImageError as exc:
                raise MediaUnavailable(f"{what} cannot be decoded: {exc}") from None
        return Media(out, mime, etag)

    def render_key(self, book: Book, index: int, variant: str) -> str:
        """Names one result of page work by the book's content: its arcid (a
        moved file keeps its renders) with its size and mtime (a changed one
        does not)."""
        content = hashlib.sha1(
            f"{book.arcid or book.path}:{book.size}:{book.mtime}".encode()).hexdigest()
        return f"{content}-{index}-{variant}"

    def _page_bytes(self, book: Book, index: int) -> bytes:
        if book.page_count == 0:
            raise MediaUnavailable(f"Book {book.id} has no pages")
        if book.format == "pdf":
            return self._pdf_page(book, index)
        stored = spans.span(book.page_spans, index)
        try:
            if stored is not None:
                return run_cpu(_read_range, book, *stored)
            return self.archives.read_page(book.path, book.mtime, index)
        except FileNotFoundError:
            raise MediaUnavailable(f"The file of book {book.id} is missing") from None
        except (ArchiveError, OSError) as exc:
            raise MediaUnavailable(f"Book {book.id} cannot be read: {exc}") from None

    def _stored_page_file(self, book: Book | BookFile, index: int) -> FileBody | None:
        """The byte range of a stored page, open, once the file is checked
        to be the one the catalogue describes; None for a page that must be
        unpacked. An open and an fstat: done on the calling greenlet, as
        the ``sendfile`` that follows is."""
        if book.format == "pdf":
            return None
        stored = spans.span(book.page_spans, index)
        if stored is None:
            return None
        try:
            body = FileBody.open(book.path, *stored)
        except FileNotFoundError:
            raise MediaUnavailable(f"The file of book {book.id} is missing") from None
        except OSError as exc:
            raise MediaUnavailable(f"Book {book.id} cannot be read: {exc}") from None
        try:
            stat = os.fstat(body.fd)
            if stat.st_size != book.size or abs(stat.st_mtime - book.mtime) > 1e-6:
                raise MediaUnavailable(f"Book {book.id} cannot be read: {book.path} changed "
                                       f"since it was indexed; rescan the library")
            if body.offset + body.length > stat.st_size:
                raise MediaUnavailable(f"Book {book.id} cannot be read: {book.path} is "
                                       f"shorter than its index says; rescan the library")
        except BaseException:
            body.close()
            raise
        return body

    def _pdf_page(self, book: Book, index: int) -> bytes:
        """A PDF page, from a render worker; a rendering (not a
        passed-through JPEG) is cached like any other costly result."""
        from ..archives.pdf import render_page  # PDFium loads only where PDFs are read

        if not os.path.exists(book.path):
            raise MediaUnavailable(f"The file of book {book.id} is missing")
        workers = shared_workers("pdf", self.limits.pdf_render_workers, PDF_WORKER_MEMORY)
        try:
            return self._in_worker(self.render_key(book, index, "pdf"),
                                   f"Page {index + 1} of book {book.id}", workers,
                                   _as_returned, render_page, book.path, index)
        except FileNotFoundError:
            raise MediaUnavailable(f"The file of book {book.id} is missing") from None
        except (ArchiveError, OSError) as exc:
            raise MediaUnavailable(f"Book {book.id} cannot be read: {exc}") from None

    # -- costly work ---------------------------------------------------------

    def _image_workers(self) -> ProcessWorkers:
        return shared_workers("image", self.limits.large_image_decodes, IMAGE_WORKER_MEMORY)

    def _in_worker(self, key: str, what: str, workers: ProcessWorkers,
                   keep: Callable[[Any], tuple[bytes, bool]], fn: Callable[..., Any],
                   *args: Any) -> bytes:
        """``fn(*args)`` in ``workers``, once per ``key``: ``keep`` turns its
        result into (bytes, worth caching).

        ``fn`` runs in a worker process, so it must live in a light module
        (``comicsrv.images``, ``comicsrv.archives.pdf``), not this one.

        The wait for a free worker happens on the caller's greenlet, never on
        a CPU thread, and the cache is read again once a worker is free: the
        requests that queued behind the first get its result."""
        limit = self.limits.render_timeout
        failed_at = self._too_slow.get(key)
        if failed_at is not None and time.monotonic() - failed_at < SLOW_PAGE_MEMORY_SECONDS:
            raise PageTooSlow(f"{what} takes longer than {limit:g} s to render; it was "
                              f"stopped and is not tried again for now")
        with workers.reserved() as worker:
            cached = run_cpu(self.renders.get, key)
            if cached is not None:
                return cached
            try:
                data, worth_keeping = keep(worker.call(fn, *args, timeout=limit))
            except WorkerTimeout:
                self._remember_too_slow(key)
                log.warning("%s: rendering stopped after %g s", what, limit)
                raise PageTooSlow(f"{what} took longer than {limit:g} s to render and was "
                                  f"stopped") from None
            except WorkerFailed as exc:
                self._remember_too_slow(key)
                log.warning("%s: %s", what, exc)
                raise MediaUnavailable(f"{what} cannot be rendered: {exc}") from None
            except MemoryError:
                raise MediaUnavailable(f"{what} needs more memory than a render may "
                                       f"use") from None
            if worth_keeping:
                run_cpu(self.renders.put, key, data)
            return data

    def _remember_too_slow(self, key: str) -> None:
        self._too_slow[key] = time.monotonic()
        self._too_slow.move_to_end(key)
        while len(self._too_slow) > SLOW_PAGE_MEMORY_SIZE:
            self._too_slow.popitem(last=False)


def _always(data: bytes) -> tuple[bytes, bool]:
    return data, True


def _first_always(result: tuple[bytes, str]) -> tuple[bytes, bool]:
    return result[0], True


def _as_returned(result: tuple[bytes, bool]) -> tuple[bytes, bool]:
    return result


def _read_range(book: Book, offset: int, length: int) -> bytes:
    """A stored entry's bytes, read straight from the file. The offset is
    only trusted while the file is the one the scanner indexed."""
    with open(book.path, "rb") as fh:
        stat = os.fstat(fh.fileno())
        if stat.st_size != book.size or abs(stat.st_mtime - book.mtime) > 1e-6:
            raise ArchiveChanged(f"{book.path} changed since it was indexed; rescan the library")
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:
        raise ArchiveChanged(f"{book.path} is shorter than its index says; rescan the library")
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temp file and rename: a reader never sees half a cover."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
