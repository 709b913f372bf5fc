"""CLU's client endpoints for one book: ``/issue/<id>``, its cover and its file.

``<id>`` is the book's integer id (CLU's ``file_index.id``). A book outside
the caller's libraries is a 404 like one that does not exist.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, fields, pre_load
from sqlalchemy import select
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from ... import services
from ...errors import NotFound
from ...extensions import db
from ...fspaths import display
from ...library import reading
from ...library.access import book_for_user
from ...library.media import DEFAULT_COVER_EDGE, MediaService, MediaUnavailable
from ...models import Book, BookTag, Tag
from .clu_common import SECURITY, CluSchema, clu_blueprint, current_user

blp = clu_blueprint("v1_clu_issues", "CLU client API: one issue's metadata, cover and file")

MIN_COVER_EDGE, MAX_COVER_EDGE = 64, 2000
COVER_CACHE_CONTROL = "private, max-age=86400"
CHUNK_SIZE = 256 * 1024
# CLU's content types; anything else downloads as octet-stream.
DOWNLOAD_TYPES = {".cbz": "application/vnd.comicbook+zip", ".cbr": "application/vnd.comicbook-rar",
                  ".pdf": "application/pdf", ".epub": "application/epub+zip",
                  ".zip": "application/zip"}
# metadata key → tag namespace the scanner stores that credit under
CREDIT_NAMESPACES = {"writer": "writer", "penciller": "penciller", "inker": "inker",
                     "colorist": "colorist", "letterer": "letterer", "coverartist": "cover",
                     "genre": "genre", "characters": "character"}
# Offsets of more than 20 digits are past any file (and past int() limits).
_RANGE = re.compile(r"bytes=([0-9]{0,20})-([0-9]{0,20})", re.ASCII)


# --- schemas ---------------------------------------------------------------------------

class CluIssueMetadata(Schema):
    title = fields.String()
    series = fields.String()
    number = fields.String()
    count = fields.String()
    volume = fields.String()
    year = fields.String()
    writer = fields.String(metadata={"description": "comma-separated, as every credit"})
    penciller = fields.String()
    inker = fields.String()
    colorist = fields.String()
    letterer = fields.String()
    coverartist = fields.String()
    publisher = fields.String()
    genre = fields.String()
    characters = fields.String()


class CluIssueProgress(Schema):
    page_number = fields.Integer()
    total_pages = fields.Integer(allow_none=True)


class CluIssueSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    path = fields.String()
    size = fields.Integer()
    modified_at = fields.Integer(metadata={"description": "the file's mtime, unix seconds"})
    has_comicinfo = fields.Boolean()
    metadata = fields.Nested(CluIssueMetadata)
    progress = fields.Nested(CluIssueProgress, allow_none=True)


class CluCoverArgs(CluSchema):
    size = fields.Integer(load_default=DEFAULT_COVER_EDGE, metadata={
        "description": f"long edge in pixels, clamped to {MIN_COVER_EDGE}..{MAX_COVER_EDGE}"})

    @pre_load
    def clamp(self, data: Any, **kwargs: Any) -> dict:
        """CLU: a garbled size means the default, any number is clamped."""
        data = dict(data)
        try:
            size = int(data.get("size", DEFAULT_COVER_EDGE))
        except (TypeError, ValueError):
            size = DEFAULT_COVER_EDGE
        data["size"] = max(MIN_COVER_EDGE, min(MAX_COVER_EDGE, size))
        return data


# --- helpers ---------------------------------------------------------------------------

def _text(value: Any) -> str:
    return "" if value is None else str(value)


def issue_metadata(book: Book) -> dict[str, str]:
    """CLU's ``metadata`` object: every value a string, ``""`` when unknown;
    credits, genres and characters joined with ", " from the book's tags."""
    credits: dict[str, list[str]] = {key: [] for key in CREDIT_NAMESPACES}
    by_namespace = {namespace: key for key, namespace in CREDIT_NAMESPACES.items()}
    for namespace, name in db.session.execute(
            select(Tag.namespace, Tag.name).join(BookTag, BookTag.tag_id == Tag.id)
            .where(BookTag.book_id == book.id, Tag.namespace.in_(by_namespace))
            .order_by(Tag.namespace, Tag.name)):
        credits[by_namespace[namespace]].append(name)
    return {
        "title": _text(book.title), "series": _text(book.series_name),
        "number": _text(book.number), "count": _text(book.count), "volume": _text(book.volume),
        "year": _text(book.year),
        **{key: ", ".join(credits[key]) for key in
           ("writer", "penciller", "inker", "colorist", "letterer", "coverartist")},
        "publisher": _text(book.publisher.name if book.publisher else None),
        "genre": ", ".join(credits["genre"]), "characters": ", ".join(credits["characters"]),
    }


