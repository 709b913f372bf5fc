"""OPDS 1.2 acquisition feeds: the shelves (keep reading, on deck, recently
added, favourites, want to read), a series' or story arc's books, search
results; and the covers and files their entries link to.

Each entry carries the links reader apps use: the cover and its thumbnail,
the file (``http://opds-spec.org/acquisition``) and the page-streaming link
of OPDS-PSE 1.1/1.2 (``{pageNumber}`` from 0, ``{maxWidth}``, ``pse:count``,
``pse:lastRead`` from 1, ``pse:lastReadDate``), built from the caller's
reading position so an app resumes at the page read anywhere else.
"""
from __future__ import annotations

import os

from flask import Response, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_principal, require
from ..errors import NotFound
from ..library.access import book_for_user
from ..models import Book, utcnow
from ..settings_store import get_setting
from . import catalog
from .atom import (
    PSE, REL_ACQUISITION, REL_FACET, REL_IMAGE, REL_PSE_STREAM, REL_THUMBNAIL, Entry, Feed,
    Link,
)
from .atom import OPDS as OPDS_NS
from .common import (
    ATOM_ACQUISITION, ATOM_NAVIGATION, OPENSEARCH, V1_PREFIX, Paging,
    check_enabled, file_type, iso, link, page_links, paging,
)
from ..models.library import BOOK_OK

blp = Blueprint("opds_v1_acquisition", __name__, url_prefix=V1_PREFIX)
blp.url_value_preprocessor(check_enabled)

COVER_EDGE = 800
READ_LABELS = {"all": "All", "unread": "Unread", "in_progress": "In progress", "read": "Read"}
SORT_LABELS = {"number": "Issue number", "title": "Title", "added": "Recently added"}


def atom(feed: Feed, kind: str = ATOM_ACQUISITION) -> Response:
    return Response(feed.to_xml(), content_type=f"{kind};charset=utf-8")


def user():
    return current_principal().user


def choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """A facet value from the query; anything else is the default, not a 400:
    apps build these URLs from the facet links, people edit them."""
    value = request.args.get(name, default)
    return value if value in choices else default


# -- entries ----------------------------------------------------------------------


def book_title(book: Book, *, with_series: bool) -> str:
    number = f"#{book.number}" if book.number else None
    if with_series and book.series_name:
        head = " ".join(filter(None, (book.series_name, number)))
        return f"{head}: {book.title}" if book.title else head
    if number:
        return f"{number} {book.title}" if book.title else f"{book.series_name or ''} {number}".strip()
    return book.title or os.path.splitext(book.filename)[0]


def stream_href(prefix: str, book: Book, convert: bool) -> str:
    """The PSE template: the client fills ``{pageNumber}`` (and ``{maxWidth}``)."""
    href = link(prefix, f"/books/{book.id}/pages/") + "{pageNumber}?width={maxWidth}"
    return href + "&format=jpeg" if convert else href


def book_entry(book: Book, page: catalog.BookPage, *, with_series: bool = True) -> Entry:
    progress = page.progress.get(book.id)
    stream_type, convert = page.stream.get(book.id, ("image/jpeg", True))
    pse = {f"{{{PSE}}}count": str(book.page_count)}
    if progress is not None and progress.page > 0:
        pse[f"{{{PSE}}}lastRead"] = str(progress.page)
        pse[f"{{{PSE}}}lastReadDate"] = iso(progress.updated_at)
    links = [
        Link(REL_IMAGE, link(V1_PREFIX, f"/books/{book.id}/cover"), "image/jpeg"),
        Link(REL_THUMBNAIL, link(V1_PREFIX, f"/books/{book.id}/thumbnail"), "image/jpeg"),
    ]
    if book.format != "folder":
        links.append(Link(REL_ACQUISITION, link(V1_PREFIX, f"/books/{book.id}/file"),
                          file_type(book.format), extra={"length": str(book.size)}))
    if book.page_count:
        links.append(Link(REL_PSE_STREAM, stream_href(V1_PREFIX, book, convert), stream_type,
                          extra=pse))
    dcterms = []
    if book.year:
        issued = f"{book.year:04d}"
        if book.month:
            issued += f"-{book.month:02d}" + (f"-{book.day:02d}" if book.day else "")
        dcterms.append(("issued", issued))
    if book.language:
        dcterms.append(("language", book.language))
    if publisher := page.publishers.get(book.id):
        dcterms.append(("publisher", publisher))
    dcterms.append(("extent", f"{book.page_count} pages"))
    content = " · ".join(filter(None, ((book.format or "").upper() or None,
                                       f"{book.page_count} pages", _size(book.size))))
    return Entry(id=f"urn:comicsrv:book:{book.id}", title=book_title(book, with_series=with_series),
                 updated=iso(book.updated_at), links=links, authors=page.authors.get(book.id, []),
                 summary=book.summary, content=content, dcterms=dcterms)


