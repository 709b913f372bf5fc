"""CLU's client endpoints for reading positions: ``/progress``,
``/progress/since`` and ``/issues/read``.

CLU identifies a book here by its absolute path. Every write goes through
``comicsrv.library.reading``, the one progress service of all surfaces, so a
page saved here is the page Codex's ``/books/<id>/progress`` and LANraragi
report, and the other way round. Timestamps are CLU's ``"YYYY-MM-DD
HH:MM:SS"`` (UTC).

Where the seeds collide (API_SURFACES.md): ``GET /progress`` with ``path``
answers CLU's single record (or ``null``); without ``path`` it lists the
caller's progress in the page envelope (Codex's "all user progress").
"""
from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

from flask import jsonify
from flask.views import MethodView
from marshmallow import Schema, fields, pre_load, validate
from sqlalchemy import select

from ...errors import NotFound
from ...library import reading
from ...library.access import book_by_path, visible_books
from ...models import Book, ReadingProgress
from ..pagination import CluPageArgs, envelope, page_query
from .clu_common import (
    MAX_INT, SECURITY, CluSchema, PageSchema, PathField, clu_blueprint, clu_time, current_user,
    missing,
)
from ...models.library import BOOK_MISSING

blp = clu_blueprint("v1_clu_progress", "CLU client API: reading positions (reader apps)")

# A single report of reading time beyond a day is not a reading session.
MAX_TIME_SPENT = 24 * 3600
# Unix seconds of 9999-12-31 23:59:59, the last moment a datetime holds.
MAX_TIMESTAMP = 253402300799


def lenient_int(value: Any, maximum: int) -> int:
    """CLU's reading of optional counters: garbage counts as 0, clamped to 0..max."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return max(0, min(maximum, number))


# --- schemas ---------------------------------------------------------------------------

class CluProgressRecord(Schema):
    page_number = fields.Integer()
    total_pages = fields.Integer(allow_none=True)
    updated_at = fields.String(metadata={"example": "2026-04-25 10:00:00"})
    time_spent = fields.Integer(metadata={"description": "seconds, summed over reports"})


class CluProgressItem(Schema):
    book_id = fields.Integer()
    path = fields.String()
    page_number = fields.Integer()
    total_pages = fields.Integer(allow_none=True)
    completed = fields.Boolean()
    updated_at = fields.String(metadata={"example": "2026-04-25 10:00:00"})


class CluProgressPage(PageSchema):
    items = fields.List(fields.Nested(CluProgressItem))


# GET /progress answers one of three shapes (the view returns them as it is).
PROGRESS_ANSWER = {"oneOf": [CluProgressRecord, CluProgressPage], "nullable": True}


class CluProgressArgs(CluSchema, CluPageArgs):
    path = PathField(metadata={"description": "a book's absolute path: answers its record or "
                                              "null; omit it to list all your progress"})

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        return "invalid_path" if "path" in messages else None


class CluProgressBody(CluSchema):
    path = PathField(required=True)
    page_number = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_INT),
                                 metadata={"description": "1-based page"})
    total_pages = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=0, max=MAX_INT))
    time_spent = fields.Integer(load_default=0, metadata={
        "description": f"seconds read since the last report; garbage counts as 0, "
                       f"at most {MAX_TIME_SPENT}"})

    @pre_load
    def lenient_time(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "time_spent" in data:
            data = {**data, "time_spent": lenient_int(data["time_spent"], MAX_TIME_SPENT)}
        return data

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        if "_schema" in messages or not data.get("path") or data.get("page_number") is None:
            return "Missing 'path' or 'page_number'"
        if "path" in messages:
            return "invalid_path"
        if "page_number" in messages:
            return "page_number must be an integer"
        return "total_pages must be an integer" if "total_pages" in messages else None


class CluSinceArgs(CluSchema, CluPageArgs):
    ts = fields.Integer(load_default=0, metadata={
        "description": "unix seconds: rows updated at or after it"})

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        return "ts must be an integer unix timestamp" if "ts" in messages else None


class CluSinceItem(Schema):
    comic_path = fields.String()
    page_number = fields.Integer()
    total_pages = fields.Integer(allow_none=True)
    time_spent = fields.Integer()
    updated_at = fields.String()
    updated_at_unix = fields.Integer()


class CluSincePage(PageSchema):
    items = fields.List(fields.Nested(CluSinceItem))
    count = fields.Integer(metadata={"description": "items on this page (CLU back-compat)"})


class CluReadBody(CluSchema):
    path = PathField(required=True)
    page_count = fields.Integer(load_default=0)
    time_spent = fields.Integer(load_default=0)

    @pre_load
    def lenient_counters(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "page_count" in data:
            data["page_count"] = lenient_int(data["page_count"], MAX_INT)
        if "time_spent" in data:
            data["time_spent"] = lenient_int(data["time_spent"], MAX_TIME_SPENT)
        return data

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        return "invalid_path" if data.get("path") else "Missing 'path'"


class CluOkSchema(Schema):
    ok = fields.Boolean()


# --- helpers ---------------------------------------------------------------------------

def progress_record(progress: ReadingProgress) -> dict:
    return {"page_number": progress.page, "total_pages": progress.total_pages,
            "updated_at": clu_time(progress.updated_at), "time_spent": progress.time_spent or 0}


def _unix(value: datetime) -> int:
    return calendar.timegm(value.utctimetuple())


# --- routes ----------------------------------------------------------------------------

@blp.route("/progress")
class Progress(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluProgressArgs, location="query")
    @blp.response(200, PROGRESS_ANSWER, description=(
        "With path: the record, or null when the book has none (or is not a book). "
        "Without path: {items: [{book_id, path, page_number, total_pages, completed, "
        "updated_at}], total, page, page_size, total_pages, has_more}, newest first."))
    def get(self, args):
        """The saved position in one book, by absolute path; without ``path``,
        all of the caller's positions, newest first."""
        user = current_user()
        if "path" not in args:
            query = (select(ReadingProgress, Book.path)
                     .join(Book, Book.id == ReadingProgress.book_id)
                     .where(ReadingProgress.user_id == user.id, visible_books(user),
                            Book.state != BOOK_MISSING)
                     .order_by(ReadingProgress.updated_at.desc(), ReadingProgress.id.desc()))
            rows, total = page_query(query, args, scalars=False)
            items = [{"book_id": progress.book_id, "path": path, "page_number": progress.page,
                      "total_pages": progress.total_pages, "completed": bool(progress.completed),
                      "updated_at": clu_time(progress.updated_at)} for progress, path in rows]
            return jsonify(envelope(items, total, args["page"], args["page_size"]))
        if not args["path"]:
            raise missing("'path' parameter")
        try:
            book = book_by_path(user, args["path"])
        except NotFound:
            return jsonify(None)
        progress = reading.get_progress(user.id, book.id)
        return jsonify(progress_record(progress) if progress is not None else None)

    @blp.doc(security=SECURITY)
    @blp.arguments(CluProgressBody)
    @blp.response(200, CluProgressRecord)
    def put(self, body):
        """Save the position in a book (by absolute path); answers the stored
        record. 404 for a path that is not a book in your libraries."""
        user = current_user()
        book = book_by_path(user, body["path"])
        progress = reading.save_progress(user.id, book, reading.ProgressUpdate(
            page=body["page_number"], total_pages=body["total_pages"],
            time_spent=body["time_spent"]))
        return progress_record(progress)


