"""The Komga API's routes: thin views over ``komga.catalog`` (queries),
``komga.dto`` (Komga's JSON) and the services every surface shares (covers,
pages, ``comicsrv.library.reading`` for the one progress table).

What Mihon's Komga extension calls, in order: ``libraries``, ``collections``,
``genres``, ``tags``, ``publishers``, ``authors`` (its filters); ``series``
with ``search``, ``page``, ``deleted``, ``sort``, ``library_id``,
``read_status``...; ``series/{id}`` and its ``thumbnail``;
``series/{id}/books?unpaged=true&media_status=READY&deleted=false``;
``books/{id}/pages`` and each ``books/{id}/pages/{n}`` (``?convert=png``
for a type it cannot show); its tracker reads and writes
``api/v2/series/{id}/read-progress/tachiyomi``. Komelia and Paperback add
``users/me``, ``actuator/info``, ``books/{id}`` and its ``read-progress``.
"""
from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import ColumnElement, and_

from .. import __version__
from ..auth import current_principal, require
from ..errors import BadRequest, NotFound
from ..library import reading
from ..models import Book
from ..opds import catalog as opds_catalog
from ..opds.acquisition import cover_response, file_response, readable_book
from ..opds.pse import page_response
from ..settings_store import get_setting
from . import catalog, dto
from .common import (
    KOMGA_VERSION, SEARCH_TEXT, SECURITY, TEXT, PageArgs, Paging, blp, envelope, ids_of, komga_json,
    names_of, parse_id, sorts,
)


def user():
    return current_principal().user


DOC = {"security": SECURITY}
STRINGS = {"type": "array", "items": {"type": "string"}}


# -- arguments ----------------------------------------------------------------------


class SearchArgs(PageArgs):
    search = fields.String(validate=SEARCH_TEXT)
    library_id = fields.List(fields.String(validate=TEXT), load_default=list)
    read_status = fields.List(fields.String(validate=validate.OneOf(catalog.READ_STATUSES)),
                              load_default=list)
    deleted = fields.Boolean()


class SeriesArgs(SearchArgs):
    publisher = fields.List(fields.String(validate=TEXT), load_default=list)
    genre = fields.List(fields.String(validate=TEXT), load_default=list)
    tag = fields.List(fields.String(validate=TEXT), load_default=list)
    author = fields.List(fields.String(validate=TEXT), load_default=list,
                         metadata={"description": "name,role (repeatable)"})
    collection_id = fields.List(fields.String(validate=TEXT), load_default=list)
    status = fields.List(fields.String(validate=TEXT), load_default=list)


class BooksArgs(SearchArgs):
    media_status = fields.List(fields.String(validate=TEXT), load_default=list)


class ListArgs(PageArgs):
    search = fields.String(validate=SEARCH_TEXT)


class KomgaPageImageArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    convert = fields.String(validate=validate.OneOf(("jpeg", "png")))
    zero_based = fields.Boolean(load_default=False)


class KomgaReadProgressBody(Schema):
    """Komga's ``ReadProgressUpdateDto``: a page (from 1) or ``completed``."""

    page = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    completed = fields.Boolean(allow_none=True)


class KomgaTachiyomiProgressBody(Schema):
    lastBookNumberSortRead = fields.Float(required=True, allow_nan=False,
                                          validate=validate.Range(min=-1e9, max=1e9))


class AuthorArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    search = fields.String(validate=SEARCH_TEXT)
    role = fields.String(validate=validate.OneOf(catalog.ROLES))


PageSeries = dto.page_schema(dto.KomgaSeriesSchema)
PageBooks = dto.page_schema(dto.KomgaBookSchema)
PageReadLists = dto.page_schema(dto.KomgaReadListSchema)
PageCollections = dto.page_schema(dto.KomgaCollectionSchema)


def _series_page_json(page: catalog.SeriesPage, at: Paging, args: dict) -> Response:
    return komga_json(envelope([dto.series_dto(s, page) for s in page.series], page.total, at,
                               sorts(args)))


def _books_json(books: catalog.Books, at: Paging, args: dict) -> Response:
    return komga_json(envelope([dto.book_dto(b, books) for b in books.page.books],
                               books.page.total, at, sorts(args)))


