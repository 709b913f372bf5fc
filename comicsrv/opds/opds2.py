"""OPDS 2 (``application/opds+json``) at ``/opds/v2.0``: the catalogue of
OPDS 1.2 as JSON feeds, each book a publication, and each book's Readium Web
Publication manifest (Divina profile) whose ``readingOrder`` lists its pages.

A feed's publications carry the links OPDS 2 apps use: the file
(``http://opds-spec.org/acquisition``), the manifest to read it page by page
(``self``, ``application/divina+json``) and the Readium progression API
(``http://www.cantook.com/api/progression``, see ``progression``), as Komga
links them. Page images of a manifest are numbered from 1 and never save a
position: Readium readers load pages ahead and report where the reader is
through the progression API instead.
"""
from __future__ import annotations

from typing import Any

from flask import Response, json
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..api.pagination import PageArgs
from ..auth import current_principal, require
from ..errors import NotFound
from ..models import Book, utcnow
from . import catalog
from .acquisition import book_title, cover_response, file_response, readable_book
from .common import (
    DIVINA_JSON, OPDS_AUTHENTICATION_JSON, OPDS_JSON, PROGRESSION_JSON, REL_PROGRESSION,
    V2_PREFIX, Paging, authentication_document, check_enabled, file_type, iso, link,
    page_links,
)
from .pse import page_response

blp = Blueprint("opds_v2", __name__, url_prefix=V2_PREFIX,
                description="OPDS 2 catalogue (application/opds+json) for reader apps")
blp.url_value_preprocessor(check_enabled)

SECURITY = [{"Basic": []}, {"ApiKeyHeader": []}]
FEED = {"description": "An OPDS 2 feed", "content_type": OPDS_JSON}
CONTEXT = "https://readium.org/webpub-manifest/context.jsonld"
SORT_LABELS = {"number": "Issue number", "title": "Title", "added": "Recently added"}
READ_LABELS = {"all": "All", "unread": "Unread", "in_progress": "In progress", "read": "Read"}


def user():
    return current_principal().user


def opds_json(document: dict[str, Any], mimetype: str = OPDS_JSON) -> Response:
    return Response(json.dumps(document), mimetype=mimetype)


def _paging(args: dict[str, Any]) -> Paging:
    return Paging(args["page"], args["page_size"])


# -- arguments ----------------------------------------------------------------------


class FeedArgs(PageArgs):
    """``page`` from 1 and ``page_size`` (at most 200); bad values fall back
    to the defaults, as every list of comicsrv does."""


class BookFeedArgs(FeedArgs):
    sort = fields.String(load_default="number", validate=validate.OneOf(catalog.BOOK_SORTS))
    read = fields.String(load_default="all", validate=validate.OneOf(catalog.READ_STATES))


class ReadArgs(FeedArgs):
    read = fields.String(load_default="all", validate=validate.OneOf(catalog.READ_STATES))


class SeriesListArgs(FeedArgs):
    sort = fields.String(load_default="name", validate=validate.OneOf(catalog.SERIES_SORTS))
    name = fields.String(validate=validate.Length(min=1, max=500))


class SearchArgs(FeedArgs):
    query = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "every word must match"})


class ProgressionDeviceSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(max=200))
    name = fields.String(required=True, validate=validate.Length(max=200))


# -- documents ----------------------------------------------------------------------


def nav_link(title: str, path: str, *, rel: str | None = None, count: int | None = None,
             query: dict | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"title": title, "href": link(V2_PREFIX, path, query),
                            "type": OPDS_JSON}
    if rel:
        item["rel"] = rel
    if count is not None:
        item["properties"] = {"numberOfItems": count}
    return item


def feed_links(path: str, query: dict, at: Paging | None = None,
               total: int | None = None) -> list[dict[str, Any]]:
    links = [
        {"rel": "self", "href": link(V2_PREFIX, path, {**query, "page": at.page if at and
                                                       at.page > 1 else None}),
         "type": OPDS_JSON},
        {"rel": "start", "href": link(V2_PREFIX, "/catalog"), "type": OPDS_JSON},
        {"rel": "search", "href": link(V2_PREFIX, "/search") + "{?query}", "type": OPDS_JSON,
         "templated": True},
    ]
    if at is not None and total is not None:
        pages = page_links(V2_PREFIX, path, query, at, total)
        links += [{"rel": "first", "href": pages.first, "type": OPDS_JSON},
                  {"rel": "last", "href": pages.last, "type": OPDS_JSON}]
        if pages.previous:
            links.append({"rel": "previous", "href": pages.previous, "type": OPDS_JSON})
        if pages.next:
            links.append({"rel": "next", "href": pages.next, "type": OPDS_JSON})
    return links