@blp.route("/progress/since")
class ProgressSince(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluSinceArgs, location="query")
    @blp.response(200, CluSincePage)
    def get(self, args):
        """Positions saved at or after ``ts`` (unix seconds), oldest first, for
        resumable sync; ``count`` is the number of items on this page."""
        user = current_user()
        since = datetime.fromtimestamp(max(0, min(MAX_TIMESTAMP, args["ts"])), UTC)
        query = (select(ReadingProgress, Book.path)
                 .join(Book, Book.id == ReadingProgress.book_id)
                 .where(ReadingProgress.user_id == user.id, visible_books(user),
                        Book.state != BOOK_MISSING,
                        ReadingProgress.updated_at >= since.replace(tzinfo=None))
                 .order_by(ReadingProgress.updated_at.asc(), ReadingProgress.id.asc()))
        rows, total = page_query(query, args, scalars=False)
        items = [{"comic_path": path, "page_number": progress.page,
                  "total_pages": progress.total_pages, "time_spent": progress.time_spent or 0,
                  "updated_at": clu_time(progress.updated_at),
                  "updated_at_unix": _unix(progress.updated_at)} for progress, path in rows]
        return envelope(items, total, args["page"], args["page_size"], count=len(items))


@blp.route("/issues/read")
class IssueRead(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluReadBody)
    @blp.response(200, CluOkSchema)
    def post(self, body):
        """Mark a book (by absolute path) as read, with its page count and the
        reading time; it lands in the read history once."""
        user = current_user()
        book = book_by_path(user, body["path"])
        reading.mark_read(user.id, book, page_count=body["page_count"] or None,
                          time_spent=body["time_spent"])
        return {"ok": True}
