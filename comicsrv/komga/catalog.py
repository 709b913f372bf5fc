"""What the Komga API lists, over the one library: series with their read
counts, books, read lists (our reading lists and ComicInfo story arcs),
collections (the caller's favourite series) and the filter values.

Every list is scoped to the caller's libraries and to readable books, as the
OPDS catalogue is (``comicsrv.opds.catalog``, whose book pages this reuses);
a page costs a fixed number of queries whatever its length.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select

from ..extensions import db
from ..library.access import visible_books, visible_library_ids
from ..models import (
    Book, BookTag, Favorite, Library, Page, Publisher, ReadingList, ReadingListEntry,
    ReadingProgress, Series, Tag, User,
)
from ..opds import catalog as opds_catalog
from .common import Paging

# Komga's author roles, which are our credit namespaces.
ROLES = ("writer", "penciller", "inker", "colorist", "letterer", "cover", "editor",
         "translator")
GENRE, TAG = "genre", ""
ARC = opds_catalog.ARC_NAMESPACE
READ_STATUSES = ("UNREAD", "IN_PROGRESS", "READ")
# Read list ids: ``L<id>`` a reading list, ``A<id>`` a story arc (its tag).
LIST_PREFIX, ARC_PREFIX = "L", "A"
FAVORITES_ID = "favorites"


def _readable(user: User | None, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(Book.id).where(visible_books(user), Book.state == "ok", *where))


def _visible_series(user: User):
    return Series.library_id.in_(select(Library.id).where(visible_library_ids(user)))


# -- series -----------------------------------------------------------------------


@dataclass
class SeriesFigures:
    books: int = 0
    read: int = 0
    in_progress: int = 0
    first_book: int | None = None
    updated: Any = None
    language: str | None = None
    year: int | None = None
    month: int | None = None
    authors: list[tuple[str, str]] = field(default_factory=list)  # (name, role)
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class SeriesPage:
    series: list[Series]
    total: int
    publishers: dict[int, str] = field(default_factory=dict)
    figures: dict[int, SeriesFigures] = field(default_factory=dict)


def _started(user: User):
    """Per series the caller has progress in: started and completed books.
    Starts from the caller's progress rows, so it costs what they read, not
    the size of the library."""
    return (select(Book.series_id.label("series_id"),
                   func.count(ReadingProgress.id).label("started"),
                   func.sum(case((ReadingProgress.completed.is_(True), 1), else_=0)).label("done"))
            .select_from(ReadingProgress).join(Book, Book.id == ReadingProgress.book_id)
            .where(ReadingProgress.user_id == user.id, visible_books(user), Book.state == "ok",
                   Book.series_id.is_not(None))
            .group_by(Book.series_id).subquery())


def read_status_clause(user: User, statuses: Sequence[str]) -> ColumnElement[bool] | None:
    """Series by the caller's read state: READ (every readable book
    completed), UNREAD (none started), IN_PROGRESS (the others)."""
    wanted = {s.upper() for s in statuses} & set(READ_STATUSES)
    if not wanted or wanted == set(READ_STATUSES):
        return None
    started = _started(user)
    # Readable books of a started series, counted by the series index.
    total = (select(func.count(Book.id)).where(Book.series_id == started.c.series_id,
                                               visible_books(user), Book.state == "ok")
             .scalar_subquery())
    finished = select(started.c.series_id).where(started.c.done >= total)
    clauses = []
    if "READ" in wanted:
        clauses.append(Series.id.in_(finished))
    if "UNREAD" in wanted:
        clauses.append(Series.id.not_in(select(started.c.series_id)))
    if "IN_PROGRESS" in wanted:
        clauses.append(Series.id.in_(select(started.c.series_id).where(
            started.c.done < total)))
    return or_(*clauses)


def _tagged_series(namespace_names: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    pairs = [and_(Tag.namespace == ns, Tag.name == name) for ns, name in namespace_names]
    return Series.id.in_(select(Book.series_id).join(BookTag, BookTag.book_id == Book.id)
                         .join(Tag, Tag.id == BookTag.tag_id).where(or_(*pairs)))


SERIES_SORTS: dict[str, Callable[[], list[Any]]] = {
    "metadata.titleSort": lambda: [Series.sort_name],
    "name": lambda: [Series.name],
    "metadata.title": lambda: [Series.name],
    "createdDate": lambda: [Series.created_at],
    "created": lambda: [Series.created_at],
    "lastModifiedDate": lambda: [Series.updated_at],
    "lastModified": lambda: [Series.updated_at],
}


def series_order(sort: Sequence[tuple[str, bool]]) -> list:
    order: list[Any] = []
    for prop, ascending in sort:
        columns = SERIES_SORTS.get(prop)
        if columns is not None:
            order.extend(c if ascending else c.desc() for c in columns())
    if not order:
        order = [Series.sort_name]
    return [*order, Series.id]


def series_page(user: User, at: Paging, *, search: str | None = None,
                library_ids: Sequence[int] | None = None, read_status: Sequence[str] = (),
                publishers: Sequence[str] = (), genres: Sequence[str] = (),
                tags: Sequence[str] = (), authors: Sequence[tuple[str, str]] = (),
                series_ids: Sequence[int] | None = None,
                sort: Sequence[tuple[str, bool]] = ()) -> SeriesPage:
    query = select(Series).where(_visible_series(user),
                                 _readable(user, Book.series_id == Series.id))
    if search:
        query = query.where(func.lower(Series.name).contains(search.lower(), autoescape=True))
    if library_ids is not None:
        query = query.where(Series.library_id.in_(library_ids) if library_ids else false())
    if series_ids is not None:
        query = query.where(Series.id.in_(series_ids) if series_ids else false())
    if publishers:
        query = query.where(Series.publisher_id.in_(
            select(Publisher.id).where(Publisher.name.in_(publishers))))
    for namespace, names in ((GENRE, genres), (TAG, tags)):
        if names:
            query = query.where(_tagged_series([(namespace, n) for n in names]))
    if authors:
        query = query.where(_tagged_series([(role, name) for name, role in authors]))
    status = read_status_clause(user, read_status)
    if status is not None:
        query = query.where(status)
    total = db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = [] if total <= at.offset else list(db.session.execute(
        query.order_by(*series_order(sort)).limit(at.size).offset(at.offset)).scalars())
    return decorate_series(user, rows, total)


def decorate_series(user: User, rows: list[Series], total: int) -> SeriesPage:
    page = SeriesPage(rows, total)
    ids = [s.id for s in rows]
    if not ids:
        return page
    publisher_ids = {s.publisher_id for s in rows if s.publisher_id}
    if publisher_ids:
        page.publishers = dict(db.session.execute(
            select(Publisher.id, Publisher.name).where(Publisher.id.in_(publisher_ids))).all())
    progress = and_(ReadingProgress.book_id == Book.id, ReadingProgress.user_id == user.id)
    figures = {sid: SeriesFigures() for sid in ids}
    for sid, total_books, done, started, first, updated, language, year in db.session.execute(
            select(Book.series_id, func.count(Book.id),
                   func.sum(case((ReadingProgress.completed.is_(True), 1), else_=0)),
                   func.count(ReadingProgress.id), func.min(Book.id), func.max(Book.updated_at),
                   func.max(Book.language), func.min(Book.year))
            .select_from(Book).outerjoin(ReadingProgress, progress)
            .where(Book.series_id.in_(ids), visible_books(user), Book.state == "ok")
            .group_by(Book.series_id)):
        f = figures[sid]
        f.books, f.read, f.first_book, f.updated = total_books, int(done or 0), first, updated
        f.in_progress = started - f.read
        f.language, f.year = language, year
    for sid, namespace, name in db.session.execute(
            select(Book.series_id, Tag.namespace, Tag.name).distinct()
            .join(BookTag, BookTag.book_id == Book.id).join(Tag, Tag.id == BookTag.tag_id)
            .where(Book.series_id.in_(ids), Book.state == "ok",
                   Tag.namespace.in_((*ROLES, GENRE, TAG)))
            .order_by(Book.series_id, Tag.namespace, Tag.name)):
        f = figures[sid]
        if namespace == GENRE:
            f.genres.append(name)
        elif namespace == TAG:
            f.tags.append(name)
        else:
            f.authors.append((name, namespace))
    page.figures = figures
    return page


def one_series(user: User, series_id: int) -> SeriesPage | None:
    series = db.session.execute(select(Series).where(
        Series.id == series_id, _visible_series(user),
        _readable(user, Book.series_id == Series.id))).scalar()
    return None if series is None else decorate_series(user, [series], 1)


# -- books ------------------------------------------------------------------------


@dataclass
class Books:
    page: opds_catalog.BookPage
    credits: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)
    series_titles: dict[int, str] = field(default_factory=dict)


BOOK_SORTS: dict[str, Callable[[], list[Any]]] = {
    "metadata.numberSort": lambda: [Book.number_sort.is_(None), Book.number_sort],
    "number": lambda: [Book.number_sort.is_(None), Book.number_sort],
    "metadata.title": lambda: [func.lower(func.coalesce(Book.title, Book.filename))],
    "name": lambda: [Book.filename],
    "createdDate": lambda: [Book.created_at],
    "created": lambda: [Book.created_at],
    "lastModifiedDate": lambda: [Book.updated_at],
    "lastModified": lambda: [Book.updated_at],
    "metadata.releaseDate": lambda: [Book.year, Book.month, Book.day],
}


def book_order(sort: Sequence[tuple[str, bool]], default: list | None = None) -> list:
    order: list[Any] = []
    for prop, ascending in sort:
        columns = BOOK_SORTS.get(prop)
        if columns is not None:
            order.extend(c if ascending else c.desc() for c in columns())
    return [*(order or default or opds_catalog.book_order("number")[:-1]), Book.filename, Book.id]


def decorate_books(page: opds_catalog.BookPage) -> Books:
    books = Books(page)
    ids = [b.id for b in page.books]
    if not ids:
        return books
    credits: dict[int, list[tuple[str, str]]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    for book_id, namespace, name in db.session.execute(
            select(BookTag.book_id, Tag.namespace, Tag.name).join(Tag, Tag.id == BookTag.tag_id)
            .where(BookTag.book_id.in_(ids), Tag.namespace.in_((*ROLES, GENRE, TAG)))
            .order_by(BookTag.book_id, Tag.namespace, Tag.name)):
        if namespace in (GENRE, TAG):
            tags[book_id].append(name)
        else:
            credits[book_id].append((name, namespace))
    books.credits, books.tags = dict(credits), dict(tags)
    series_ids = {b.series_id for b in page.books if b.series_id}
    if series_ids:
        books.series_titles = dict(db.session.execute(
            select(Series.id, Series.name).where(Series.id.in_(series_ids))).all())
    return books


def book_list(user: User, where: ColumnElement[bool], at: Paging,
              sort: Sequence[tuple[str, bool]] = (), *, default_order: list | None = None,
              read_status: Sequence[str] = (), search: str | None = None) -> Books:
    clauses = [where]
    wanted = {s.upper() for s in read_status} & set(READ_STATUSES)
    if wanted and wanted != set(READ_STATUSES):
        states = {"UNREAD": "unread", "IN_PROGRESS": "in_progress", "READ": "read"}
        clauses.append(or_(*(opds_catalog.read_filter(states[s], user.id) for s in wanted)))
    if search:
        found = opds_catalog.search_books(search)
        clauses.append(found.where)
    page = opds_catalog.book_page(opds_catalog.readable_books(user).where(*clauses),
                                  book_order(sort, default_order), at.opds(), user.id,
                                  count_query=opds_catalog.readable_ids(user, *clauses))
    return decorate_books(page)


def one_book(user: User, book_id: int) -> Books | None:
    page = opds_catalog.one_book(user, book_id)
    return None if page is None else decorate_books(page)


def pages_of(book_id: int) -> list[Page]:
    return list(db.session.execute(
        select(Page).where(Page.book_id == book_id).order_by(Page.index)).scalars())


# -- read lists: reading lists and story arcs --------------------------------------


@dataclass
class ReadList:
    id: str
    name: str
    summary: str
    book_ids: list[int]
    created: Any
    modified: Any


def _list_books(user: User, list_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    if list_ids:
        for list_id, book_id in db.session.execute(
                select(ReadingListEntry.list_id, ReadingListEntry.book_id)
                .join(Book, Book.id == ReadingListEntry.book_id)
                .where(ReadingListEntry.list_id.in_(list_ids), visible_books(user),
                       Book.state == "ok")
                .order_by(ReadingListEntry.list_id, ReadingListEntry.position)):
            found[list_id].append(book_id)
    return found


def _arc_books(user: User, tag_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    if tag_ids:
        for tag_id, book_id in db.session.execute(
                select(BookTag.tag_id, Book.id).join(Book, Book.id == BookTag.book_id)
                .where(BookTag.tag_id.in_(tag_ids), visible_books(user), Book.state == "ok")
                .order_by(BookTag.tag_id, *opds_catalog.arc_order())):
            found[tag_id].append(book_id)
    return found


def read_lists(user: User, at: Paging, search: str | None = None) -> tuple[list[ReadList], int]:
    """The caller's reading lists (by name), then the story arcs (by name)."""
    lists = select(ReadingList.id, ReadingList.name).where(ReadingList.user_id == user.id)
    arcs = select(Tag.id, Tag.name).where(
        Tag.namespace == ARC, _readable(user, Book.id.in_(
            select(BookTag.book_id).where(BookTag.tag_id == Tag.id))))
    if search:
        lists = lists.where(func.lower(ReadingList.name).contains(search.lower(), autoescape=True))
        arcs = arcs.where(func.lower(Tag.name).contains(search.lower(), autoescape=True))
    count = lambda q: db.session.execute(  # noqa: E731
        select(func.count()).select_from(q.subquery())).scalar_one()
    n_lists, n_arcs = count(lists), count(arcs)
    rows: list[ReadList] = []
    if at.offset < n_lists:
        chosen = [r.id for r in db.session.execute(
            lists.order_by(ReadingList.name, ReadingList.id).limit(at.size).offset(at.offset))]
        rows.extend(_reading_lists(user, chosen))
    if len(rows) < at.size and at.offset + len(rows) < n_lists + n_arcs:
        offset = max(0, at.offset - n_lists)
        chosen = [r.id for r in db.session.execute(
            arcs.order_by(Tag.name, Tag.id).limit(at.size - len(rows)).offset(offset))]
        rows.extend(_arcs(user, chosen))
    return rows, n_lists + n_arcs


