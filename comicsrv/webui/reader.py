"""The web reader's page: everything the reader module needs to start
without a round trip (page count and known page sizes, where to resume,
the series' reading mode, the next book); the pages and the progress then
go through ``/api/v1`` like any reader app's.
"""
from __future__ import annotations

from flask import jsonify, render_template, request, url_for
from sqlalchemy import select

from ..errors import BadRequest, NotFound
from ..extensions import db
from ..library import reading, reading_modes, shelves
from ..library.access import book_for_user
from ..models import Page
from ..library.media import book_version
from . import blp
from .shell import login_required, principal
from ..models.library import BOOK_OK


@blp.get("/read/<int:book_id>")
@login_required("PagesRead")
def reader(book_id: int):
    """Open a book at ``?page=`` or where the user left it (page 1 once finished)."""
    user = principal().user
    book = book_for_user(user, book_id)
    if book.state != BOOK_OK or not book.page_count:
        raise NotFound(f"{book.filename} cannot be read: {book.error or 'it has no pages'}")
    progress = reading.get_progress(user.id, book.id)
    start = 1
    if progress is not None and not progress.completed and progress.page:
        start = progress.page
    asked = request.args.get("page", "")
    if asked.isdigit():
        start = int(asked)
    start = max(1, min(book.page_count, start))
    sizes = db.session.execute(select(Page.index, Page.width, Page.height)
                               .where(Page.book_id == book.id).order_by(Page.index)).all()
    next_book = shelves.next_in_series(user, book)
    config = {
        "bookId": book.id,
        "pageCount": book.page_count,
        "version": book_version(book),
        "start": start,
        "completed": bool(progress and progress.completed),
        # [width, height] per page when the scan or an analysis measured it
        "sizes": [[w or 0, h or 0] for _, w, h in sizes],
        "settings": reading_modes.series_settings(user.id, book.series_id, book.manga),
        "seriesId": book.series_id,
        "pagesUrl": f"{request.script_root}/api/v1/books/{book.id}/pages/",
        "progressUrl": f"{request.script_root}/api/v1/books/{book.id}/progress",
        "settingsUrl": (url_for("web.reader_settings", series_id=book.series_id)
                        if book.series_id else None),
        "nextUrl": url_for("web.reader", book_id=next_book.id) if next_book else None,
        "nextTitle": _title(next_book) if next_book else None,
        "backUrl": (url_for("web.series_page", series_id=book.series_id) if book.series_id
                    else url_for("web.book_page", book_id=book.id)),
    }
    return render_template("web/reader.html", book=book, title=_title(book), config=config)


def _title(book) -> str:
    if book.series_name and book.number:
        return f"{book.series_name} #{book.number}"
    return book.title or book.filename


@blp.post("/read/series/<int:series_id>/settings")
@login_required("BooksRead")
def reader_settings(series_id: int):
    """Remember how this series is read (JSON: layout, direction, fit)."""
    user = principal().user
    shelves.series_for(user, series_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Send the settings as a JSON object.")
    return jsonify(reading_modes.save_series_settings(user.id, series_id, body))
