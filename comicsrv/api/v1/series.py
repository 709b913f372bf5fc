"""``/api/v1/series``: Codex's series resource: lists with sorting, condition
filters and full-text search, reading shelves, covers, analysis and
marking a whole series read or unread.

A series is shown while it has a book whose file is present, in a library
the caller may see; any other id answers 404.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import exists, func, select

from ...auth import current_principal, require
from ...errors import NotFound
from ...extensions import db
from ...library import reading
from ...library.access import visible_library_ids
from ...library.filters import SERIES_FIELDS, FilterContext, compile_condition, series_read_status
from ...library.search import MAX_QUERY_LENGTH, Search, search_series
from ...models import Book, Library, Publisher, Series
from ..pagination import PageArgs, PageBodyArgs, envelope, page_query
from ..request_limits import MAX_ROW_ID
from .books import submit_analysis
from ..media import thumbnail_response
from .schemas import (
    BOOK_SORTS, SECURITY, SERIES_SORTS, BookSchema, ConditionListArgs, SeriesSchema,
    SortField, ThumbnailArgs, book_items, book_order, list_schema,
    series_items, series_reading, sorted_by, user_progress,
)
from .tasks import TaskSchema, task_dict
from ...models.library import BOOK_MISSING, BOOK_OK

blp = Blueprint("v1_series", __name__, url_prefix="/api/v1", description="Series")

DEFAULT_SORT = ("name", False)
ID_RANGE = validate.Range(min=1, max=MAX_ROW_ID)


def series_query():
    """The caller's series: in a visible library, with a book present."""
    user = current_principal().user
    return select(Series).where(
        Series.library_id.in_(select(Library.id).where(visible_library_ids(user))),
        exists().where(Book.series_id == Series.id, Book.state != BOOK_MISSING))


def series_for_caller(series_id: int) -> Series:
    series = db.session.execute(series_query().where(Series.id == series_id)).scalar()
    if series is None:
        raise NotFound(f"Series {series_id} not found")
    return series


def series_books(series: Series):
    return select(Book).where(Book.series_id == series.id, Book.state != BOOK_MISSING)


# The one figure per series a sort needs, over its present books.
SORT_AGGREGATES = {
    "date_updated": lambda: func.max(Book.updated_at),
    "release_date": lambda: func.min(Book.year),
    "book_count": lambda: func.count(Book.id),
    "file_size": lambda: func.sum(Book.size),
    "page_count": lambda: func.sum(Book.page_count),
}
# Sorts the database can serve from an index, stopping after one page.
INDEXED_SORTS = ("name", "date_added")


def sort_series(query, name: str, descending: bool):
    """``query`` joined to what the sort needs, and the ORDER BY clauses
    (ties broken by id, so pages never overlap). An aggregate sort groups
    every present book by series: one pass over the books, for that figure
    alone."""
    if name == "name":
        key = Series.sort_name
    elif name == "date_added":
        key = Series.created_at
    elif name == "date_read":
        read = series_reading(current_principal().user.id).subquery()
        query = query.outerjoin(read, read.c.series_id == Series.id)
        key = read.c.last_read
    else:
        figure = (select(Book.series_id.label("series_id"),
                         SORT_AGGREGATES[name]().label("value"))
                  .where(Book.state != BOOK_MISSING, Book.series_id.is_not(None))
                  .group_by(Book.series_id).subquery())
        query = query.outerjoin(figure, figure.c.series_id == Series.id)
        key = {"date_updated": func.coalesce(figure.c.value, Series.updated_at),
               "release_date": func.coalesce(Series.year, figure.c.value)}.get(
                   name, func.coalesce(figure.c.value, 0))
    # Series without a read date or release year come last either way.
    nulls_last = [key.is_(None)] if name in ("date_read", "release_date") else []
    if descending:
        return query, [*nulls_last, key.desc(), Series.id.desc()]
    return query, [*nulls_last, key.asc(), Series.id.asc()]


def _publishers_named(name: str):
    return select(Publisher.id).where(func.lower(Publisher.name) == name.lower())


