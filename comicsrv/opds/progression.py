"""The Readium progression API at ``/opds/v2.0/books/<id>/progression``,
shaped as Komga serves it (Thorium and Readest sync through it):

- ``GET`` answers ``{"modified", "device": {"id", "name"}, "locator": {"href",
  "type", "locations": {"position", "progression", "totalProgression"}}}``
  (``application/vnd.readium.progression+json``), or 204 when the caller has
  no position in the book;
- ``PUT`` takes the same document and answers 204; ``locator.locations.position``
  is the page (from 1; a Divina ``href`` of a page is read when it is
  missing), a position outside the book is a 400, and a ``modified`` that is
  not later than the saved position's is a 409, so a reader that was offline
  cannot overwrite a later position read elsewhere.

The position is the one row of ``reading_progress`` every surface shares
(``comicsrv.library.reading``): a page saved here is the page PSE's
``pse:lastRead``, ``/api/v1`` and LANraragi report, and the other way round.
A position saved through a surface that names no device reads back with an
empty device, as in Komga.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Response, json
from flask.views import MethodView
from marshmallow import INCLUDE, Schema, fields, validate

from ..auth import current_principal, require
from ..errors import BadRequest, Conflict
from ..library import reading
from ..models import Book
from . import catalog
from .common import PROGRESSION_JSON, V2_PREFIX, iso, link
from .opds2 import SECURITY, blp
from .pse import save_position

_PAGE_HREF = re.compile(r"/books/(\d+)/pages/(\d+)(?:[?#].*)?$")


class LocationsSchema(Schema):
    class Meta:
        unknown = INCLUDE

    position = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**31 - 1))
    progression = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    totalProgression = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    fragments = fields.List(fields.String(), load_default=list)


class LocatorSchema(Schema):
    class Meta:
        unknown = INCLUDE

    href = fields.String(required=True, validate=validate.Length(max=4000))
    type = fields.String(load_default="", validate=validate.Length(max=200))
    title = fields.String(allow_none=True)
    locations = fields.Nested(LocationsSchema, load_default=None, allow_none=True)


class DeviceSchema(Schema):
    id = fields.String(load_default="", validate=validate.Length(max=200))
    name = fields.String(load_default="", validate=validate.Length(max=200))


class ProgressionSchema(Schema):
    """A Readium progression (Komga's ``R2Progression``)."""

    class Meta:
        unknown = INCLUDE

    modified = fields.AwareDateTime(required=True, default_timezone=UTC)
    device = fields.Nested(DeviceSchema, load_default=lambda: {"id": "", "name": ""})
    locator = fields.Nested(LocatorSchema, required=True)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _book(book_id: int) -> tuple[Book, catalog.BookPage]:
    from ..errors import NotFound

    page = catalog.one_book(current_principal().user, book_id)
    if page is None:
        raise NotFound(f"Book {book_id} not found")
    return page.books[0], page


def progression_document(book: Book, page: catalog.BookPage) -> dict[str, Any] | None:
    progress = page.progress.get(book.id)
    if progress is None:
        return None
    position = max(1, min(progress.page or 1, book.page_count or 1))
    stream_type, convert = page.stream.get(book.id, ("image/jpeg", True))
    locations: dict[str, Any] = {"position": position}
    if book.page_count:
        locations["totalProgression"] = round(position / book.page_count, 6)
        locations["progression"] = 0.0
    return {
        "modified": iso(progress.updated_at),
        "device": {"id": progress.device_id or "", "name": progress.device_name or ""},
        "locator": {"href": link(V2_PREFIX, f"/books/{book.id}/pages/{position}",
                                 {"format": "jpeg" if convert else None}),
                    "type": stream_type, "locations": locations},
    }


def _position(book: Book, locator: dict[str, Any]) -> int:
    """The page a locator names: ``locations.position``, else the page of its
    Divina ``href``, else ``totalProgression`` of the page count."""
    locations = locator.get("locations") or {}
    position = locations.get("position")
    if position is None:
        match = _PAGE_HREF.search(locator.get("href") or "")
        if match is not None and int(match.group(1)) == book.id:
            position = int(match.group(2))
        elif locations.get("totalProgression") is not None and book.page_count:
            position = max(1, round(locations["totalProgression"] * book.page_count))
    if position is None:
        raise BadRequest("locator.locations.position is required (the page, from 1)",
                         code="invalid_progression")
    if not 1 <= position <= book.page_count:
        raise BadRequest(f"Page argument ({position}) must be within 1 and book page count "
                         f"({book.page_count})", code="invalid_progression")
    return position


@blp.route("/books/<int:book_id>/progression")
class Progression(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ProgressionSchema, content_type=PROGRESSION_JSON)
    @blp.alt_response(204, description="No position saved for this book")
    @require("BooksRead")
    def get(self, book_id: int):
        """The caller's position in the book as a Readium progression."""
        book, page = _book(book_id)
        document = progression_document(book, page)
        if document is None:
            return Response(status=204)
        return Response(json.dumps(document), mimetype=PROGRESSION_JSON)

    @blp.doc(security=SECURITY)
    @blp.arguments(ProgressionSchema)
    @blp.response(204)
    @blp.alt_response(409, description="The saved position is newer than `modified`")
    @require("BooksWrite")
    def put(self, body: dict[str, Any], book_id: int):
        """Save the caller's position from a Readium progression."""
        book, page = _book(book_id)
        position = _position(book, body["locator"])
        saved = page.progress.get(book.id)
        modified = _naive_utc(body["modified"])
        if saved is not None and modified <= saved.updated_at:
            raise Conflict("Progression is older than existing", code="progression_conflict")
        device = body["device"]
        save_position(book, position, device=(device.get("id") or None,
                                              device.get("name") or None),
                      at=modified, always=True)
        return Response(status=204)


__all__ = ["progression_document", "reading"]
