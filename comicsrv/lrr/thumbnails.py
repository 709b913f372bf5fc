"""Archive thumbnails, LANraragi style: the cover, or any page.

The cover is the media service's cached cover (so every surface shares one
file). Thumbnails of other pages are cached beside it, one folder per
archive id. Both can be made in the background as jobs that
``/api/minion/<id>`` reports on: one page (``lrr.thumbnail``) or every page
of an archive (``lrr.page_thumbnails``, with ``notes.progress`` and
``notes.pages``).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import current_app

from .. import images, services
from ..errors import NotFound
from ..extensions import db
from ..jobs.pool import run_cpu
from ..jobs.runner import JobContext
from ..library.media import DEFAULT_COVER_EDGE, Media, MediaService, MediaUnavailable
from ..models import Book

THUMBNAIL_JOB = "lrr.thumbnail"
PAGE_THUMBNAILS_JOB = "lrr.page_thumbnails"
EDGE = DEFAULT_COVER_EDGE


def _media() -> MediaService:
    return services.media()


def archive_cache_dir(arcid: str) -> Path:
    return Path(current_app.config["CACHE_DIR"]) / "lrr-thumbnails" / arcid[:2] / arcid


def page_thumbnail_path(book: Book, page: int) -> Path:
    return archive_cache_dir(book.arcid) / f"{page}-{EDGE}.jpg"


def thumbnail_target(book: Book, page: int) -> str:
    """The job target of one thumbnail: a second request finds the first's job."""
    return f"lrr-thumbnail:{book.id}:{page}"


def page_thumbnails_target(book: Book) -> str:
    return f"lrr-page-thumbnails:{book.id}"


def has_thumbnail(book: Book, page: int) -> bool:
    """Page 0 is the cover (whichever page the book's cover is)."""
    if page == 0:
        return _media().has_cover(book, EDGE)
    return page_thumbnail_path(book, page).exists()


def thumbnail(book: Book, page: int, *, force: bool = False) -> Media:
    """The JPEG thumbnail of the cover (page 0) or of page ``page``, made and
    cached if needed. Raises ``MediaUnavailable`` when the page cannot be read
    or decoded, ``NotFound`` when the book has no such page."""
    if page == 0:
        return _media().cover(book, EDGE)
    if not 1 <= page <= book.page_count:
        raise NotFound(f"This archive has no page {page} (it has {book.page_count})")
    path = page_thumbnail_path(book, page)
    etag = f"{book.arcid}-p{page}-{EDGE}"
    if path.exists() and not force:
        return Media(b"", "image/jpeg", etag, str(path))
    source = _media().page(book, page)
    try:
        data = run_cpu(images.thumbnail, source.data, EDGE)
    except images.ImageError as exc:
        raise MediaUnavailable(f"Page {page} of {book.filename} cannot be decoded: {exc}") from None
    _write_atomically(path, data)
    return Media(data, "image/jpeg", etag, str(path))


def missing_page_thumbnails(book: Book) -> int:
    return sum(1 for page in range(1, book.page_count + 1)
               if not page_thumbnail_path(book, page).exists())


def run_thumbnail_job(ctx: JobContext, book_id: int, page: int = 0) -> dict:
    book = db.session.get(Book, book_id)
    if book is None:
        raise NotFound(f"Book {book_id} is gone")
    ctx.progress(0, 1, f"thumbnail of page {page or 'cover'}", force=True)
    thumbnail(book, page)
    ctx.progress(1, 1, "done", force=True)
    return {"book_id": book_id, "page": page}


def run_page_thumbnails_job(ctx: JobContext, book_id: int, force: bool = False) -> dict:
    """Thumbnails of every page; a page that cannot be decoded is skipped
    (its thumbnail request will answer the placeholder)."""
    book = db.session.get(Book, book_id)
    if book is None:
        raise NotFound(f"Book {book_id} is gone")
    total = book.page_count
    failed = []
    ctx.progress(0, total, force=True)
    for page in range(1, total + 1):
        ctx.check_cancelled()
        try:
            thumbnail(book, page, force=force)
        except MediaUnavailable:
            failed.append(page)
        ctx.progress(page, total)
    ctx.progress(total, total, "done", force=True)
    return {"book_id": book_id, "pages": total, "failed": failed}


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target and rename: no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