def _size(size: int | None) -> str | None:
    if not size:
        return None
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return None


def facet_links(path: str, query: dict, *, sorts: tuple[str, ...], sort: str | None,
                read: str) -> list[Link]:
    links = []
    for value in sorts:
        extra = {f"{{{OPDS_NS}}}facetGroup": "Sort"}
        if value == sort:
            extra[f"{{{OPDS_NS}}}activeFacet"] = "true"
        links.append(Link(REL_FACET, link(V1_PREFIX, path, {**query, "sort": value, "read": read}),
                          ATOM_ACQUISITION, SORT_LABELS[value], extra))
    for value in catalog.READ_STATES:
        extra = {f"{{{OPDS_NS}}}facetGroup": "Read"}
        if value == read:
            extra[f"{{{OPDS_NS}}}activeFacet"] = "true"
        links.append(Link(REL_FACET, link(V1_PREFIX, path, {**query, "sort": sort, "read": value}),
                          ATOM_ACQUISITION, READ_LABELS[value], extra))
    return links


def acquisition_feed(feed_id: str, title: str, path: str, page: catalog.BookPage, at: Paging,
                     *, query: dict | None = None, with_series: bool = True,
                     facets: list[Link] | None = None, subtitle: str | None = None) -> Response:
    query = dict(query or {})
    pages = page_links(V1_PREFIX, path, query, at, page.total)
    links = [
        Link("self", link(V1_PREFIX, path, {**query, "page": at.page if at.page > 1 else None}),
             ATOM_ACQUISITION),
        Link("start", link(V1_PREFIX, "/catalog"), ATOM_NAVIGATION),
        Link("up", link(V1_PREFIX, "/catalog"), ATOM_NAVIGATION),
        Link("search", link(V1_PREFIX, "/opensearch.xml"), OPENSEARCH),
        Link("first", pages.first, ATOM_ACQUISITION),
        Link("last", pages.last, ATOM_ACQUISITION),
    ]
    if pages.previous:
        links.append(Link("previous", pages.previous, ATOM_ACQUISITION))
    if pages.next:
        links.append(Link("next", pages.next, ATOM_ACQUISITION))
    links.extend(facets or [])
    entries = [book_entry(book, page, with_series=with_series) for book in page.books]
    feed = Feed(id=f"urn:comicsrv:{feed_id}", title=title, subtitle=subtitle, updated=iso(utcnow()),
                links=links, entries=entries, total=page.total, items_per_page=at.size,
                start_index=at.offset + 1)
    return atom(feed)


# -- shelves ----------------------------------------------------------------------


@blp.route("/keep-reading")
class KeepReading(MethodView):
    @require("BooksRead")
    def get(self):
        at = paging()
        return acquisition_feed("keep-reading", "Keep reading", "/keep-reading",
                                catalog.keep_reading(user(), at), at)


@blp.route("/on-deck")
class OnDeck(MethodView):
    @require("BooksRead")
    def get(self):
        at = paging()
        return acquisition_feed("on-deck", "On deck", "/on-deck", catalog.on_deck(user(), at), at)


@blp.route("/recent")
class RecentlyAdded(MethodView):
    @require("BooksRead")
    def get(self):
        at, read = paging(), choice("read", catalog.READ_STATES, "all")
        return acquisition_feed(
            "recent", "Recently added", "/recent", catalog.recently_added(user(), at, read), at,
            query={"read": read if read != "all" else None},
            facets=facet_links("/recent", {}, sorts=(), sort=None, read=read))


