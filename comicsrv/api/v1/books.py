"""``/api/v1/books``: Codex's book resource, its reading shelves (in progress,
on deck, recently added and read) and book analysis.

Every query is scoped to the caller's libraries (``comicsrv.library.access``)
and leaves out books whose file went missing; another library's book answers
404 as if it did not exist.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import and_, func, select

from ...auth import current_principal, require
from ...errors import Conflict
from ...extensions import db
from ...library import analysis, reading
from ...library.access import (
    book_file_for_user, book_for_user, visible_books, visible_library_ids,
)
from ...library.filters import BOOK_FIELDS, FilterContext, compile_condition
from ...library.search import search_books
from ...models import Book, Job, Library, ReadingProgress
from ..pagination import PageArgs, envelope, page_query, window
from ..request_limits import MAX_ROW_ID
from ..media import thumbnail_response
from .schemas import (
    BOOK_ITEM_COLUMNS, BOOK_SORTS, SECURITY, BookDetailSchema, BookSchema, ConditionListArgs,
    BookProgressSchema, SortField, ThumbnailArgs, book_detail, book_items, book_order,
    list_schema, progress_dict, sorted_by,
)
from .tasks import TaskSchema, task_dict
from ...models.library import BOOK_MISSING

blp = Blueprint("v1_books", __name__, url_prefix="/api/v1", description="Books")

DEFAULT_SORT = ("title", False)


# -- analysis ------------------------------------------------------------------------

def submit_analysis(book_ids: list[int], target: str) -> Job:
    """Queue an analysis of ``book_ids``; 409 with the task while one for the
    same target runs."""
    running = analysis.active_analysis(target)
    if running is not None:
        raise Conflict(f"An analysis of {target} is already running", code="analysis_running",
                       details=TaskSchema().dump(task_dict(running)))
    return db.session.get(Job, analysis.request_analysis(book_ids, target,
                                                         user_id=current_principal().user.id))


# -- queries -------------------------------------------------------------------------

def books_query():
    """The caller's books: visible, file present."""
    return select(Book).where(visible_books(current_principal().user), Book.state != BOOK_MISSING)


class VisibleBooks:
    """The books a plain list shows: the caller's visible libraries (narrowed
    to one when asked), files present.

    When that is every library, which it is for most callers, the library
    condition is left out of the SQL and the total is counted as "all books
    minus the missing ones": both counts are index look-ups, where counting
    the present books one by one costs a pass over the whole index (10-15 ms
    per 100,000 books on SQLite, see bench/bench_api_books.py).
    """

    def __init__(self, library_id: int | None = None):
        user = current_principal().user
        libraries = db.session.execute(
            select(Library.id, visible_library_ids(user).label("visible"))).all()
        ids = [i for i, visible in libraries if visible and library_id in (None, i)]
        self.everything = len(ids) == len(libraries)
        self.query = select(Book).where(Book.state != BOOK_MISSING)
        if not self.everything:
            self.query = self.query.where(Book.library_id.in_(ids))

    def page(self, args, *order) -> dict:
        if self.everything:
            # One statement, still two index look-ups: a round trip less.
            total = db.session.execute(select(
                select(func.count()).select_from(Book).scalar_subquery()
                - select(func.count()).select_from(Book)
                .where(Book.state == BOOK_MISSING).scalar_subquery())).scalar_one()
        else:
            total = db.session.execute(
                select(func.count()).select_from(self.query.subquery())).scalar_one()
        offset, limit = window(args)
        books = db.session.execute(self.query.options(BOOK_ITEM_COLUMNS).order_by(*order)
                                   .limit(limit).offset(offset)).scalars().all()
        return envelope(book_items(books, current_principal().user.id), total, args["page"],
                        args["page_size"])


def _progress_of(user_id: int, completed: bool):
    return (books_query().join(ReadingProgress, and_(ReadingProgress.book_id == Book.id,
                                                     ReadingProgress.user_id == user_id))
            .where(ReadingProgress.completed.is_(completed))
            .order_by(ReadingProgress.updated_at.desc(), Book.id.desc()))


def _page(query, args, *, window_total: bool = False) -> dict:
    books, total = page_query(query, args, window_total=window_total)
    return envelope(book_items(books, current_principal().user.id), total, args["page"],
                    args["page_size"])


# -- arguments -----------------------------------------------------------------------

class BookListArgs(PageArgs):
    library_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ROW_ID))
    series_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ROW_ID))
    sort = SortField(tuple(BOOK_SORTS), load_default=None)
    order = fields.String(validate=validate.OneOf(("asc", "desc")), load_default=None)