def feed_metadata(title: str, at: Paging | None = None, total: int | None = None,
                  description: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"title": title, "modified": iso(utcnow())}
    if description:
        metadata["description"] = description
    if at is not None and total is not None:
        metadata.update(numberOfItems=total, itemsPerPage=at.size, currentPage=at.page)
    return metadata


def _contributors(names: list[str]) -> list[dict[str, str]]:
    return [{"name": name} for name in names]


def publication_metadata(book: Book, page: catalog.BookPage) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "@type": "http://schema.org/ComicIssue",
        "identifier": f"urn:comicsrv:book:{book.id}",
        "title": book_title(book, with_series=True),
        "modified": iso(book.updated_at),
        "conformsTo": "https://readium.org/webpub-manifest/profiles/divina",
    }
    if book.page_count:
        metadata["numberOfPages"] = book.page_count
    if authors := page.authors.get(book.id):
        metadata["author"] = _contributors(authors)
    if publisher := page.publishers.get(book.id):
        metadata["publisher"] = publisher
    if book.language:
        metadata["language"] = book.language
    if book.summary:
        metadata["description"] = book.summary
    if book.year:
        metadata["published"] = f"{book.year:04d}-{book.month or 1:02d}-{book.day or 1:02d}"
    if book.manga == "YesAndRightToLeft":
        metadata["readingProgression"] = "rtl"
    if book.series_name:
        series: dict[str, Any] = {"name": book.series_name}
        if book.number_sort is not None:
            series["position"] = book.number_sort
        if book.series_id is not None:
            series["links"] = [{"href": link(V2_PREFIX, f"/series/{book.series_id}"),
                                "type": OPDS_JSON}]
        metadata["belongsTo"] = {"series": [series]}
    return metadata


def publication_links(book: Book) -> list[dict[str, Any]]:
    links = [{"rel": "self", "href": link(V2_PREFIX, f"/books/{book.id}/manifest"),
              "type": DIVINA_JSON}]
    if book.format != "folder":
        links.append({"rel": "http://opds-spec.org/acquisition",
                      "href": link(V2_PREFIX, f"/books/{book.id}/file"),
                      "type": file_type(book.format), "size": book.size or None})
    else:  # a folder of images has no file to download: its manifest is the way in
        links.append({"rel": "http://opds-spec.org/acquisition/open-access",
                      "href": link(V2_PREFIX, f"/books/{book.id}/manifest"),
                      "type": DIVINA_JSON})
    links.append({"rel": REL_PROGRESSION, "href": link(V2_PREFIX, f"/books/{book.id}/progression"),
                  "type": PROGRESSION_JSON})
    return [{k: v for k, v in item.items() if v is not None} for item in links]


def publication_images(book: Book) -> list[dict[str, Any]]:
    return [{"href": link(V2_PREFIX, f"/books/{book.id}/thumbnail"), "type": "image/jpeg"},
            {"href": link(V2_PREFIX, f"/books/{book.id}/cover"), "type": "image/jpeg",
             "rel": "cover"}]


def publication(book: Book, page: catalog.BookPage) -> dict[str, Any]:
    return {"metadata": publication_metadata(book, page), "links": publication_links(book),
            "images": publication_images(book)}


def book_facets(path: str, query: dict, *, sorts: tuple[str, ...], sort: str | None,
                read: str) -> list[dict[str, Any]]:
    facets = []
    if sorts:
        facets.append({"metadata": {"title": "Sort"}, "links": [
            {**nav_link(SORT_LABELS[value], path, query={**query, "sort": value, "read": read}),
             **({"rel": "self"} if value == sort else {})} for value in sorts]})
    facets.append({"metadata": {"title": "Read"}, "links": [
        {**nav_link(READ_LABELS[value], path, query={**query, "sort": sort, "read": value}),
         **({"rel": "self"} if value == read else {})} for value in catalog.READ_STATES]})
    return facets