def content_disposition(filename: str) -> str:
    """``attachment`` with the file name, RFC 6266 style for non-ASCII names."""
    try:
        filename.encode("ascii")
    except UnicodeEncodeError:
        fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
        return (f'attachment; filename="{_quoted(fallback)}"; '
                f"filename*=UTF-8''{quote(filename, safe='')}")
    return f'attachment; filename="{_quoted(filename)}"'


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def byte_range(header: str, size: int) -> tuple[int, int]:
    """``(first, last)`` byte of a single ``bytes=a-b`` / ``a-`` / ``-n`` range.

    Anything else (several ranges, another unit, garbage) or a range outside
    the file raises a 416 whose ``Content-Range`` is ``bytes */size``.
    """
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None or not (match.group(1) or match.group(2)):
        raise RequestedRangeNotSatisfiable(length=size)
    first, last = match.group(1), match.group(2)
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RequestedRangeNotSatisfiable(length=size)
        return max(0, size - suffix), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RequestedRangeNotSatisfiable(length=size)
    return start, end


def _stream(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


# --- routes ----------------------------------------------------------------------------

@blp.route("/issue/<int:book_id>")
class Issue(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, CluIssueSchema)
    def get(self, book_id: int):
        """A book's metadata (ComicInfo, values ``""`` when unknown) and the
        caller's reading position (null before the first page saved)."""
        user = current_user()
        book = book_for_user(user, book_id)
        progress = reading.get_progress(user.id, book.id)
        return {"id": book.id, "name": book.filename, "path": display(book.path), "size": book.size,
                "modified_at": int(book.mtime or 0), "has_comicinfo": bool(book.has_comicinfo),
                "metadata": issue_metadata(book),
                "progress": None if progress is None else {
                    "page_number": progress.page, "total_pages": progress.total_pages}}


@blp.route("/issue/<int:book_id>/cover")
class Cover(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluCoverArgs, location="query")
    @blp.response(200, description="JPEG thumbnail of the cover", content_type="image/jpeg")
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    def get(self, args, book_id: int):
        """The cover as a JPEG, long edge ``size``; 404 ``cover_unavailable``
        when the book has no readable cover. Cached by the client a day (ETag)."""
        book = book_for_user(current_user(), book_id)
        media: MediaService = services.media()
        edge = args["size"]
        etag = media.cover_key(book, edge)
        if etag in request.if_none_match:
            response = Response(status=304)
        else:
            try:
                cover = media.cover(book, edge)
                data = cover.data or _read_cached(cover.path)
            except MediaUnavailable as exc:
                raise NotFound(exc.message, code="cover_unavailable") from None
            response = Response(data, mimetype="image/jpeg")
        response.set_etag(etag)
        response.headers["Cache-Control"] = COVER_CACHE_CONTROL
        return response


def _read_cached(path: str | None) -> bytes:
    """A cached thumbnail (a few KiB); gone meanwhile means unavailable now."""
    try:
        with open(path or "", "rb") as handle:
            return handle.read()
    except OSError:
        raise MediaUnavailable("The cached cover disappeared; try again") from None


@blp.route("/issue/<int:book_id>/download")
class Download(MethodView):
    @blp.doc(security=SECURITY, parameters=[{
        "in": "header", "name": "Range", "required": False, "schema": {"type": "string"},
        "description": "one range: bytes=START-END, bytes=START- or bytes=-LENGTH"}])
    @blp.response(200, description="The whole file", content_type="application/octet-stream")
    @blp.alt_response(206, description="The requested range (Content-Range)")
    @blp.alt_response(416, description="Range not satisfiable (Content-Range: bytes */size)")
    def get(self, book_id: int):
        """The comic file as an attachment, streamed; one HTTP Range gives 206.
        404 ``File not found`` when the file is gone from disk."""
        book = book_for_user(current_user(), book_id)
        try:
            if not os.path.isfile(book.path):
                raise FileNotFoundError(book.path)
            # Closed by the streaming generator, or on close if it never runs.
            handle = open(book.path, "rb")  # noqa: SIM115
        except OSError:
            raise NotFound("File not found", code="File not found") from None
        try:
            size = os.fstat(handle.fileno()).st_size
            header = request.headers.get("Range")
            start, end = byte_range(header, size) if header is not None else (0, size - 1)
        except BaseException:
            handle.close()
            raise
        length = max(0, end - start + 1)
        response = Response(_stream(handle, start, length), direct_passthrough=True,
                            status=206 if header is not None else 200,
                            mimetype=DOWNLOAD_TYPES.get(
                                os.path.splitext(book.filename)[1].lower(),
                                "application/octet-stream"))
        response.call_on_close(handle.close)
        response.content_length = length
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Content-Disposition"] = content_disposition(book.filename)
        if header is not None:
            response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return response