def _authors_arg(values: list[str]) -> list[tuple[str, str]]:
    found = []
    for value in values:
        name, _, role = value.rpartition(",")
        if name and role:
            found.append((name, role))
    return found


# -- libraries and the filter values ------------------------------------------------


@blp.route("/api/v1/libraries")
class Libraries(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaLibrarySchema(many=True))
    @require("LibrariesRead")
    def get(self):
        """The caller's libraries."""
        return komga_json([dto.library_dto(lib) for lib in catalog.libraries(user())])


@blp.route("/api/v1/libraries/<library_id>")
class OneLibrary(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaLibrarySchema)
    @require("LibrariesRead")
    def get(self, library_id: str):
        number = parse_id(library_id)
        for library in catalog.libraries(user()):
            if library.id == number:
                return komga_json(dto.library_dto(library))
        raise NotFound(f"Library {library_id} not found")


def _names(namespace: str):
    return komga_json(catalog.tag_names(user(), namespace))


@blp.route("/api/v1/genres")
class Genres(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, STRINGS)
    @require("BooksRead")
    def get(self):
        """ComicInfo genres of the caller's books."""
        return _names(catalog.GENRE)


@blp.route("/api/v1/tags")
class Tags(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, STRINGS)
    @require("BooksRead")
    def get(self):
        """ComicInfo tags of the caller's books."""
        return _names(catalog.TAG)


@blp.route("/api/v1/publishers")
class Publishers(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, STRINGS)
    @require("BooksRead")
    def get(self):
        return komga_json(catalog.publisher_names(user()))


