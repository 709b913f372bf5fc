"""``/api/v1/reading-lists``: each user's ordered reading lists (Codex's
and Komga's read lists), made by hand or imported from a ComicBookLists
CBL file.

A list belongs to its user: another user's list answers 404. Entries keep
their place in reading order; an entry a CBL named that is not in the
library yet stays unmatched (``book_id`` null) until ``/match`` finds it.
Reading is ``BooksRead``; changing one's own lists is ``BooksWrite`` (the
user's own reading state, like progress).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from ...auth import current_principal, require
from ...library import reading_lists as lists
from ..errors_doc import protected_errors
from ..pagination import PageArgs, envelope, page_of, page_query
from .auth import id_field, plain_text
from .schemas import SECURITY, BookSchema, book_items, list_schema

blp = Blueprint("v1_reading_lists", __name__, url_prefix="/api/v1",
                description="Reading lists: ordered, per user, with CBL import")

MAX_BATCH = 1000


def _name_field(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=500), plain_text], **kwargs)


def _summary_field(**kwargs) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=10_000), **kwargs)


def _book_ids(**kwargs) -> fields.List:
    kwargs.setdefault("validate", validate.Length(max=MAX_BATCH))
    return fields.List(id_field(strict=True), **kwargs)


class ReadingListSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    summary = fields.String(allow_none=True)
    source = fields.String(allow_none=True, metadata={"description": "cbl when imported"})
    entry_count = fields.Integer()
    matched_count = fields.Integer(metadata={"description": "entries found in the library"})
    unmatched_count = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ImportedSchema(ReadingListSchema):
    matched_now = fields.Integer(metadata={"description": "entries matched by this import"})


class ReadingListEntrySchema(Schema):
    id = fields.Integer()
    position = fields.Integer(metadata={"description": "0-based place in reading order"})
    book_id = fields.Integer(allow_none=True, metadata={"description": "null: not in the library"})
    series = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    volume = fields.String(allow_none=True)
    year = fields.Integer(allow_none=True)
    identifiers = fields.Dict(keys=fields.String(), values=fields.Dict(
        keys=fields.String(), values=fields.String()), allow_none=True, metadata={
        "description": "database ids the list gave ({\"cv\": {\"series\", \"issue\"}})"})


class ListCreateSchema(Schema):
    name = _name_field(required=True)
    summary = _summary_field(load_default=None)
    book_ids = _book_ids(load_default=list)


class ListUpdateSchema(Schema):
    name = _name_field()
    summary = _summary_field()


class ImportArgs(Schema):
    name = _name_field(metadata={"description": "the list's name; else the CBL's <Name>"})


class CblFileSchema(Schema):
    file = Upload(required=True, metadata={"description": "the .cbl file"})


class AddBooksSchema(Schema):
    book_ids = _book_ids(required=True, validate=validate.Length(min=1, max=MAX_BATCH))
    position = fields.Integer(load_default=None, allow_none=True,
                              validate=validate.Range(min=0, max=lists.MAX_ENTRIES),
                              metadata={"description": "insert here (0-based); the end if null"})


class OrderSchema(Schema):
    entry_ids = fields.List(id_field(strict=True), required=True,
                            validate=validate.Length(max=lists.MAX_ENTRIES),
                            metadata={"description": "every entry id, in the new order"})


class MatchedSchema(ReadingListSchema):
    matched_now = fields.Integer()


def _shown(row, **extra) -> dict:
    return {"id": row.id, "name": row.name, "summary": row.summary, "source": row.source,
            **lists.counts(row), "created_at": row.created_at, "updated_at": row.updated_at,
            **extra}


def _mine(list_id: int):
    return lists.get_list(current_principal().user.id, list_id)


@blp.route("/reading-lists")
class ReadingLists(MethodView):
    @require("BooksRead")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(ReadingListSchema))
    @protected_errors(blp, 400)
    def get(self, args):
        """Your reading lists, by name."""
        found = page_of(lists.lists_query(current_principal().user.id), args)
        found["items"] = [_shown(row) for row in found["items"]]
        return found

    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(ListCreateSchema)
    @blp.response(201, ReadingListSchema)
    @protected_errors(blp, 400, 404, 409)
    def post(self, data):
        """Make a list, optionally with books in order."""
        return _shown(lists.create_list(current_principal().user, data["name"],
                                        data["summary"], data["book_ids"]))


@blp.route("/reading-lists/import")
class ReadingListImport(MethodView):
    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(ImportArgs, location="query")
    @blp.arguments(CblFileSchema, location="files")
    @blp.response(201, ImportedSchema)
    @protected_errors(blp, 400, 409, 413)
    def post(self, args, files):
        """Import a ComicBookLists CBL file (multipart field ``file``) as a new
        list; its books are matched to the library you see (by ComicVine id,
        else series and number)."""
        data = files["file"].stream.read(lists.MAX_CBL_BYTES + 1)
        row, matched = lists.import_cbl(current_principal().user, data, args.get("name"))
        return _shown(row, matched_now=matched)


@blp.route("/reading-lists/<int:list_id>")
class ReadingListItem(MethodView):
    @require("BooksRead")
    @blp.doc(security=SECURITY)
    @blp.response(200, ReadingListSchema)
    @protected_errors(blp, 404)
    def get(self, list_id):
        """One of your lists with its counts."""
        return _shown(_mine(list_id))

    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(ListUpdateSchema)
    @blp.response(200, ReadingListSchema)
    @protected_errors(blp, 400, 404, 409)
    def patch(self, data, list_id):
        """Rename a list or change its summary."""
        return _shown(lists.update_list(_mine(list_id), data))

    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @protected_errors(blp, 404)
    def delete(self, list_id):
        """Delete a list (its books stay in the library)."""
        lists.delete_list(_mine(list_id))


@blp.route("/reading-lists/<int:list_id>/entries")
class ReadingListEntries(MethodView):
    @require("BooksRead")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(ReadingListEntrySchema))
    @protected_errors(blp, 400, 404)
    def get(self, args, list_id):
        """Every entry in reading order, matched or not."""
        return page_of(lists.entries_query(_mine(list_id)), args)

    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(AddBooksSchema)
    @blp.response(200, ReadingListSchema)
    @protected_errors(blp, 400, 404)
    def post(self, data, list_id):
        """Add books at ``position`` (the end when absent)."""
        return _shown(lists.add_books(current_principal().user, _mine(list_id),
                                      data["book_ids"], data["position"]))


@blp.route("/reading-lists/<int:list_id>/entries/order")
class ReadingListOrder(MethodView):
    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(OrderSchema)
    @blp.response(200, ReadingListSchema)
    @protected_errors(blp, 400, 404)
    def put(self, data, list_id):
        """Put the entries in a new order (every entry id once)."""
        return _shown(lists.reorder(_mine(list_id), data["entry_ids"]))


@blp.route("/reading-lists/<int:list_id>/entries/<int:entry_id>")
class ReadingListEntry(MethodView):
    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @protected_errors(blp, 404)
    def delete(self, list_id, entry_id):
        """Remove one entry; the others close up."""
        lists.remove_entry(_mine(list_id), entry_id)


@blp.route("/reading-lists/<int:list_id>/match")
class ReadingListMatch(MethodView):
    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.response(200, MatchedSchema)
    @protected_errors(blp, 404)
    def post(self, list_id):
        """Look for the unmatched entries in the library again (after a scan
        or a download)."""
        row = _mine(list_id)
        matched = lists.rematch(current_principal().user, row)
        return _shown(row, matched_now=matched)


@blp.route("/reading-lists/<int:list_id>/books")
class ReadingListBooks(MethodView):
    @require("BooksRead")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(BookSchema))
    @protected_errors(blp, 400, 404)
    def get(self, args, list_id):
        """The list's books you can see, in reading order, with your progress."""
        user = current_principal().user
        rows, total = page_query(lists.books_query(user, _mine(list_id)), args)
        return envelope(book_items(rows, user.id), total, args["page"], args["page_size"])
