"""``/api/v1/books/{id}/progress`` and ``/api/v1/progress/currently-reading``:
Codex's per-book reading progress.

Everything goes through ``comicsrv.library.reading``, so a page saved here is
the page CLU's and LANraragi's endpoints report, and the reverse.
(``GET /api/v1/progress`` itself is CLU's, in another module.)
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import and_

from ...auth import current_principal, require
from ...errors import BadRequest, NotFound
from ...extensions import db
from ...library import reading
from ...library.access import book_file_for_user, book_for_user, visible_books
from ...models import Book, ReadingProgress
from ..pagination import PageArgs, envelope, page_query
from .schemas import (
    SECURITY, BookSchema, BookProgressSchema, BookProgressWriteSchema, book_items, list_schema,
    progress_dict,
)
from ...models.library import BOOK_MISSING

blp = Blueprint("v1_book_progress", __name__, url_prefix="/api/v1",
                description="Per-book reading progress")


class CurrentlyReadingSchema(BookProgressSchema):
    book = fields.Nested(BookSchema)


@blp.route("/books/<int:book_id>/progress")
class BookProgress(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, BookProgressSchema)
    @blp.alt_response(404, description="The book does not exist for the caller "
                                       "(`not_found`) or has no progress (`no_progress`)")
    @require("BooksRead")
    def get(self, book_id):
        """The caller's position in the book."""
        user = current_principal().user
        book = book_for_user(user, book_id)
        progress = reading.get_progress(user.id, book.id)
        if progress is None:
            raise NotFound(f"No progress saved for book {book.id}", code="no_progress")
        return progress_dict(progress)

    @blp.doc(security=SECURITY)
    @blp.arguments(BookProgressWriteSchema)
    @blp.response(200, BookProgressSchema)
    @require("BooksWrite")
    def put(self, body, book_id):
        """Save the caller's position: `current_page` from 1 (0: opened, no page
        yet); reaching the last page completes the book unless `is_completed`
        says otherwise."""
        principal = current_principal()
        # One indexed query, no ORM row: readers save their page on every turn.
        book = book_file_for_user(principal, book_id)
        if book.page_count and body["current_page"] > book.page_count:
            raise BadRequest(f"current_page {body['current_page']} is past the last page "
                             f"({book.page_count})", code="invalid_page")
        update = reading.ProgressUpdate(page=body["current_page"], completed=body["is_completed"],
                                        time_spent=body["time_spent"])
        return progress_dict(reading.save_progress(principal.user_id, book, update))

    @blp.doc(security=SECURITY)
    @blp.response(204)
    @require("BooksWrite")
    def delete(self, book_id):
        """Clear the caller's progress in the book (it reads as unread again)."""
        user = current_principal().user
        reading.mark_unread(user.id, book_for_user(user, book_id))


@blp.route("/progress/currently-reading")
class CurrentlyReading(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(CurrentlyReadingSchema))
    @require("BooksRead")
    def get(self, args):
        """The caller's unfinished books, most recently read first: each progress
        record with its book."""
        user = current_principal().user
        query = (db.select(ReadingProgress, Book)
                 .join(Book, and_(Book.id == ReadingProgress.book_id, visible_books(user),
                                  Book.state != BOOK_MISSING))
                 .where(ReadingProgress.user_id == user.id,
                        ReadingProgress.completed.is_(False))
                 .order_by(ReadingProgress.updated_at.desc(), ReadingProgress.id.desc()))
        rows, total = page_query(query, args, scalars=False)
        books = book_items([book for _, book in rows], user.id)
        items = [{**progress_dict(progress), "book": book}
                 for (progress, _), book in zip(rows, books)]
        return envelope(items, total, args["page"], args["page_size"])
