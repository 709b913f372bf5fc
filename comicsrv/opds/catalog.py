"""What the OPDS feeds list, for both catalogue versions: shelves, series,
publishers, libraries, story arcs, favourites, the want-to-read list and
search results.

Every list is scoped to the caller's libraries (``comicsrv.library.access``)
and to readable books (``state == "ok"``: an unreadable file offers a reader
app nothing). A feed page costs a fixed number of indexed queries whatever
its length: the count, the page, and one each for the page's reading
positions, writers and page media types (``BookPage``); never one per entry.
Paging is by offset along orders that an index serves (title, issue number,
date added: see the indexes on ``books``), so a deep page stays cheap.

Story arcs are ComicInfo's ``StoryArc`` values, which the scanner stores as
``arc:`` tags; arcs a metadata provider describes (``models.automation``)
belong to the *arr side and list issues whether or not they are on disk.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from ..extensions import db
from ..library.access import visible_books, visible_library_ids
from ..library.filters import book_read_status
from ..library.search import search_books
from ..models import (
    Book, BookTag, Favorite, Library, Page, Publisher, ReadingProgress, Series, Tag,
    ToReadEntry, User,
)
from .common import Paging
from ..models.library import BOOK_OK

ARC_NAMESPACE = "arc"
# Credits shown as an entry's authors, in this order.
AUTHOR_NAMESPACES = ("writer", "penciller", "artist")
READ_STATES = ("all", "unread", "in_progress", "read")
BOOK_SORTS = ("number", "title", "added")
SERIES_SORTS = ("name", "added")
# Page types every PSE client decodes (the PSE spec's list); others are
# converted to JPEG when streamed.
STREAMABLE = ("image/jpeg", "image/png", "image/gif")


# -- books ------------------------------------------------------------------------


def readable_books(user: User | None):
    """SELECT the caller's readable books with their publisher's name."""
    return (select(Book, Publisher.name.label("publisher"))
            .outerjoin(Publisher, Publisher.id == Book.publisher_id)
            .where(visible_books(user), Book.state == BOOK_OK))


def readable_ids(user: User | None, *where: ColumnElement[bool]):
    """SELECT the ids of the caller's readable books matching ``where``: what
    a feed counts, without the publisher join (an index-only count)."""
    return select(Book.id).where(visible_books(user), Book.state == BOOK_OK, *where)


def book_order(sort: str) -> list:
    """ORDER BY of a book sort, each served by an index (ix_books_*_sort,
    ix_books_created_at), ending with the id so pages never overlap."""
    if sort == "title":
        return [func.lower(func.coalesce(Book.title, Book.filename)), Book.id]
    if sort == "added":
        return [Book.created_at.desc(), Book.id.desc()]
    return [Book.number_sort.is_(None), Book.number_sort, Book.filename, Book.id]


def read_filter(state: str, user_id: int) -> ColumnElement[bool] | None:
    return None if state == "all" else book_read_status(state, user_id)


@dataclass
class BookPage:
    """One page of books and what their entries show, in a fixed number of queries."""

    books: list[Book]
    total: int
    publishers: dict[int, str | None] = field(default_factory=dict)
    progress: dict[int, ReadingProgress] = field(default_factory=dict)
    authors: dict[int, list[str]] = field(default_factory=dict)
    # book id -> (type a PSE link declares, whether pages must be converted to it)
    stream: dict[int, tuple[str, bool]] = field(default_factory=dict)


def book_page(query, order: Sequence, at: Paging, user_id: int, *,
              count_query=None) -> BookPage:
    """Count ``query`` (or ``count_query``), read one page of it in ``order``."""
    counted = (count_query if count_query is not None else query).order_by(None)
    total = db.session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    rows = [] if total <= at.offset else db.session.execute(
        query.order_by(*order).limit(at.size).offset(at.offset)).all()
    return decorate([row[0] for row in rows], total, user_id,
                    publishers={row[0].id: row.publisher for row in rows})


def decorate(books: list[Book], total: int, user_id: int, *,
             publishers: dict[int, str | None] | None = None) -> BookPage:
    page = BookPage(books, total, publishers=publishers or {})
    ids = [book.id for book in books]
    if not ids:
        return page
    page.progress = {p.book_id: p for p in db.session.execute(select(ReadingProgress).where(
        ReadingProgress.user_id == user_id, ReadingProgress.book_id.in_(ids))).scalars()}
    authors: dict[int, list[str]] = defaultdict(list)
    for book_id, _, name in db.session.execute(
            select(BookTag.book_id, Tag.namespace, Tag.name)
            .join(Tag, Tag.id == BookTag.tag_id)
            .where(BookTag.book_id.in_(ids), Tag.namespace.in_(AUTHOR_NAMESPACES))
            .order_by(BookTag.book_id, Tag.namespace.desc(), Tag.name)):
        if name not in authors[book_id]:
            authors[book_id].append(name)
    page.authors = dict(authors)
    types = db.session.execute(
        select(Page.book_id, func.min(Page.media_type), func.max(Page.media_type),
               func.count(), func.count(Page.media_type))
        .where(Page.book_id.in_(ids)).group_by(Page.book_id))
    for book_id, low, high, pages, typed in types:
        single = low == high and pages == typed and low in STREAMABLE
        page.stream[book_id] = (low, False) if single else ("image/jpeg", True)
    return page


def keep_reading(user: User, at: Paging) -> BookPage:
    """Started and not finished, most recently read first."""
    query = (readable_books(user)
             .join(ReadingProgress, and_(ReadingProgress.book_id == Book.id,
                                         ReadingProgress.user_id == user.id))
             .where(ReadingProgress.completed.is_(False), ReadingProgress.page > 0))
    return book_page(query, [ReadingProgress.updated_at.desc(), Book.id.desc()], at, user.id)


def on_deck(user: User, at: Paging) -> BookPage:
    """Codex's on deck (``/api/v1/books/on-deck``): the next unread book of
    each series the caller finished a book of and has none in progress."""
    from ..library.reading import on_deck_query

    deck = on_deck_query(user).where(Book.state == BOOK_OK)
    total = db.session.execute(
        select(func.count()).select_from(deck.order_by(None).subquery())).scalar_one()
    query = (deck.outerjoin(Publisher, Publisher.id == Book.publisher_id)
             .add_columns(Publisher.name.label("publisher")))
    rows = [] if total <= at.offset else db.session.execute(
        query.limit(at.size).offset(at.offset)).all()
    return decorate([row[0] for row in rows], total, user.id,
                    publishers={row[0].id: row.publisher for row in rows})


def recently_added(user: User, at: Paging, read: str = "all") -> BookPage:
    clauses = [c for c in (read_filter(read, user.id),) if c is not None]
    return book_page(readable_books(user).where(*clauses), book_order("added"), at, user.id,
                     count_query=readable_ids(user, *clauses))


def books_where(user: User, where: ColumnElement[bool], at: Paging, *, sort: str,
                read: str = "all") -> BookPage:
    """Books matching ``where`` (a series, an arc, a folder...), sorted and filtered."""
    clauses = [c for c in (where, read_filter(read, user.id)) if c is not None]
    return book_page(readable_books(user).where(*clauses), book_order(sort), at, user.id,
                     count_query=readable_ids(user, *clauses))


def arc_order() -> list:
    """Publication order: an arc crosses series, and its issues came out in
    the order they are read (ComicInfo's StoryArcNumber is not kept per arc)."""
    return [Book.year.is_(None), Book.year, Book.month.is_(None), Book.month, Book.day,
            Book.series_name, Book.number_sort, Book.id]


def arc_books(user: User, tag_id: int, at: Paging, read: str = "all") -> BookPage:
    clauses = [c for c in (Book.id.in_(select(BookTag.book_id).where(BookTag.tag_id == tag_id)),
                           read_filter(read, user.id)) if c is not None]
    return book_page(readable_books(user).where(*clauses), arc_order(), at, user.id,
                     count_query=readable_ids(user, *clauses))


def search(user: User, text: str, at: Paging) -> BookPage:
    """Full-text search (``comicsrv.library.search``): series-name hits first."""
    found = search_books(text)
    return book_page(readable_books(user).where(found.where),
                     [found.rank.desc(), *book_order("title")], at, user.id,
                     count_query=readable_ids(user, found.where))


def _favorite_books(user: User) -> ColumnElement[bool]:
    books = select(Favorite.value).where(Favorite.user_id == user.id, Favorite.kind == "book")
    folders = select(Favorite.value).where(Favorite.user_id == user.id,
                                           Favorite.kind == "folder")
    return or_(Book.path.in_(books), Book.folder.in_(folders))


def favorite_books(user: User, at: Paging) -> BookPage:
    """Favourite books, and the books directly inside favourite folders."""
    return books_where(user, _favorite_books(user), at, sort="title")


def to_read(user: User, at: Paging) -> BookPage:
    """The want-to-read list: its books, and the books directly inside its folders."""
    files = select(ToReadEntry.book_id).where(ToReadEntry.user_id == user.id,
                                              ToReadEntry.book_id.is_not(None))
    folders = select(ToReadEntry.path).where(ToReadEntry.user_id == user.id,
                                             ToReadEntry.kind == "folder")
    return books_where(user, or_(Book.id.in_(files), Book.folder.in_(folders)), at,
                       sort="title")


def one_book(user: User, book_id: int) -> BookPage | None:
    row = db.session.execute(readable_books(user).where(Book.id == book_id)).first()
    if row is None:
        return None
    return decorate([row[0]], 1, user.id, publishers={row[0].id: row.publisher})


# -- navigation: series, publishers, libraries, arcs ------------------------------


@dataclass
class Group:
    """A navigation entry: a series, publisher, library or arc with its figures."""

    id: int
    title: str
    count: int = 0
    cover_book_id: int | None = None
    updated: Any = None
    subtitle: str | None = None
    summary: str | None = None


def _has_books(user: User | None, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    """EXISTS a readable, visible book matching ``where``: per candidate row
    one probe of a books index, so a page of a long list stops early."""
    return exists(select(Book.id).where(visible_books(user), Book.state == BOOK_OK, *where))


def _book_figures(column, ids: list[int], user: User | None) -> dict[int, tuple[int, int, Any]]:
    """``column`` value -> (readable books, the first book's id, latest change)."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(column, func.count(Book.id), func.min(Book.id), func.max(Book.updated_at))
        .where(column.in_(ids), visible_books(user), Book.state == BOOK_OK).group_by(column))
    return {key: (count, first, updated) for key, count, first, updated in rows}


def _paged(query, at: Paging) -> tuple[list, int]:
    total = db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = [] if total <= at.offset else list(db.session.execute(
        query.limit(at.size).offset(at.offset)).scalars())
    return rows, total


def series_list(user: User, at: Paging, *, publisher_id: int | None = None,
                library_id: int | None = None, name: str | None = None,
                sort: str = "name") -> tuple[list[Group], int]:
    query = select(Series).where(
        Series.library_id.in_(select(Library.id).where(visible_library_ids(user))),
        _has_books(user, Book.series_id == Series.id))
    if publisher_id is not None:
        query = query.where(Series.publisher_id == publisher_id)
    if library_id is not None:
        query = query.where(Series.library_id == library_id)
    if name is not None:
        query = query.where(Series.name == name)
    order = ([Series.created_at.desc(), Series.id.desc()] if sort == "added"
             else [Series.sort_name, Series.volume.is_(None), Series.volume, Series.id])
    rows, total = _paged(query.order_by(*order), at)
    figures = _book_figures(Book.series_id, [s.id for s in rows], user)
    groups = []
    for series in rows:
        count, first, updated = figures.get(series.id, (0, None, None))
        title = series.name + (f" ({series.year})" if series.year else "")
        groups.append(Group(series.id, title, count, first, max(
            filter(None, (series.updated_at, updated)), default=None), summary=series.summary))
    return groups, total


def one_series(user: User, series_id: int) -> Series | None:
    return db.session.execute(select(Series).where(
        Series.id == series_id,
        Series.library_id.in_(select(Library.id).where(visible_library_ids(user))))).scalar()


def publishers(user: User, at: Paging) -> tuple[list[Group], int]:
    query = (select(Publisher).where(_has_books(user, Book.publisher_id == Publisher.id))
             .order_by(Publisher.sort_name, Publisher.id))
    rows, total = _paged(query, at)
    figures = _book_figures(Book.publisher_id, [p.id for p in rows], user)
    return [Group(p.id, p.name, *figures.get(p.id, (0, None, p.updated_at))) for p in rows], total


def one_publisher(user: User, publisher_id: int) -> Publisher | None:
    return db.session.execute(select(Publisher).where(
        Publisher.id == publisher_id,
        _has_books(user, Book.publisher_id == Publisher.id))).scalar()


def libraries(user: User, at: Paging) -> tuple[list[Group], int]:
    query = select(Library).where(visible_library_ids(user)).order_by(Library.name, Library.id)
    rows, total = _paged(query, at)
    figures = _book_figures(Book.library_id, [lib.id for lib in rows], user)
    return [Group(lib.id, lib.name, *figures.get(lib.id, (0, None, lib.updated_at)))
            for lib in rows], total


def one_library(user: User, library_id: int) -> Library | None:
    return db.session.execute(select(Library).where(
        Library.id == library_id, visible_library_ids(user))).scalar()


def arcs(user: User, at: Paging) -> tuple[list[Group], int]:
    query = (select(Tag).where(Tag.namespace == ARC_NAMESPACE, _has_books(
        user, Book.id.in_(select(BookTag.book_id).where(BookTag.tag_id == Tag.id))))
        .order_by(Tag.name, Tag.id))
    rows, total = _paged(query, at)
    ids = [tag.id for tag in rows]
    figures: dict[int, tuple[int, int, Any]] = {}
    if ids:
        for tag_id, count, first, updated in db.session.execute(
                select(BookTag.tag_id, func.count(Book.id), func.min(Book.id),
                       func.max(Book.updated_at))
                .join(Book, Book.id == BookTag.book_id)
                .where(BookTag.tag_id.in_(ids), visible_books(user), Book.state == BOOK_OK)
                .group_by(BookTag.tag_id)):
            figures[tag_id] = (count, first, updated)
    return [Group(tag.id, tag.name, *figures.get(tag.id, (0, None, None))) for tag in rows], total


def one_arc(user: User, tag_id: int) -> Tag | None:
    return db.session.execute(select(Tag).where(
        Tag.id == tag_id, Tag.namespace == ARC_NAMESPACE)).scalar()


@dataclass
class FavoriteLinks:
    """The favourite publishers and series of a user, resolved to feed ids."""

    publishers: list[Group]
    series: list[tuple[str, list[int]]]  # name, ids of the series of that name
    books: int


def favorites(user: User) -> FavoriteLinks:
    """Favourite publishers (by name) and series (by name), and how many
    favourite books (or books in favourite folders) there are: three queries."""
    names = db.session.execute(
        select(Favorite.kind, Favorite.value).where(Favorite.user_id == user.id,
                                                    Favorite.kind.in_(("publisher", "series")))
        .order_by(Favorite.created_at.desc(), Favorite.id.desc())).all()
    publisher_names = [value for kind, value in names if kind == "publisher"]
    series_names = [value for kind, value in names if kind == "series"]
    found = {p.name: p for p in db.session.execute(select(Publisher).where(
        Publisher.name.in_(publisher_names),
        _has_books(user, Book.publisher_id == Publisher.id))).scalars()} if publisher_names else {}
    series_ids: dict[str, list[int]] = defaultdict(list)
    if series_names:
        for sid, sname in db.session.execute(
                select(Series.id, Series.name).where(
                    Series.name.in_(series_names),
                    _has_books(user, Book.series_id == Series.id)).order_by(Series.id)):
            series_ids[sname].append(sid)
    books = db.session.execute(select(func.count()).select_from(
        readable_books(user).where(_favorite_books(user)).subquery())).scalar_one()
    return FavoriteLinks(
        publishers=[Group(found[n].id, n, updated=found[n].updated_at)
                    for n in publisher_names if n in found],
        series=[(n, series_ids[n]) for n in series_names if series_ids.get(n)],
        books=books)