def _page(base, args, sort: tuple[str, bool] = DEFAULT_SORT,
          search: Search | None = None) -> dict:
    """A page of ``base`` (the filtered series) by ``sort``, or by a search's
    relevance and then ``sort``."""
    if search is not None:
        base = base.where(search.where)
    query, order = sort_series(base, *sort)
    if search is not None:
        order = [search.rank.desc(), *order]
    heavy = search is not None or sort[0] not in INDEXED_SORTS
    rows, total = page_query(query.order_by(*order), args, count_query=base, window_total=heavy)
    return envelope(series_items(rows, current_principal().user.id), total, args["page"],
                    args["page_size"])


# -- arguments -----------------------------------------------------------------------

class SeriesListArgs(PageArgs):
    library_id = fields.Integer(validate=ID_RANGE)
    publisher = fields.String(validate=validate.Length(min=1, max=500),
                              metadata={"description": "publisher name (any case)"})
    q = fields.String(validate=validate.Length(min=1, max=MAX_QUERY_LENGTH),
                      metadata={"description": "full-text search; best matches first"})
    sort = SortField(SERIES_SORTS, load_default=None)
    order = fields.String(validate=validate.OneOf(("asc", "desc")), load_default=None)


class SeriesConditionArgs(ConditionListArgs):
    sort = SortField(SERIES_SORTS, load_default=None)


class SeriesSearchArgs(PageBodyArgs):
    query = fields.String(required=True, validate=validate.Length(min=1, max=MAX_QUERY_LENGTH))
    library_id = fields.Integer(validate=ID_RANGE)


class SeriesBooksArgs(PageArgs):
    sort = SortField(tuple(BOOK_SORTS), load_default=None)
    order = fields.String(validate=validate.OneOf(("asc", "desc")), load_default=None)


class ShelfArgs(PageArgs):
    library_id = fields.Integer(validate=ID_RANGE)


class ReadStateSchema(Schema):
    series = fields.Nested(SeriesSchema)
    changed = fields.Integer(metadata={"description": "books whose state changed"})


# -- routes --------------------------------------------------------------------------

@blp.route("/series")
class SeriesList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SeriesListArgs, location="query")
    @blp.response(200, list_schema(SeriesSchema))
    @require("SeriesRead")
    def get(self, args):
        """Series (filters library_id, publisher, q), sorted by `sort=field,direction`:
        name, date_added, date_updated, release_date, date_read, book_count,
        file_size, page_count."""
        query = series_query()
        if "library_id" in args:
            query = query.where(Series.library_id == args["library_id"])
        if "publisher" in args:
            query = query.where(Series.publisher_id.in_(
                _publishers_named(args["publisher"])))
        search = search_series(args["q"]) if "q" in args else None
        return _page(query, args, sorted_by(args, DEFAULT_SORT), search)


@blp.route("/series/list")
class SeriesConditionList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SeriesConditionArgs)
    @blp.response(200, list_schema(SeriesSchema))
    @require("SeriesRead")
    def post(self, body):
        """Series matching a condition tree (fields libraryId, genre, tag, status,
        publisher, language, name, readStatus) and an optional `fullTextSearch`,
        whose best matches come first."""
        user = current_principal().user
        query = series_query().where(
            compile_condition(body["condition"], SERIES_FIELDS, FilterContext(user.id)))
        search = search_series(body["fullTextSearch"]) if body.get("fullTextSearch") else None
        return _page(query, body, sorted_by(body, DEFAULT_SORT), search)


@blp.route("/series/search")
class SeriesSearch(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SeriesSearchArgs)
    @blp.response(200, list_schema(SeriesSchema))
    @require("SeriesRead")
    def post(self, body):
        """Full-text search of series names, publishers, summaries, and their
        books' titles, summaries and tags: every word must match; series-name
        matches rank first."""
        query = series_query()
        if "library_id" in body:
            query = query.where(Series.library_id == body["library_id"])
        return _page(query, body, search=search_series(body["query"]))


@blp.route("/series/in-progress")
class SeriesInProgress(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ShelfArgs, location="query")
    @blp.response(200, list_schema(SeriesSchema))
    @require("SeriesRead")
    def get(self, args):
        """Series the caller has started and not finished, most recently read first."""
        user_id = current_principal().user.id
        base = _shelf(args).where(series_read_status("in_progress", user_id))
        return _page(base, args, ("date_read", True))


