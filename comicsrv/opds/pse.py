"""OPDS-PSE page streaming: one page image per request, and the reading
position it implies.

A PSE client asks for ``{pageNumber}`` from 0 (the spec's numbering); the
page it asks for is the page it shows, so the request saves the caller's
position (``page + 1``, positions are 1-based everywhere), as Kavita and
Codex do: Panels and Chunky have no other way to report progress, and the
next ``pse:lastRead`` (or ``/api/v1`` progress, or LANraragi's) is that
page. A request for the page already saved writes nothing, so re-reading
or revalidating a cached page costs no write. A caller without
``BooksWrite`` still gets the page; only the save is skipped.

``{maxWidth}`` is a width in pixels the page is fitted into (never
enlarged); a client that leaves the placeholder unfilled gets the page as
stored rather than an error.
"""
from __future__ import annotations

from datetime import datetime

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from .. import services
from ..auth import current_principal, require
from ..errors import BadRequest, NotFound
from ..library import reading
from ..models import Book
from .acquisition import readable_book
from .common import V1_PREFIX, check_enabled

blp = Blueprint("opds_v1_pse", __name__, url_prefix=V1_PREFIX)
blp.url_value_preprocessor(check_enabled)

PAGE_CACHE = "private, max-age=86400"
FORMATS = ("jpeg", "png", "webp")


def _width() -> int | None:
    """``width`` as a positive whole number, else None (an unfilled ``{maxWidth}``)."""
    value = request.args.get("width", "")
    try:
        width = int(value)
    except ValueError:
        return None
    return width if 0 < width <= 100_000 else None


def _format() -> str | None:
    value = request.args.get("format")
    if value is None or value == "":
        return None
    if value not in FORMATS:
        raise BadRequest(f"format is one of {', '.join(FORMATS)}, not {value!r}")
    return value


def save_position(book: Book, number: int, *, device: tuple[str | None, str | None] = (None, None),
                  at: datetime | None = None, always: bool = False) -> None:
    """Save page ``number`` (1-based) as the caller's position, unless the
    caller may not write progress or (without ``always``) it is already the
    saved page."""
    principal = current_principal()
    if not principal.can("BooksWrite"):
        return
    if not always:
        saved = reading.get_progress(principal.user.id, book.id)
        if saved is not None and saved.page == number:
            return
    reading.save_progress(principal.user.id, book, reading.ProgressUpdate(
        page=number, device_id=device[0], device_name=device[1], at=at))


def page_response(book: Book, number: int, *, width: int | None, fmt: str | None) -> Response:
    """Page ``number`` (1-based) of ``book``, fitted into ``width`` and
    re-encoded as ``fmt`` when asked; an ETag lets a client revalidate."""
    from ..library.media import book_version

    if not 1 <= number <= book.page_count:
        raise NotFound(f"Book {book.id} has no page {number} (it has {book.page_count})")
    etag = f"{book_version(book)}-{number}-{width or 0}-{fmt or 'orig'}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        media = services.media()
        image = media.page(book, number, width=width, fmt=fmt)
        response = Response(image.data, mimetype=image.mime_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = PAGE_CACHE
    return response


@blp.route("/books/<int:book_id>/pages/<int:page_number>")
class StreamedPage(MethodView):
    @require("PagesRead")
    def get(self, book_id: int, page_number: int):
        """Page ``page_number`` (from 0) of a book; saves the reading position."""
        book = readable_book(book_id)
        width, fmt = _width(), _format()
        if not 0 <= page_number < book.page_count:
            raise NotFound(f"Book {book.id} has no page {page_number} "
                           f"(pages are numbered 0 to {book.page_count - 1})")
        response = page_response(book, page_number + 1, width=width, fmt=fmt)
        save_position(book, page_number + 1)
        return response
