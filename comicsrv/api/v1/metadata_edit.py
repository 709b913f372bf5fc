"""``/api/v1`` metadata editing with locks, and thumbnail regeneration
(Codex's and Komga's), for users holding ``MetadataWrite`` (every user
sees what they change).

``PATCH /books/{id}`` and ``PATCH /series/{id}`` change only the fields
sent; each edited field is locked so a rescan keeps it (``locks`` locks or
unlocks fields explicitly: Komga's ``titleLock`` and the like). A book's
edit is written into its CBZ as ComicInfo.xml when ``write_comicinfo`` is
true. Thumbnails: one book's at once; a series' or library's in a job.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import current_principal, require
from ...library import covers, metadata_edit
from ...library.access import book_for_user
from ..errors_doc import protected_errors
from .auth import plain_text
from .libraries import library_for_caller
from .schemas import SECURITY, BookDetailSchema, SeriesSchema, book_detail, series_items
from .series import series_for_caller

blp = Blueprint("v1_metadata_edit", __name__, url_prefix="/api/v1",
                description="Metadata editing with locks, thumbnail regeneration")


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(allow_none=True, validate=[validate.Length(max=max_length), plain_text],
                         **kwargs)


def _int(low: int, high: int, **kwargs) -> fields.Integer:
    return fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=low, max=high),
                          **kwargs)


def _locks_field(names) -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.OneOf(list(names))),
                       values=fields.Boolean(), metadata={
                           "description": "true locks a field against rescans, false unlocks "
                                          "it; edited fields are locked unless set false here"})


class BookEditSchema(Schema):
    title = _text(1000)
    number = _text(32)
    volume = _int(0, 1_000_000)
    year = _int(1000, 3000)
    month = _int(1, 12)
    day = _int(1, 31)
    summary = fields.String(allow_none=True, validate=validate.Length(max=100_000))
    language = _text(16, metadata={"description": "a language tag (en, pt-BR)"})
    age_rating = _text(64)
    manga = fields.String(allow_none=True,
                          validate=validate.OneOf(("Yes", "No", "YesAndRightToLeft", "Unknown")))
    web = _text(2000)
    issue_count = _int(0, 1_000_000, metadata={"description": "ComicInfo Count"})
    tags = fields.Dict(keys=fields.String(validate=validate.OneOf(metadata_edit.TAG_NAMESPACES)),
                       values=fields.List(fields.String(validate=[validate.Length(min=1, max=500),
                                                                  plain_text])),
                       metadata={"description": "names by namespace; a namespace sent is "
                                                "replaced whole (\"tag\": plain tags)"})
    locks = _locks_field(metadata_edit.book_lockable())
    write_comicinfo = fields.Boolean(load_default=False, metadata={
        "description": "also write the book's metadata into its CBZ as ComicInfo.xml"})


class SeriesEditSchema(Schema):
    name = fields.String(validate=[validate.Length(min=1, max=500), plain_text])
    sort_name = fields.String(validate=[validate.Length(min=1, max=500), plain_text])
    summary = fields.String(allow_none=True, validate=validate.Length(max=100_000))
    year = _int(1000, 3000)
    volume = _int(0, 1_000_000)
    publisher = _text(500)
    locks = _locks_field(metadata_edit.SERIES_FIELDS)


class LockedBookSchema(BookDetailSchema):
    locked_fields = fields.Dict(keys=fields.String(), values=fields.Boolean(), allow_none=True)
    previous_arcid = fields.String(allow_none=True, metadata={
        "description": "with write_comicinfo: the archive id the file had (an alias now)"})


class LockedSeriesSchema(SeriesSchema):
    locked_fields = fields.Dict(keys=fields.String(), values=fields.Boolean(), allow_none=True)


class RegeneratedSchema(Schema):
    book_id = fields.Integer()
    removed = fields.Integer(metadata={"description": "cached sizes dropped"})
    edge = fields.Integer(metadata={"description": "the size made again"})


class JobSchema(Schema):
    job_id = fields.Integer(metadata={"description": "follow it at /api/v1/tasks/{id}"})


def _book_answer(book, user_id: int, previous: str | None = None) -> dict:
    answer = book_detail(book, user_id)
    answer["locked_fields"] = book.locked_fields
    answer["previous_arcid"] = previous
    return answer


@blp.route("/books/<int:book_id>")
class BookEdit(MethodView):
    @require("MetadataWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(BookEditSchema)
    @blp.response(200, LockedBookSchema)
    @protected_errors(blp, 400, 404, 409)
    def patch(self, data, book_id):
        """Edit a book's metadata; edited fields are locked against rescans.
        ``write_comicinfo`` also writes it into the CBZ (400 for other formats)."""
        user = current_principal().user
        book = book_for_user(user, book_id)
        tags, locks = data.pop("tags", None), data.pop("locks", None)
        write = data.pop("write_comicinfo")
        metadata_edit.edit_book(book, data, tags=tags, locks=locks)
        previous = metadata_edit.write_book_comicinfo(book) if write else None
        return _book_answer(book_for_user(user, book_id), user.id, previous)


@blp.route("/series/<int:series_id>")
class SeriesEdit(MethodView):
    @require("MetadataWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(SeriesEditSchema)
    @blp.response(200, LockedSeriesSchema)
    @protected_errors(blp, 400, 404, 409)
    def patch(self, data, series_id):
        """Edit a series; a new name or publisher carries its books along and
        the next scan keeps them in this series."""
        series = series_for_caller(series_id)
        locks = data.pop("locks", None)
        metadata_edit.edit_series(series, data, locks=locks)
        answer = series_items([series], current_principal().user.id)[0]
        answer["locked_fields"] = series.locked_fields
        return answer


@blp.route("/books/<int:book_id>/thumbnail/regenerate")
class BookThumbnailRegenerate(MethodView):
    @require("MetadataWrite")
    @blp.doc(security=SECURITY)
    @blp.response(200, RegeneratedSchema)
    @protected_errors(blp, 404)
    def post(self, book_id):
        """Make the book's cover thumbnail again from its archive now."""
        return covers.regenerate(book_for_user(current_principal().user, book_id))


@blp.route("/series/<int:series_id>/thumbnail/regenerate")
class SeriesThumbnailRegenerate(MethodView):
    @require("MetadataWrite")
    @blp.doc(security=SECURITY)
    @blp.response(202, JobSchema)
    @protected_errors(blp, 404)
    def post(self, series_id):
        """Make the covers of every book of the series again, in a job."""
        series = series_for_caller(series_id)
        return {"job_id": covers.submit(series_id=series.id,
                                        user_id=current_principal().user.id)}


@blp.route("/libraries/<int:library_id>/thumbnails/regenerate")
class LibraryThumbnailsRegenerate(MethodView):
    @require("MetadataWrite")
    @blp.doc(security=SECURITY)
    @blp.response(202, JobSchema)
    @protected_errors(blp, 404)
    def post(self, library_id):
        """Make the covers of every book of the library again, in a job."""
        library = library_for_caller(library_id)
        return {"job_id": covers.submit(library_id=library.id,
                                        user_id=current_principal().user.id)}
