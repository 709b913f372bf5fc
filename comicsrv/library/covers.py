"""Regenerating cover thumbnails (Codex's thumbnail regeneration): for one
book at once, for a series or a library in a job.

A cover is cached on disk by the book's content id, cover page and edge
(``MediaService.cover_key``); regenerating drops every cached size of the
book's cover and makes the default one again from the archive, then
publishes ``cover_updated`` so SSE clients reload it. A book whose cover
cannot be made is reported (and the others go on), never left half-written:
the media service writes each thumbnail atomically.
"""
from __future__ import annotations

import glob
import os
from typing import Any, Iterable

from sqlalchemy import select

from .. import services
from ..errors import NotFound
from ..events import CoverUpdated
from ..extensions import db
from ..models import Book
from ..models.library import BOOK_OK

JOB_TYPE = "library.regenerate_thumbnails"
BATCH = 200


def _media():
    return services.media()


def _default_edge() -> int:
    from ..settings_store import get_setting

    return int(get_setting("covers.size"))


def forget(book: Book) -> int:
    """Remove every cached size of the book's cover; how many files went."""
    media = _media()
    key = media.cover_key(book, 0)
    content = key.rsplit("-", 2)[0]
    removed = 0
    for path in glob.glob(os.path.join(glob.escape(str(media.covers_dir)), glob.escape(key[:2]),
                                       glob.escape(content) + "-*.jpg")):
        try:
            os.remove(path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def regenerate(book: Book, edge: int | None = None) -> dict[str, Any]:
    """Drop the book's cached covers and make the default size again."""
    removed = forget(book)
    edge = edge or _default_edge()
    _media().cover(book, edge)
    services.events().publish(CoverUpdated(book_id=book.id))
    return {"book_id": book.id, "removed": removed, "edge": edge}


def books_of(*, series_id: int | None = None, library_id: int | None = None) -> Iterable[int]:
    query = select(Book.id).where(Book.state == BOOK_OK).order_by(Book.id)
    if series_id is not None:
        query = query.where(Book.series_id == series_id)
    if library_id is not None:
        query = query.where(Book.library_id == library_id)
    return list(db.session.scalars(query))


def submit(*, series_id: int | None = None, library_id: int | None = None,
           user_id: int | None = None) -> int:
    target = f"series:{series_id}" if series_id is not None else f"library:{library_id}"
    runner = services.jobs()
    active = runner.active_job(JOB_TYPE, target)
    if active is not None:
        return active.id
    return runner.submit(JOB_TYPE, {"series_id": series_id, "library_id": library_id},
                         target=target, user_id=user_id)


def regenerate_job(ctx, series_id: int | None = None, library_id: int | None = None,
                   **_: Any) -> dict[str, Any]:
    """Job "library.regenerate_thumbnails": every readable book of a series
    or a library, in id order; failures are listed, the rest go on."""
    ids = books_of(series_id=series_id, library_id=library_id)
    edge = _default_edge()
    done, failed = 0, []
    ctx.progress(0, len(ids), "regenerating thumbnails", force=True)
    for index, book_id in enumerate(ids):
        ctx.check_cancelled()
        book = db.session.get(Book, book_id)
        if book is not None:
            try:
                regenerate(book, edge)
                done += 1
            except NotFound as exc:  # MediaUnavailable: the archive cannot give a cover
                failed.append({"book_id": book_id, "error": exc.message})
        if index % BATCH == 0:
            db.session.expire_all()  # keep the session small on a large library
        ctx.progress(index + 1, len(ids))
    return {"regenerated": done, "failed": failed[:1000], "failed_count": len(failed)}