class BookConditionArgs(ConditionListArgs):
    sort = SortField(tuple(BOOK_SORTS), load_default=None)


# -- routes --------------------------------------------------------------------------

@blp.route("/books")
class Books(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(BookListArgs, location="query")
    @blp.response(200, list_schema(BookSchema))
    @require("BooksRead")
    def get(self, args):
        """Books (filters: library_id, series_id), sorted by `sort` (title, number,
        file_size, page_count, created_at, modified_at) and `order` (asc|desc)."""
        if "series_id" in args:
            # A series' books are few and indexed: the plain count is cheap.
            query = books_query().where(Book.series_id == args["series_id"])
            if "library_id" in args:
                query = query.where(Book.library_id == args["library_id"])
            return _page(query.order_by(*book_order(*sorted_by(args, DEFAULT_SORT))), args)
        books = VisibleBooks(args.get("library_id"))
        return books.page(args, *book_order(*sorted_by(args, DEFAULT_SORT)))


@blp.route("/books/list")
class BookConditionList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(BookConditionArgs)
    @blp.response(200, list_schema(BookSchema))
    @require("BooksRead")
    def post(self, body):
        """Books matching a condition tree (fields libraryId, seriesId, genre, tag,
        title, readStatus, hasError) and an optional `fullTextSearch`, whose best
        matches come first."""
        user = current_principal().user
        query = books_query().where(
            compile_condition(body["condition"], BOOK_FIELDS, FilterContext(user.id)))
        order = book_order(*sorted_by(body, DEFAULT_SORT))
        if not body.get("fullTextSearch"):
            return _page(query.order_by(*order), body)
        search = search_books(body["fullTextSearch"])
        query = query.where(search.where).order_by(search.rank.desc(), *order)
        return _page(query, body, window_total=True)  # ranking visits every match anyway


@blp.route("/books/in-progress")
class BooksInProgress(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(BookSchema))
    @require("BooksRead")
    def get(self, args):
        """Books the caller has started and not finished, most recently read first."""
        return _page(_progress_of(current_principal().user.id, False), args)


@blp.route("/books/recently-read")
class BooksRecentlyRead(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(BookSchema))
    @require("BooksRead")
    def get(self, args):
        """Books the caller has finished, most recently finished first."""
        return _page(_progress_of(current_principal().user.id, True), args)


@blp.route("/books/on-deck")
class BooksOnDeck(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(BookSchema))
    @require("BooksRead")
    def get(self, args):
        """The next unread book of each series where the caller completed at least
        one book and has none in progress."""
        return _page(reading.on_deck_query(current_principal().user), args, window_total=True)


@blp.route("/books/recently-added")
class BooksRecentlyAdded(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(BookSchema))
    @require("BooksRead")
    def get(self, args):
        """Books by the time they were added, newest first."""
        return VisibleBooks().page(args, Book.created_at.desc(), Book.id.desc())


@blp.route("/books/<int:book_id>")
class BookDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, BookDetailSchema)
    @require("BooksRead")
    def get(self, book_id):
        """One book with its metadata, tags by namespace and the caller's progress."""
        principal = current_principal()
        return book_detail(book_for_user(principal.user, book_id), principal.user.id)


@blp.route("/books/<int:book_id>/thumbnail")
class BookThumbnail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ThumbnailArgs, location="query")
    @blp.response(200, description="JPEG cover", content_type="image/jpeg")
    @blp.alt_response(304, description="Not modified (If-None-Match, If-Modified-Since)")
    @require("BooksRead")
    def get(self, args, book_id):
        """The book's cover."""
        return thumbnail_response(book_file_for_user(current_principal(), book_id), args["size"])


@blp.route("/books/<int:book_id>/analyze")
class BookAnalyze(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(202, TaskSchema)
    @require("TasksWrite")
    def post(self, book_id):
        """Record the book's page dimensions in the background; answers the task
        (409 with the running task while one is under way)."""
        book = book_for_user(current_principal().user, book_id)
        return task_dict(submit_analysis([book.id], f"book:{book.id}"))


@blp.route("/books/<int:book_id>/read")
class BookRead(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, BookProgressSchema)
    @require("BooksWrite")
    def post(self, book_id):
        """Mark the book read (completed, on its last page)."""
        user = current_principal().user
        return progress_dict(reading.mark_read(user.id, book_for_user(user, book_id)))


@blp.route("/books/<int:book_id>/unread")
class BookUnread(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @require("BooksWrite")
    def post(self, book_id):
        """Mark the book unread: the caller's progress in it is cleared."""
        user = current_principal().user
        reading.mark_unread(user.id, book_for_user(user, book_id))