def _reading_lists(user: User, ids: list[int]) -> list[ReadList]:
    rows = {r.id: r for r in db.session.execute(
        select(ReadingList).where(ReadingList.id.in_(ids))).scalars()} if ids else {}
    books = _list_books(user, ids)
    return [ReadList(f"{LIST_PREFIX}{i}", rows[i].name, rows[i].summary or "", books.get(i, []),
                     rows[i].created_at, rows[i].updated_at) for i in ids if i in rows]


def _arcs(user: User, ids: list[int]) -> list[ReadList]:
    names = dict(db.session.execute(select(Tag.id, Tag.name).where(Tag.id.in_(ids))).all()) \
        if ids else {}
    books = _arc_books(user, ids)
    updated = dict(db.session.execute(
        select(BookTag.tag_id, func.max(Book.updated_at)).join(Book, Book.id == BookTag.book_id)
        .where(BookTag.tag_id.in_(ids)).group_by(BookTag.tag_id)).all()) if ids else {}
    return [ReadList(f"{ARC_PREFIX}{i}", names[i], "", books.get(i, []), updated.get(i),
                     updated.get(i)) for i in ids if i in names and books.get(i)]


def one_read_list(user: User, list_id: str) -> ReadList | None:
    kind, number = list_id[:1], list_id[1:]
    if not (number.isascii() and number.isdigit() and len(number) <= 10):
        return None
    if kind == LIST_PREFIX:
        found = db.session.execute(select(ReadingList.id).where(
            ReadingList.id == int(number), ReadingList.user_id == user.id)).scalar()
        return _reading_lists(user, [found])[0] if found is not None else None
    if kind == ARC_PREFIX:
        found = db.session.execute(select(Tag.id).where(
            Tag.id == int(number), Tag.namespace == ARC)).scalar()
        arcs = _arcs(user, [found]) if found is not None else []
        return arcs[0] if arcs else None
    return None