@blp.route("/series/recently-added")
class SeriesRecentlyAdded(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ShelfArgs, location="query")
    @blp.response(200, list_schema(SeriesSchema))
    @require("SeriesRead")
    def get(self, args):
        """Series by the time they were first seen, newest first."""
        return _page(_shelf(args), args, ("date_added", True))


@blp.route("/series/recently-updated")
class SeriesRecentlyUpdated(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ShelfArgs, location="query")
    @blp.response(200, list_schema(SeriesSchema))
    @require("SeriesRead")
    def get(self, args):
        """Series by their latest book change (a new or rescanned issue), newest first."""
        return _page(_shelf(args), args, ("date_updated", True))


def _shelf(args):
    query = series_query()
    if "library_id" in args:
        query = query.where(Series.library_id == args["library_id"])
    return query


@blp.route("/series/<int:series_id>")
class SeriesDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, SeriesSchema)
    @require("SeriesRead")
    def get(self, series_id):
        """One series with its figures and the caller's reading of it."""
        return series_items([series_for_caller(series_id)], current_principal().user.id)[0]


@blp.route("/series/<int:series_id>/books")
class SeriesBooks(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SeriesBooksArgs, location="query")
    @blp.response(200, list_schema(BookSchema))
    @require("BooksRead")
    def get(self, args, series_id):
        """The series' books, in issue order unless `sort`/`order` say otherwise."""
        series = series_for_caller(series_id)
        query = series_books(series).order_by(*book_order(*sorted_by(args, ("number", False))))
        books, total = page_query(query, args)
        return envelope(book_items(books, current_principal().user.id), total, args["page"],
                        args["page_size"])


@blp.route("/series/<int:series_id>/thumbnail")
class SeriesThumbnail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ThumbnailArgs, location="query")
    @blp.response(200, description="JPEG cover", content_type="image/jpeg")
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @require("SeriesRead")
    def get(self, args, series_id):
        """The cover of the series' first readable book (in issue order)."""
        series = series_for_caller(series_id)
        book = db.session.execute(
            series_books(series).where(Book.state == BOOK_OK, Book.page_count > 0)
            .order_by(*book_order("number", False)).limit(1)).scalar()
        if book is None:
            raise NotFound(f"Series {series_id} has no book with a cover",
                           code="cover_unavailable")
        return thumbnail_response(book, args["size"])


@blp.route("/series/<int:series_id>/analyze")
class SeriesAnalyze(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(202, TaskSchema)
    @require("TasksWrite")
    def post(self, series_id):
        """Record the page dimensions of every book of the series in the
        background; answers the task (409 with the running task while one is
        under way)."""
        series = series_for_caller(series_id)
        book_ids = db.session.execute(
            select(Book.id).where(Book.series_id == series.id, Book.state == BOOK_OK)
            .order_by(Book.id)).scalars().all()
        return task_dict(submit_analysis(list(book_ids), f"series:{series.id}"))


@blp.route("/series/<int:series_id>/read")
class SeriesRead(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ReadStateSchema)
    @require("BooksWrite")
    def post(self, series_id):
        """Mark every book of the series read; books already read keep their date."""
        series = series_for_caller(series_id)
        user_id = current_principal().user.id
        books = db.session.execute(series_books(series).order_by(Book.id)).scalars().all()
        progress = user_progress(user_id, (b.id for b in books))
        changed = 0
        for book in books:
            if book.id not in progress or not progress[book.id].completed:
                reading.mark_read(user_id, book)
                changed += 1
        return {"series": series_items([series], user_id)[0], "changed": changed}


@blp.route("/series/<int:series_id>/unread")
class SeriesUnread(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ReadStateSchema)
    @require("BooksWrite")
    def post(self, series_id):
        """Mark every book of the series unread: the caller's progress in each is cleared."""
        series = series_for_caller(series_id)
        user_id = current_principal().user.id
        books = db.session.execute(series_books(series).order_by(Book.id)).scalars().all()
        progress = user_progress(user_id, (b.id for b in books))
        for book in books:
            if book.id in progress:
                reading.mark_unread(user_id, book)
        return {"series": series_items([series], user_id)[0], "changed": len(progress)}
