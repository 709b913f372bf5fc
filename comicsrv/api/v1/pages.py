"""``/api/v1/books/{id}/pages``: a book's pages and page images (the
thumbnail response every surface shares is in ``comicsrv.api.media``).

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

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ... import services
from ...auth import current_principal, require
from ...errors import NotFound
from ...library.access import book_file_for_user, book_for_user
from ...library.media import Media
from ...models import Page
from ..media import IMMUTABLE, REVALIDATE, image_response, not_modified
from ..pagination import PageArgs, envelope, page_query
from .schemas import SECURITY, PageImageArgs, PageSchema, book_version, list_schema, page_url

blp = Blueprint("v1_pages", __name__, url_prefix="/api/v1", description="Pages")

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
        media = services.media()
        image: Media = media.page(book, page_number, width=width, height=height, fmt=fmt,
                                  as_file=True)
        return image_response(image, etag, cache_control, book.mtime)