@blp.route("/favorites/books")
class FavoriteBooks(MethodView):
    @require("BooksRead")
    def get(self):
        at = paging()
        return acquisition_feed("favorites:books", "Favourite books", "/favorites/books",
                                catalog.favorite_books(user(), at), at)


@blp.route("/to-read")
class ToRead(MethodView):
    @require("BooksRead")
    def get(self):
        at = paging()
        return acquisition_feed("to-read", "Want to read", "/to-read",
                                catalog.to_read(user(), at), at)


# -- a series, a story arc, search --------------------------------------------------


@blp.route("/series/<int:series_id>")
class SeriesBooks(MethodView):
    @require("BooksRead")
    def get(self, series_id: int):
        series = catalog.one_series(user(), series_id)
        if series is None:
            raise NotFound(f"Series {series_id} not found")
        at = paging()
        sort = choice("sort", catalog.BOOK_SORTS, "number")
        read = choice("read", catalog.READ_STATES, "all")
        page = catalog.books_where(user(), Book.series_id == series.id, at, sort=sort, read=read)
        path = f"/series/{series.id}"
        return acquisition_feed(
            f"series:{series.id}", series.name, path, page, at, with_series=False,
            query={"sort": sort if sort != "number" else None,
                   "read": read if read != "all" else None},
            facets=facet_links(path, {}, sorts=catalog.BOOK_SORTS, sort=sort, read=read),
            subtitle=series.summary)


@blp.route("/arcs/<int:arc_id>")
class ArcBooks(MethodView):
    @require("BooksRead")
    def get(self, arc_id: int):
        arc = catalog.one_arc(user(), arc_id)
        if arc is None:
            raise NotFound(f"Story arc {arc_id} not found")
        at, read = paging(), choice("read", catalog.READ_STATES, "all")
        path = f"/arcs/{arc.id}"
        return acquisition_feed(
            f"arc:{arc.id}", arc.name, path, catalog.arc_books(user(), arc.id, at, read), at,
            query={"read": read if read != "all" else None},
            facets=facet_links(path, {}, sorts=(), sort=None, read=read))


@blp.route("/search")
class Search(MethodView):
    @require("BooksRead")
    def get(self):
        """Books matching every word of ``q`` (the OpenSearch template's
        ``{searchTerms}``); series-name matches first."""
        text = (request.args.get("q") or "").strip()
        at = paging()
        if not text:
            page = catalog.BookPage([], 0)
        else:
            page = catalog.search(user(), text, at)
        return acquisition_feed("search", f"Search: {text}" if text else "Search", "/search",
                                page, at, query={"q": text})


# -- covers and files -----------------------------------------------------------------


def readable_book(book_id: int) -> Book:
    book = book_for_user(user(), book_id)
    if book.state != BOOK_OK:
        raise NotFound(f"Book {book_id} cannot be read: {book.error or book.state}")
    return book


def cover_response(book_id: int, edge: int) -> Response:
    from ..api.media import thumbnail_response

    return thumbnail_response(readable_book(book_id), edge)


def file_response(book_id: int) -> Response:
    """The comic file, with Range and If-None-Match support (send_file)."""
    book = readable_book(book_id)
    if book.format == "folder" or not os.path.isfile(book.path):
        raise NotFound(f"The file of book {book_id} is not available")
    return send_file(book.path, mimetype=file_type(book.format), as_attachment=True,
                     download_name=book.filename, conditional=True, max_age=0)


@blp.route("/books/<int:book_id>/cover")
class Cover(MethodView):
    @require("BooksRead")
    def get(self, book_id: int):
        return cover_response(book_id, COVER_EDGE)


@blp.route("/books/<int:book_id>/thumbnail")
class Thumbnail(MethodView):
    @require("BooksRead")
    def get(self, book_id: int):
        return cover_response(book_id, get_setting("covers.size"))


@blp.route("/books/<int:book_id>/file")
class File(MethodView):
    @require("BooksRead")
    def get(self, book_id: int):
        return file_response(book_id)


__all__ = ["acquisition_feed", "blp", "book_entry", "cover_response", "file_response"]
