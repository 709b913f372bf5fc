"""``/api/v1/books/{id}/pages``: a book's pages and page images, and the
image responses every v1 thumbnail shares.

Both kinds of image carry validators computed before any image work
(``comicsrv.api.media``), so a client revalidating gets its 304 without the
archive being opened. A page URL that names the book's content version
(``?v=``, as the page list gives it) always means the same bytes and is
cacheable for good; without it the bytes may change on a rescan, so the
client must revalidate.

A page request is one indexed query (``book_file_for_user``; the caller's
key is resolved from ``comicsrv.auth.principal_cache``) and, for a page
stored uncompressed, an open and an fstat: the bytes go from the archive
to the socket with ``sendfile``.
"""
from __future__ import annotations

import os

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ...auth import current_principal, require
from ...errors import NotFound
from ...filebody import FileBody
from ...library.access import BookFile, book_file_for_user, book_for_user
from ...library.media import Media
from ...models import Book, Page
from ..media import IMMUTABLE, REVALIDATE, image_response, not_modified
from ..pagination import PageArgs, envelope, page_query
from .schemas import SECURITY, PageImageArgs, PageSchema, book_version, list_schema, page_url

blp = Blueprint("v1_pages", __name__, url_prefix="/api/v1", description="Pages")

THUMBNAIL_CACHE = "private, max-age=86400"


def thumbnail_response(book: Book | BookFile, edge: int,
                       cache_control: str = THUMBNAIL_CACHE) -> Response:
    """A book's cover as a JPEG of long edge ``edge`` (already clamped):
    304 on a matching ETag before anything is opened; a cover made before
    is sent from its cache file, with the file's mtime as Last-Modified."""
    media = current_app.extensions["comicsrv.media"]
    etag = media.cover_key(book, edge)
    cached = not_modified(etag, cache_control)
    if cached is not None:
        return cached
    cover = media.cover(book, edge, as_file=True)
    if cover.body is None:  # made just now: dated by the cache file it was saved to
        return image_response(cover, etag, cache_control, _saved_at(cover.path))
    modified = _mtime(cover.body)
    cached = not_modified(etag, cache_control, modified)  # If-Modified-Since alone
    if cached is not None:
        cover.body.close()
        return cached
    return image_response(cover, etag, cache_control, modified)


def _mtime(body: FileBody) -> float:
    return os.fstat(body.fd).st_mtime


def _saved_at(path: str | None) -> float | None:
    try:
        return os.stat(path).st_mtime if path else None
    except OSError:  # not saved (the cache is full or read-only): no date
        return None


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
    @blp.alt_response(304, description="Not modified (If-None-Match, If-Modified-Since)")
    @require("PagesRead")
    def get(self, args, book_id, page_number):
        """Page `page_number` (from 1) of a book, optionally fitted inside
        `width` x `height` and re-encoded as `format` (jpeg, png, webp)."""
        book = book_file_for_user(current_principal(), book_id)
        if not 1 <= page_number <= book.page_count:
            raise NotFound(f"Book {book.id} has no page {page_number} (it has {book.page_count})")
        width, height, fmt = args.get("width"), args.get("height"), args.get("format")
        version = book_version(book)
        cache_control = IMMUTABLE if args.get("v") == version else REVALIDATE
        etag = f"{version}-{page_number}-{width or 0}x{height or 0}-{fmt or 'orig'}"
        cached = not_modified(etag, cache_control, book.mtime)
        if cached is not None:
            return cached
        media = current_app.extensions["comicsrv.media"]
        image: Media = media.page(book, page_number, width=width, height=height, fmt=fmt,
                                  as_file=True)
        return image_response(image, etag, cache_control, book.mtime)
