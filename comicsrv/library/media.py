"""Covers and pages of books, as bytes ready to serve.

- Cover thumbnails are made once and cached on disk, keyed by the book's
  content (archive id, cover page, size), so a moved file keeps its cover
  and a changed file gets a new one. The key is also the ETag.
- A page stored uncompressed in a zip is a byte range of the archive: it is
  read with one seek, without opening the archive or decoding anything.
- Other pages come from an open-archive cache, so a reader turning the pages
  of a solid RAR does not unpack the archive once per page.
- All image work runs through ``run_cpu``: off the event loop under gevent.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .. import images
from ..archives import ArchiveError, ComicArchive, open_archive
from ..errors import BadRequest, NotFound
from ..jobs.pool import run_cpu
from ..models import Book

DEFAULT_COVER_EDGE = 400
ARCHIVE_CACHE_SIZE = 8


class MediaUnavailable(NotFound):
    """The book exists but its file (or that page) cannot be read now."""

    code = "media_unavailable"


class ArchiveChanged(OSError):
    """The file on disk is not the one the catalogue describes."""


@dataclass(frozen=True, slots=True)
class Media:
    data: bytes
    mime_type: str
    etag: str | None = None
    path: str | None = None  # set when ``data`` is empty and the file is served as is


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


class MediaService:
    def __init__(self, cache_dir: str):
        self.covers_dir = Path(cache_dir) / "covers"
        self.archives = ArchiveCache(str(Path(cache_dir) / "archives"))

    # -- covers ------------------------------------------------------------

    def cover_key(self, book: Book, edge: int) -> str:
        content = book.arcid or hashlib.sha1(f"{book.path}:{book.size}:{book.mtime}".encode()).hexdigest()
        return f"{content}-{book.cover_page}-{edge}"

    def cover_path(self, key: str) -> Path:
        return self.covers_dir / key[:2] / f"{key}.jpg"

    def cover(self, book: Book, edge: int = DEFAULT_COVER_EDGE) -> Media:
        """A JPEG thumbnail of the book's cover page, long edge ``edge``."""
        edge = max(images.MIN_EDGE, min(images.MAX_EDGE, int(edge)))
        key = self.cover_key(book, edge)
        path = self.cover_path(key)
        if path.exists():
            return Media(b"", "image/jpeg", key, str(path))
        page = self._page_bytes(book, book.cover_page if book.cover_page < book.page_count else 0)
        try:
            data = run_cpu(images.thumbnail, page, edge)
        except images.ImageError as exc:
            raise MediaUnavailable(f"The cover of book {book.id} cannot be decoded: {exc}") from None
        _write_atomically(path, data)
        return Media(data, "image/jpeg", key, str(path))

    def has_cover(self, book: Book, edge: int = DEFAULT_COVER_EDGE) -> bool:
        return self.cover_path(self.cover_key(book, edge)).exists()

    # -- pages -------------------------------------------------------------

    def page(self, book: Book, number: int, *, width: int | None = None,
             height: int | None = None, fmt: str | None = None) -> Media:
        """Page ``number`` (1-based) as stored, or resized/re-encoded on request."""
        if not 1 <= number <= book.page_count:
            raise NotFound(f"Book {book.id} has no page {number} (it has {book.page_count})")
        data = self._page_bytes(book, number - 1)
        etag = f"{book.arcid or book.id}-{number}-{width or 0}x{height or 0}-{fmt or 'orig'}"
        if width is None and height is None and fmt is None:
            return Media(data, images.mime_type(images.sniff(data)), etag)
        try:
            out, mime = run_cpu(images.transform, data, width, height, fmt)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        except images.ImageTooLargeError as exc:
            raise BadRequest(str(exc), code="image_too_large") from None
        except images.ImageError as exc:
            raise MediaUnavailable(f"Page {number} of book {book.id} cannot be decoded: {exc}") from None
        return Media(out, mime, etag)

    def _page_bytes(self, book: Book, index: int) -> bytes:
        if book.page_count == 0:
            raise MediaUnavailable(f"Book {book.id} has no pages")
        page = next((p for p in book.pages if p.index == index), None)
        try:
            if page is not None and page.data_offset is not None and page.size is not None:
                return run_cpu(_read_range, book, page.data_offset, page.size)
            return self.archives.read_page(book.path, book.mtime, index)
        except FileNotFoundError:
            raise MediaUnavailable(f"The file of book {book.id} is missing") from None
        except (ArchiveError, OSError) as exc:
            raise MediaUnavailable(f"Book {book.id} cannot be read: {exc}") from None


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
