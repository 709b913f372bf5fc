"""``/api/v1/books/{id}/pages``: a book's pages and page images, and the
image responses every v1 thumbnail shares.

Both kinds of image carry an ETag computed before any image work, so a
client revalidating with If-None-Match gets its 304 without the archive
being opened. A page URL that names the book's content version (``?v=``,
as the page list gives it) always means the same bytes and is cacheable for
good; without it the bytes may change on a rescan, so the client must
revalidate.
"""
from __future__ import annotations

from flask import Response, current_app, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ...auth import current_principal, require
from ...errors import NotFound
from ...library.access import book_for_user
from ...models import Book, Page
from ..pagination import PageArgs, envelope, page_query
from .schemas import SECURITY, PageImageArgs, PageSchema, book_version, list_schema, page_url

blp = Blueprint("v1_pages", __name__, url_prefix="/api/v1", description="Pages")

THUMBNAIL_CACHE = "private, max-age=86400"
IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"


def _not_modified(etag: str, cache_control: str) -> Response | None:
    if not request.if_none_match.contains(etag):
        return None
    response = Response(status=304)
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    return response


def thumbnail_response(book: Book, edge: int) -> Response:
    """A book's cover as a JPEG of long edge ``edge`` (already clamped)."""
    media = current_app.extensions["comicsrv.media"]
    cached = _not_modified(media.cover_key(book, edge), THUMBNAIL_CACHE)
    if cached is not None:
        return cached
    cover = media.cover(book, edge)
    if cover.data:
        response = Response(cover.data, mimetype=cover.mime_type)
    else:
        response = send_file(cover.path, mimetype=cover.mime_type, conditional=False,
                             etag=False, max_age=None)
    response.set_etag(cover.etag)
    response.headers["Cache-Control"] = THUMBNAIL_CACHE
    return response


@blp.route("/books/<int:book_id>/pages")
class BookPages(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(PageSchema))
    @require("PagesRead")
    def get(self, args, book_id):
        """A book's pages in reading order (`width`/`height` once the book has
        been analyzed)."""
        book = book_for_user(current_principal().user, book_id)
        query = select(Page).where(Page.book_id == book.id).order_by(Page.index)
        pages, total = page_query(query, args)
        items = [{"index": p.index, "number": p.index + 1, "name": p.name, "width": p.width,
                  "height": p.height, "media_type": p.media_type, "size": p.size,
                  "url": page_url(book, p.index + 1)} for p in pages]
        return envelope(items, total, args["page"], args["page_size"])


@blp.route("/books/<int:book_id>/pages/<int:page_number>")
class PageImage(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageImageArgs, location="query")
    @blp.response(200, description="The page image: as stored unless width, height or "
                                   "format is asked", content_type="image/*")
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @require("PagesRead")
    def get(self, args, book_id, page_number):
        """Page `page_number` (from 1) of a book, optionally fitted inside
        `width` x `height` and re-encoded as `format` (jpeg, png, webp)."""
        book = book_for_user(current_principal().user, book_id)
        if not 1 <= page_number <= book.page_count:
            raise NotFound(f"Book {book.id} has no page {page_number} (it has {book.page_count})")
        width, height, fmt = args.get("width"), args.get("height"), args.get("format")
        version = book_version(book)
        cache_control = IMMUTABLE if args.get("v") == version else REVALIDATE
        etag = f"{version}-{page_number}-{width or 0}x{height or 0}-{fmt or 'orig'}"
        cached = _not_modified(etag, cache_control)
        if cached is not None:
            return cached
        media = current_app.extensions["comicsrv.media"]
        image = media.page(book, page_number, width=width, height=height, fmt=fmt)
        response = Response(image.data, mimetype=image.mime_type)
        response.set_etag(etag)
        response.headers["Cache-Control"] = cache_control
        return response