def book_feed(title: str, path: str, page: catalog.BookPage, at: Paging, *,
              query: dict | None = None, facets: list | None = None,
              description: str | None = None) -> Response:
    query = dict(query or {})
    document: dict[str, Any] = {
        "metadata": feed_metadata(title, at, page.total, description),
        "links": feed_links(path, query, at, page.total),
    }
    if facets:
        document["facets"] = facets
    if page.books:
        document["publications"] = [publication(book, page) for book in page.books]
    else:
        # A feed must hold publications, navigation or groups, and a list of
        # publications may not be empty: an empty shelf leads back home.
        document["navigation"] = [nav_link("Back to the catalogue", "/catalog", rel="start")]
    return opds_json(document)


def navigation_feed(title: str, path: str, navigation: list[dict[str, Any]], *,
                    at: Paging | None = None, total: int | None = None,
                    query: dict | None = None) -> Response:
    query = dict(query or {})
    if not navigation:
        navigation = [nav_link("Back to the catalogue", "/catalog", rel="start")]
    return opds_json({"metadata": feed_metadata(title, at, total),
                      "links": feed_links(path, query, at, total), "navigation": navigation})


def group_links(groups: list[catalog.Group], path: str) -> list[dict[str, Any]]:
    return [nav_link(g.title, f"{path}/{g.id}", rel="subsection", count=g.count) for g in groups]


# -- the root and navigation --------------------------------------------------------

ROOT = (
    ("Keep reading", "/keep-reading"), ("On deck", "/on-deck"),
    ("Recently added", "/recent"), ("Series", "/series"), ("Publishers", "/publishers"),
    ("Story arcs", "/arcs"), ("Libraries", "/libraries"), ("Favourites", "/favorites"),
    ("Want to read", "/to-read"),
)


@blp.route("/catalog")
class Root(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self):
        """The root navigation feed: the shelves and the ways to browse."""
        navigation = [nav_link(title, path, rel="subsection") for title, path in ROOT]
        document = {"metadata": feed_metadata("comicsrv"),
                    "links": feed_links("/catalog", {}) + [
                        {"rel": "alternate", "href": link("/opds/v1.2", "/catalog"),
                         "type": "application/atom+xml;profile=opds-catalog;kind=navigation"}],
                    "navigation": navigation}
        return opds_json(document)


@blp.route("/auth")
class Authentication(MethodView):
    @blp.response(200, description="OPDS Authentication Document",
                  content_type=OPDS_AUTHENTICATION_JSON)
    def get(self):
        """How to sign in: HTTP Basic with a comicsrv user name and password
        (OPDS Authentication 1.0). Public, as the 401 of every feed is."""
        return opds_json(authentication_document(), OPDS_AUTHENTICATION_JSON)


@blp.route("/series")
class SeriesList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SeriesListArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """Every series (``name`` narrows to one name), by name or newest first."""
        at = _paging(args)
        groups, total = catalog.series_list(user(), at, name=args.get("name"), sort=args["sort"])
        return navigation_feed(args.get("name") or "Series", "/series",
                               group_links(groups, "/series"), at=at, total=total,
                               query={"name": args.get("name"),
                                      "sort": args["sort"] if args["sort"] != "name" else None})