@blp.route("/api/v1/authors")
class Authors(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(AuthorArgs, location="query")
    @blp.response(200, dto.KomgaAuthorSchema(many=True))
    @require("BooksRead")
    def get(self, args: dict[str, Any]):
        """Credits (writer, penciller, ...) of the caller's books."""
        return komga_json([{"name": n, "role": r} for n, r in catalog.authors(
            user(), args.get("search"), args.get("role"))])


# -- series -------------------------------------------------------------------------


def _series_filters(args: dict[str, Any]) -> dict[str, Any]:
    libraries = ids_of(args["library_id"]) if args["library_id"] else None
    series_ids = None
    if args.get("collection_id"):
        series_ids = (catalog.favorite_series_ids(user())
                      if catalog.FAVORITES_ID in names_of(args["collection_id"]) else [])
    return dict(search=args.get("search") or None, library_ids=libraries,
                read_status=args["read_status"], publishers=names_of(args["publisher"]),
                genres=names_of(args["genre"]), tags=names_of(args["tag"]),
                authors=_authors_arg(args["author"]), series_ids=series_ids, sort=sorts(args))


@blp.route("/api/v1/series")
class SeriesList(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(SeriesArgs, location="query")
    @blp.response(200, PageSeries)
    @require("SeriesRead")
    def get(self, args: dict[str, Any]):
        """Series, searched, filtered, sorted and paged as Komga does."""
        at = Paging.of(args)
        return _series_page_json(catalog.series_page(user(), at, **_series_filters(args)),
                                 at, args)


@blp.route("/api/v1/series/new")
class NewSeries(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(SeriesArgs, location="query")
    @blp.response(200, PageSeries)
    @require("SeriesRead")
    def get(self, args: dict[str, Any]):
        """Recently added series (Komelia's home)."""
        at = Paging.of(args)
        filters = {**_series_filters(args), "sort": [("createdDate", False)]}
        return _series_page_json(catalog.series_page(user(), at, **filters), at, args)


@blp.route("/api/v1/series/updated")
class UpdatedSeries(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(SeriesArgs, location="query")
    @blp.response(200, PageSeries)
    @require("SeriesRead")
    def get(self, args: dict[str, Any]):
        """Recently changed series (Komelia's home)."""
        at = Paging.of(args)
        filters = {**_series_filters(args), "sort": [("lastModifiedDate", False)]}
        return _series_page_json(catalog.series_page(user(), at, **filters), at, args)


class KomgaSearchBody(Schema):
    """Komga's search body (``POST /series/list``, ``/books/list``): what is
    understood of ``condition`` is each ``libraryId``, ``readStatus`` and
    ``seriesId`` compared with ``is``, all required together; other
    conditions are ignored."""

    class Meta:
        unknown = EXCLUDE

    condition = fields.Dict(load_default=dict)
    fullTextSearch = fields.String(allow_none=True, validate=SEARCH_TEXT)


def _conditions(node: Any, found: dict[str, list[str]], depth: int = 0) -> dict[str, list[str]]:
    if depth > 20:
        return found
    if isinstance(node, list):
        for item in node[:200]:
            _conditions(item, found, depth + 1)
    elif isinstance(node, dict):
        for name, value in list(node.items())[:200]:
            if name in ("libraryId", "readStatus", "seriesId") and isinstance(value, dict):
                if value.get("operator") in ("is", "IS") and isinstance(value.get("value"), str):
                    found.setdefault(name, []).append(value["value"])
            else:
                _conditions(value, found, depth + 1)
    return found


@blp.route("/api/v1/series/list")
class SearchSeries(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(KomgaSearchBody)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PageSeries)
    @require("SeriesRead")
    def post(self, body: dict[str, Any], args: dict[str, Any]):
        """Komga's series search (Komelia): ``fullTextSearch`` and the
        library and read-state conditions."""
        found = _conditions(body["condition"], {})
        at = Paging.of(args)
        libraries = ids_of(found["libraryId"]) if "libraryId" in found else None
        return _series_page_json(catalog.series_page(
            user(), at, search=body.get("fullTextSearch") or None, library_ids=libraries,
            read_status=[v.upper() for v in found.get("readStatus", [])], sort=sorts(args)),
            at, args)


def _one_series(series_id: str) -> catalog.SeriesPage:
    page = catalog.one_series(user(), parse_id(series_id))
    if page is None:
        raise NotFound(f"Series {series_id} not found")
    return page


@blp.route("/api/v1/series/<series_id>")
class OneSeries(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaSeriesSchema)
    @require("SeriesRead")
    def get(self, series_id: str):
        page = _one_series(series_id)
        return komga_json(dto.series_dto(page.series[0], page))


@blp.route("/api/v1/series/<series_id>/thumbnail")
class SeriesThumbnail(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, content_type="image/jpeg")
    @require("SeriesRead")
    def get(self, series_id: str):
        """The cover of the series' first book."""
        page = _one_series(series_id)
        first = page.figures[page.series[0].id].first_book
        if first is None:
            raise NotFound(f"Series {series_id} has no cover")
        return cover_response(first, get_setting("covers.size"))


@blp.route("/api/v1/series/<series_id>/books")
class SeriesBooks(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(BooksArgs, location="query")
    @blp.response(200, PageBooks)
    @require("BooksRead")
    def get(self, args: dict[str, Any], series_id: str):
        """The books of a series, by number unless sorted otherwise."""
        series = _one_series(series_id).series[0]
        at = Paging.of(args)
        return _books_json(catalog.book_list(user(), Book.series_id == series.id, at,
                                             sorts(args), read_status=args["read_status"]),
                           at, args)


def _tachiyomi_progress(series_id: str) -> dict[str, Any]:
    series = _one_series(series_id).series[0]
    books = catalog.book_list(user(), Book.series_id == series.id, Paging(0, 10_000, True))
    numbers = [(b.number_sort or 0.0, books.page.progress.get(b.id)) for b in books.page.books]
    read = [p for _, p in numbers if p is not None and p.completed]
    started = [p for _, p in numbers if p is not None and not p.completed and (p.page or 0) > 0]
    continuous = 0.0
    for number, progress in sorted(numbers, key=lambda pair: pair[0]):
        if progress is None or not progress.completed:
            break
        continuous = number
    return {"booksCount": len(numbers), "booksReadCount": len(read),
            "booksUnreadCount": len(numbers) - len(read) - len(started),
            "booksInProgressCount": len(started),
            "lastReadContinuousNumberSort": continuous,
            "maxNumberSort": max((n for n, _ in numbers), default=0.0)}


@blp.route("/api/v2/series/<series_id>/read-progress/tachiyomi")
class TachiyomiProgress(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, Schema.from_dict({
        "booksCount": fields.Integer(), "booksReadCount": fields.Integer(),
        "booksUnreadCount": fields.Integer(), "booksInProgressCount": fields.Integer(),
        "lastReadContinuousNumberSort": fields.Float(), "maxNumberSort": fields.Float()},
        name="TachiyomiReadProgressV2"))
    @require("BooksRead")
    def get(self, series_id: str):
        """What Mihon's Komga tracker reads: the series' read counts by number."""
        return komga_json(_tachiyomi_progress(series_id))

    @blp.doc(**DOC)
    @blp.arguments(KomgaTachiyomiProgressBody)
    @blp.response(204)
    @require("BooksWrite")
    def put(self, body: dict[str, Any], series_id: str):
        """Mark every book numbered up to ``lastBookNumberSortRead`` read."""
        series = _one_series(series_id).series[0]
        books = catalog.book_list(user(), Book.series_id == series.id, Paging(0, 10_000, True))
        for book in books.page.books:
            progress = books.page.progress.get(book.id)
            if (book.number_sort or 0.0) <= body["lastBookNumberSortRead"] and not (
                    progress is not None and progress.completed):
                reading.mark_read(user().id, book)
        return Response(status=204)


# -- books --------------------------------------------------------------------------


@blp.route("/api/v1/books")
class BookList(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(BooksArgs, location="query")
    @blp.response(200, PageBooks)
    @require("BooksRead")
    def get(self, args: dict[str, Any]):
        """Books, searched (full text), filtered by library and read status."""
        at = Paging.of(args)
        libraries = ids_of(args["library_id"]) if args["library_id"] else None
        where = Book.library_id.in_(libraries) if libraries is not None else Book.id.is_not(None)
        return _books_json(catalog.book_list(
            user(), where, at, sorts(args), read_status=args["read_status"],
            search=args.get("search") or None,
            default_order=[Book.series_name, Book.number_sort]), at, args)


@blp.route("/api/v1/books/list")
class SearchBooks(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(KomgaSearchBody)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PageBooks)
    @require("BooksRead")
    def post(self, body: dict[str, Any], args: dict[str, Any]):
        """Komga's book search (Komelia): ``fullTextSearch`` and the
        library, series and read-state conditions."""
        found = _conditions(body["condition"], {})
        at = Paging.of(args)
        where: ColumnElement[bool] = Book.id.is_not(None)
        if "libraryId" in found:
            where = Book.library_id.in_(ids_of(found["libraryId"]))
        if "seriesId" in found:
            where = and_(where, Book.series_id.in_(ids_of(found["seriesId"])))
        return _books_json(catalog.book_list(
            user(), where, at, sorts(args),
            read_status=[v.upper() for v in found.get("readStatus", [])],
            search=body.get("fullTextSearch") or None,
            default_order=[Book.series_name, Book.number_sort]), at, args)


@blp.route("/api/v1/books/ondeck")
class OnDeck(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(BooksArgs, location="query")
    @blp.response(200, PageBooks)
    @require("BooksRead")
    def get(self, args: dict[str, Any]):
        """The next unread book of each series the caller is reading (Codex's on deck)."""
        at = Paging.of(args)
        return _books_json(catalog.decorate_books(opds_catalog.on_deck(user(), at.opds())),
                           at, args)


def _one_book(book_id: str) -> catalog.Books:
    books = catalog.one_book(user(), parse_id(book_id))
    if books is None:
        raise NotFound(f"Book {book_id} not found")
    return books


@blp.route("/api/v1/books/<book_id>")
class OneBook(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaBookSchema)
    @require("BooksRead")
    def get(self, book_id: str):
        books = _one_book(book_id)
        return komga_json(dto.book_dto(books.page.books[0], books))


def _sibling(book_id: str, step: int) -> Response:
    book = _one_book(book_id).page.books[0]
    if book.series_id is None:
        raise NotFound(f"Book {book_id} is in no series")
    books = catalog.book_list(user(), Book.series_id == book.series_id, Paging(0, 10_000, True))
    ids = [b.id for b in books.page.books]
    index = ids.index(book.id) + step if book.id in ids else -1
    if not 0 <= index < len(ids):
        raise NotFound(f"Book {book_id} has no {'next' if step > 0 else 'previous'} book")
    books.page.books = [books.page.books[index]]
    return komga_json(dto.book_dto(books.page.books[0], books))


@blp.route("/api/v1/books/<book_id>/next")
class NextBook(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaBookSchema)
    @require("BooksRead")
    def get(self, book_id: str):
        """The next book of the series (Komelia's reader goes on with it)."""
        return _sibling(book_id, 1)


@blp.route("/api/v1/books/<book_id>/previous")
class PreviousBook(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaBookSchema)
    @require("BooksRead")
    def get(self, book_id: str):
        return _sibling(book_id, -1)


@blp.route("/api/v1/books/<book_id>/thumbnail")
class BookThumbnail(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, content_type="image/jpeg")
    @require("BooksRead")
    def get(self, book_id: str):
        return cover_response(parse_id(book_id), get_setting("covers.size"))


@blp.route("/api/v1/books/<book_id>/file")
class BookFile(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, content_type="application/octet-stream")
    @require("BooksRead")
    def get(self, book_id: str):
        """The comic file."""
        return file_response(parse_id(book_id))


@blp.route("/api/v1/books/<book_id>/pages")
class BookPages(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaPageSchema(many=True))
    @require("PagesRead")
    def get(self, book_id: str):
        """The pages of a book, numbered from 1."""
        book = readable_book(parse_id(book_id))
        pages = catalog.pages_of(book.id)[:book.page_count]
        return komga_json([dto.page_dto(p, n) for n, p in enumerate(pages, start=1)])


@blp.route("/api/v1/books/<book_id>/pages/<int(signed=True):page_number>")
class BookPage(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(KomgaPageImageArgs, location="query")
    @blp.response(200, content_type="image/*")
    @require("PagesRead")
    def get(self, args: dict[str, Any], book_id: str, page_number: int):
        """A page image (from 1, or from 0 with ``zero_based``), converted on request."""
        book = readable_book(parse_id(book_id))
        number = page_number + 1 if args["zero_based"] else page_number
        if not 1 <= number <= book.page_count:
            raise NotFound(f"Book {book.id} has no page {page_number}")
        return page_response(book, number, width=None, fmt=args.get("convert"))


@blp.route("/api/v1/books/<book_id>/read-progress")
class BookReadProgress(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(KomgaReadProgressBody)
    @blp.response(204)
    @require("BooksWrite")
    def patch(self, body: dict[str, Any], book_id: str):
        """Save the caller's page (from 1), or mark the book read or unread."""
        book = readable_book(parse_id(book_id))
        page, completed = body.get("page"), body.get("completed")
        if page is None and completed is None:
            raise BadRequest("Give page or completed", code="invalid_progress")
        if page is not None and page > book.page_count:
            raise BadRequest(f"Page argument ({page}) must be within 1 and book page count "
                             f"({book.page_count})", code="invalid_progress")
        if completed and page is None:
            reading.mark_read(user().id, book)
        elif completed is False and page is None:
            reading.mark_unread(user().id, book)
        else:
            reading.save_progress(user().id, book, reading.ProgressUpdate(
                page=page, completed=completed))
        return Response(status=204)

    @blp.doc(**DOC)
    @blp.response(204)
    @require("BooksWrite")
    def delete(self, book_id: str):
        """Forget the caller's progress in the book (mark it unread)."""
        book = readable_book(parse_id(book_id))
        reading.mark_unread(user().id, book)
        return Response(status=204)


# -- read lists (reading lists and story arcs) --------------------------------------


def _one_read_list(list_id: str) -> catalog.ReadList:
    found = catalog.one_read_list(user(), list_id)
    if found is None:
        raise NotFound(f"Read list {list_id[:60]!r} not found")
    return found


@blp.route("/api/v1/readlists")
class ReadLists(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, PageReadLists)
    @require("BooksRead")
    def get(self, args: dict[str, Any]):
        """The caller's reading lists, then the story arcs of the library."""
        at = Paging.of(args)
        rows, total = catalog.read_lists(user(), at, args.get("search") or None)
        return komga_json(envelope([dto.read_list_dto(r) for r in rows], total, at))


@blp.route("/api/v1/readlists/<list_id>")
class OneReadList(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaReadListSchema)
    @require("BooksRead")
    def get(self, list_id: str):
        return komga_json(dto.read_list_dto(_one_read_list(list_id)))


@blp.route("/api/v1/readlists/<list_id>/thumbnail")
class ReadListThumbnail(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, content_type="image/jpeg")
    @require("BooksRead")
    def get(self, list_id: str):
        row = _one_read_list(list_id)
        if not row.book_ids:
            raise NotFound(f"Read list {list_id} has no cover")
        return cover_response(row.book_ids[0], get_setting("covers.size"))


@blp.route("/api/v1/readlists/<list_id>/books")
class ReadListBooks(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(BooksArgs, location="query")
    @blp.response(200, PageBooks)
    @require("BooksRead")
    def get(self, args: dict[str, Any], list_id: str):
        """The books of a read list, in its order."""
        row = _one_read_list(list_id)
        at = Paging.of(args)
        ids = row.book_ids
        books = catalog.book_list(user(), Book.id.in_(ids), Paging(0, 10_000, True),
                                  read_status=args["read_status"])
        position = {book_id: index for index, book_id in enumerate(ids)}
        ordered = sorted(books.page.books, key=lambda b: position.get(b.id, len(ids)))
        if not sorts(args):
            books.page.books = ordered
        books.page.books = books.page.books[at.offset:at.offset + at.size]
        return _books_json(books, at, args)


# -- collections (favourite series) -------------------------------------------------


def _favorites(collection_id: str) -> list[int]:
    if collection_id != catalog.FAVORITES_ID:
        raise NotFound(f"Collection {collection_id[:60]!r} not found")
    return catalog.favorite_series_ids(user())


@blp.route("/api/v1/collections")
class Collections(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, PageCollections)
    @require("SeriesRead")
    def get(self, args: dict[str, Any]):
        """One collection, the caller's favourite series (when there are any)."""
        at = Paging.of(args)
        ids = catalog.favorite_series_ids(user())
        search = (args.get("search") or "").lower()
        rows = [dto.collection_dto(ids, *catalog.favorites_changed(user()))] if ids and (
            search in "favorites") else []
        return komga_json(envelope(rows[at.offset:at.offset + at.size], len(rows), at))


@blp.route("/api/v1/collections/<collection_id>")
class OneCollection(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaCollectionSchema)
    @require("SeriesRead")
    def get(self, collection_id: str):
        ids = _favorites(collection_id)
        return komga_json(dto.collection_dto(ids, *catalog.favorites_changed(user())))


@blp.route("/api/v1/collections/<collection_id>/thumbnail")
class CollectionThumbnail(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, content_type="image/jpeg")
    @require("SeriesRead")
    def get(self, collection_id: str):
        ids = _favorites(collection_id)
        page = catalog.one_series(user(), ids[0]) if ids else None
        first = page.figures[ids[0]].first_book if page else None
        if first is None:
            raise NotFound("The collection has no cover")
        return cover_response(first, get_setting("covers.size"))


@blp.route("/api/v1/collections/<collection_id>/series")
class CollectionSeries(MethodView):
    @blp.doc(**DOC)
    @blp.arguments(SeriesArgs, location="query")
    @blp.response(200, PageSeries)
    @require("SeriesRead")
    def get(self, args: dict[str, Any], collection_id: str):
        ids = _favorites(collection_id)
        at = Paging.of(args)
        filters = {**_series_filters(args), "series_ids": ids}
        return _series_page_json(catalog.series_page(user(), at, **filters), at, args)


# -- the caller and the server ------------------------------------------------------


def _me() -> Response:
    principal = current_principal()
    return komga_json(dto.user_dto(principal.user, principal.permissions))


@blp.route("/api/v1/users/me")
class Me(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaUserSchema)
    @require()
    def get(self):
        """The caller, as Komga describes a user."""
        return _me()


@blp.route("/api/v2/users/me")
class MeV2(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, dto.KomgaUserSchema)
    @require()
    def get(self):
        return _me()


@blp.route("/actuator/info")
class ActuatorInfo(MethodView):
    @blp.doc(**DOC)
    @blp.response(200, Schema.from_dict({"build": fields.Dict()}, name="KomgaActuatorInfo"))
    @require()
    def get(self):
        """Spring Boot's build info, as Komga answers it (clients read the version)."""
        return komga_json({"build": {"artifact": "komga", "name": "komga", "group": "org.gotson",
                                     "version": KOMGA_VERSION,
                                     "server": f"comicsrv {__version__}"}})