# -- collections: the caller's favourite series ------------------------------------


def favorite_series_ids(user: User) -> list[int]:
    names = select(Favorite.value).where(Favorite.user_id == user.id, Favorite.kind == "series")
    return list(db.session.execute(
        select(Series.id).where(Series.name.in_(names), _visible_series(user),
                                _readable(user, Book.series_id == Series.id))
        .order_by(Series.sort_name, Series.id)).scalars())


def favorites_changed(user: User) -> tuple[Any, Any]:
    return db.session.execute(select(func.min(Favorite.created_at), func.max(Favorite.created_at))
                              .where(Favorite.user_id == user.id,
                                     Favorite.kind == "series")).one()


# -- filter values ----------------------------------------------------------------


def tag_names(user: User, namespace: str) -> list[str]:
    return list(db.session.execute(
        select(Tag.name).where(Tag.namespace == namespace, exists(
            select(BookTag.book_id).join(Book, Book.id == BookTag.book_id)
            .where(BookTag.tag_id == Tag.id, visible_books(user), Book.state == "ok")))
        .order_by(Tag.name)).scalars())


def publisher_names(user: User) -> list[str]:
    return list(db.session.execute(select(Publisher.name).where(
        _readable(user, Book.publisher_id == Publisher.id)).order_by(Publisher.sort_name)).scalars())


def authors(user: User, search: str | None = None, role: str | None = None) -> list[tuple[str, str]]:
    query = select(Tag.name, Tag.namespace).where(
        Tag.namespace.in_((role,) if role else ROLES), exists(
            select(BookTag.book_id).join(Book, Book.id == BookTag.book_id)
            .where(BookTag.tag_id == Tag.id, visible_books(user), Book.state == "ok")))
    if search:
        query = query.where(func.lower(Tag.name).contains(search.lower(), autoescape=True))
    return [(name, ns) for name, ns in db.session.execute(query.order_by(Tag.name, Tag.namespace))]


def libraries(user: User) -> list[Library]:
    return list(db.session.execute(select(Library).where(visible_library_ids(user))
                                   .order_by(Library.name, Library.id)).scalars())