@blp.route("/publishers")
class Publishers(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """Publishers of readable books."""
        at = _paging(args)
        groups, total = catalog.publishers(user(), at)
        return navigation_feed("Publishers", "/publishers", group_links(groups, "/publishers"),
                               at=at, total=total)


@blp.route("/publishers/<int:publisher_id>")
class PublisherSeries(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args, publisher_id: int):
        """The series of one publisher."""
        publisher = catalog.one_publisher(user(), publisher_id)
        if publisher is None:
            raise NotFound(f"Publisher {publisher_id} not found")
        at = _paging(args)
        groups, total = catalog.series_list(user(), at, publisher_id=publisher.id)
        return navigation_feed(publisher.name, f"/publishers/{publisher.id}",
                               group_links(groups, "/series"), at=at, total=total)


@blp.route("/libraries")
class Libraries(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """The libraries the caller may see."""
        at = _paging(args)
        groups, total = catalog.libraries(user(), at)
        return navigation_feed("Libraries", "/libraries", group_links(groups, "/libraries"),
                               at=at, total=total)


@blp.route("/libraries/<int:library_id>")
class LibrarySeries(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args, library_id: int):
        """The series of one library."""
        library = catalog.one_library(user(), library_id)
        if library is None:
            raise NotFound(f"Library {library_id} not found")
        at = _paging(args)
        groups, total = catalog.series_list(user(), at, library_id=library.id)
        return navigation_feed(library.name, f"/libraries/{library.id}",
                               group_links(groups, "/series"), at=at, total=total)


@blp.route("/arcs")
class Arcs(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """Story arcs (ComicInfo StoryArc) across series."""
        at = _paging(args)
        groups, total = catalog.arcs(user(), at)
        return navigation_feed("Story arcs", "/arcs", group_links(groups, "/arcs"),
                               at=at, total=total)


@blp.route("/favorites")
class Favorites(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self):
        """Favourite books (one link leading to them), publishers and series."""
        found = catalog.favorites(user())
        navigation = [nav_link("Favourite books", "/favorites/books", rel="subsection",
                               count=found.books)]
        navigation += [nav_link(g.title, f"/publishers/{g.id}", rel="subsection")
                       for g in found.publishers]
        for name, ids in found.series:
            navigation.append(nav_link(name, f"/series/{ids[0]}", rel="subsection")
                              if len(ids) == 1 else
                              nav_link(name, "/series", rel="subsection", query={"name": name}))
        return navigation_feed("Favourites", "/favorites", navigation)


# -- acquisition feeds --------------------------------------------------------------


@blp.route("/keep-reading")
class KeepReading(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """Books started and not finished, most recently read first."""
        at = _paging(args)
        return book_feed("Keep reading", "/keep-reading", catalog.keep_reading(user(), at), at)


@blp.route("/on-deck")
class OnDeck(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """The next unread book of each series the caller is reading."""
        at = _paging(args)
        return book_feed("On deck", "/on-deck", catalog.on_deck(user(), at), at)


@blp.route("/recent")
class RecentlyAdded(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ReadArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """The newest books first."""
        at, read = _paging(args), args["read"]
        query = {"read": read if read != "all" else None}
        return book_feed("Recently added", "/recent",
                         catalog.recently_added(user(), at, read), at, query=query,
                         facets=book_facets("/recent", {}, sorts=(), sort=None, read=read))


@blp.route("/favorites/books")
class FavoriteBooks(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """Favourite books and the books directly inside favourite folders."""
        at = _paging(args)
        return book_feed("Favourite books", "/favorites/books",
                         catalog.favorite_books(user(), at), at)


@blp.route("/to-read")
class ToRead(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """The want-to-read list."""
        at = _paging(args)
        return book_feed("Want to read", "/to-read", catalog.to_read(user(), at), at)


@blp.route("/series/<int:series_id>")
class SeriesBooks(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(BookFeedArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args, series_id: int):
        """The books of a series, by issue number, title or date added."""
        series = catalog.one_series(user(), series_id)
        if series is None:
            raise NotFound(f"Series {series_id} not found")
        at, sort, read = _paging(args), args["sort"], args["read"]
        path = f"/series/{series.id}"
        page = catalog.books_where(user(), Book.series_id == series.id, at, sort=sort, read=read)
        return book_feed(series.name, path, page, at,
                         query={"sort": sort if sort != "number" else None,
                                "read": read if read != "all" else None},
                         facets=book_facets(path, {}, sorts=catalog.BOOK_SORTS, sort=sort,
                                            read=read),
                         description=series.summary)


@blp.route("/arcs/<int:arc_id>")
class ArcBooks(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ReadArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args, arc_id: int):
        """The books of a story arc, in publication order."""
        arc = catalog.one_arc(user(), arc_id)
        if arc is None:
            raise NotFound(f"Story arc {arc_id} not found")
        at, read = _paging(args), args["read"]
        path = f"/arcs/{arc.id}"
        return book_feed(arc.name, path, catalog.arc_books(user(), arc.id, at, read), at,
                         query={"read": read if read != "all" else None},
                         facets=book_facets(path, {}, sorts=(), sort=None, read=read))


@blp.route("/search")
class Search(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, **FEED)
    @require("BooksRead")
    def get(self, args):
        """Books matching every word of ``query``; series-name matches first."""
        at = _paging(args)
        return book_feed(f"Search: {args['query']}", "/search",
                         catalog.search(user(), args["query"], at), at,
                         query={"query": args["query"]})


# -- one book: its publication, manifest, pages, cover and file ----------------------


def _one(book_id: int) -> catalog.BookPage:
    page = catalog.one_book(user(), book_id)
    if page is None:
        raise NotFound(f"Book {book_id} not found")
    return page


@blp.route("/books/<int:book_id>")
class Publication(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, description="An OPDS 2 publication",
                  content_type="application/opds-publication+json")
    @require("BooksRead")
    def get(self, book_id: int):
        """One book as an OPDS 2 publication."""
        page = _one(book_id)
        return opds_json(publication(page.books[0], page), "application/opds-publication+json")


@blp.route("/books/<int:book_id>/manifest")
class Manifest(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, description="A Readium Web Publication manifest (Divina profile)",
                  content_type=DIVINA_JSON)
    @require("BooksRead")
    def get(self, book_id: int):
        """The book's pages in reading order (``readingOrder``), each an image
        link with its type and, once analyzed, its size."""
        from sqlalchemy import select

        from ..extensions import db
        from ..models import Page

        page = _one(book_id)
        book = page.books[0]
        stream_type, convert = page.stream.get(book.id, ("image/jpeg", True))
        rows = db.session.execute(select(Page.index, Page.width, Page.height)
                                  .where(Page.book_id == book.id).order_by(Page.index)).all()
        order = []
        for index, width, height in rows:
            if index >= book.page_count:
                continue
            item: dict[str, Any] = {"href": link(V2_PREFIX, f"/books/{book.id}/pages/{index + 1}",
                                                 {"format": "jpeg" if convert else None}),
                                    "type": stream_type}
            if width and height:
                item.update(width=width, height=height)
            order.append(item)
        manifest = {"@context": CONTEXT, "metadata": publication_metadata(book, page),
                    "links": publication_links(book), "readingOrder": order,
                    "resources": publication_images(book)}
        return opds_json(manifest, DIVINA_JSON)


class PageImageArgs(Schema):
    format = fields.String(validate=validate.OneOf(("jpeg", "png", "webp")))
    width = fields.Integer(validate=validate.Range(min=1, max=100_000))


@blp.route("/books/<int:book_id>/pages/<int:page_number>")
class PageImage(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageImageArgs, location="query")
    @blp.response(200, description="The page image", content_type="image/*")
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @require("PagesRead")
    def get(self, args, book_id: int, page_number: int):
        """Page ``page_number`` (from 1) of a manifest's reading order."""
        return page_response(readable_book(book_id), page_number, width=args.get("width"),
                             fmt=args.get("format"))


@blp.route("/books/<int:book_id>/cover")
class Cover(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, description="JPEG cover", content_type="image/jpeg")
    @require("BooksRead")
    def get(self, book_id: int):
        """The book's cover, 800 pixels on its long edge."""
        from .acquisition import COVER_EDGE

        return cover_response(book_id, COVER_EDGE)


@blp.route("/books/<int:book_id>/thumbnail")
class Thumbnail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, description="JPEG thumbnail", content_type="image/jpeg")
    @require("BooksRead")
    def get(self, book_id: int):
        """The book's cover thumbnail (admin setting covers.size)."""
        from ..settings_store import get_setting

        return cover_response(book_id, get_setting("covers.size"))


@blp.route("/books/<int:book_id>/file")
class File(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, description="The comic file (Range requests answer 206)",
                  content_type="application/octet-stream")
    @require("BooksRead")
    def get(self, book_id: int):
        """The comic file, as stored."""
        return file_response(book_id)


__all__ = ["blp", "publication", "publication_metadata"]
