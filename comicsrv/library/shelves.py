"""What a person browsing the library sees, as queries over one user's
visible libraries: the home page's rows (continue reading, on deck,
recently added, recently read), the series grid with its filters,
publishers with a cover, story arcs in reading order, the next book of a
series.

Each function takes the user and answers rows or ids for one page; the
web UI renders them, and an API could serve them as they are. Every query
is scoped by ``comicsrv.library.access`` and leaves out books whose file is
missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select

from ..errors import BadRequest, NotFound
from ..extensions import db
from ..models import Book, BookTag, Library, Publisher, ReadingProgress, Series, Tag, User
from .access import visible_books, visible_library_ids
from .filters import READ_STATUSES, SERIES_FIELDS, FilterContext, compile_condition, series_read_status
from .search import search_series
from ..models.library import BOOK_MISSING, BOOK_OK

ARC_NAMESPACE = "arc"  # the scanner stores ComicInfo's StoryArc under this tag namespace
SERIES_SORTS = {
    "name": "Name", "date_added": "Recently added", "year": "Year", "book_count": "Issues",
}


def _present():
    return Book.state != BOOK_MISSING


def _books(user: User):
    return select(Book).where(visible_books(user), _present())


# --- the home page's rows ----------------------------------------------------------------

def in_progress(user: User, limit: int) -> list[tuple[Book, ReadingProgress]]:
    """Books started and not finished, most recently read first, with the
    user's progress in each."""
    rows = db.session.execute(
        select(Book, ReadingProgress)
        .join(ReadingProgress, and_(ReadingProgress.book_id == Book.id,
                                    ReadingProgress.user_id == user.id))
        .where(visible_books(user), _present(), ReadingProgress.completed.is_(False),
               ReadingProgress.page > 0)
        .order_by(ReadingProgress.updated_at.desc(), Book.id.desc()).limit(limit)).all()
    return [(book, progress) for book, progress in rows]


def recently_read(user: User, limit: int) -> list[Book]:
    return list(db.session.execute(
        _books(user).join(ReadingProgress, and_(ReadingProgress.book_id == Book.id,
                                                ReadingProgress.user_id == user.id))
        .where(ReadingProgress.completed.is_(True))
        .order_by(ReadingProgress.updated_at.desc(), Book.id.desc()).limit(limit)).scalars())


def recently_added(user: User, limit: int) -> list[Book]:
    return list(db.session.execute(
        _books(user).where(Book.state == BOOK_OK)
        .order_by(Book.created_at.desc(), Book.id.desc()).limit(limit)).scalars())


def on_deck(user: User, limit: int) -> list[Book]:
    """Codex's on deck: in each series where the user finished a book and has
    none in progress, the first book (in issue order) not yet opened; the
    series read most recently first."""
    progress = and_(ReadingProgress.book_id == Book.id, ReadingProgress.user_id == user.id)
    present = and_(visible_books(user), _present(), Book.series_id.is_not(None))
    started = (select(Book.series_id, func.max(ReadingProgress.updated_at).label("last_read"))
               .join(ReadingProgress, progress).where(present)
               .group_by(Book.series_id)
               .having(func.sum(case((ReadingProgress.completed.is_(True), 1), else_=0)) >= 1,
                       func.sum(case((ReadingProgress.completed.is_(True), 0), else_=1)) == 0)
               .subquery())
    opened = select(ReadingProgress.book_id).where(ReadingProgress.user_id == user.id)
    position = func.row_number().over(
        partition_by=Book.series_id,
        order_by=(Book.number_sort.is_(None), Book.number_sort, Book.filename, Book.id))
    candidates = (select(Book.id.label("book_id"), Book.series_id.label("series_id"),
                         position.label("position"))
                  .where(present, Book.state == BOOK_OK, Book.id.not_in(opened),
                         Book.series_id.in_(select(started.c.series_id)))
                  .subquery())
    return list(db.session.execute(
        select(Book).join(candidates, candidates.c.book_id == Book.id)
        .join(started, started.c.series_id == candidates.c.series_id)
        .where(candidates.c.position == 1)
        .order_by(started.c.last_read.desc(), Book.id).limit(limit)).scalars())


# --- series ----------------------------------------------------------------------------

def visible_series(user: User):
    """The user's series: in a visible library, with a book present."""
    return select(Series).where(
        Series.library_id.in_(select(Library.id).where(visible_library_ids(user))),
        exists().where(Book.series_id == Series.id, _present()))


def series_for(user: User, series_id: int) -> Series:
    series = db.session.execute(visible_series(user).where(Series.id == series_id)).scalar()
    if series is None:
        raise NotFound(f"There is no series {series_id}.")
    return series


@dataclass(frozen=True)
class SeriesFilter:
    """The series grid's filters; every one optional."""

    q: str | None = None
    publisher: str | None = None
    year: int | None = None
    read: str | None = None  # read | unread | in_progress
    format: str | None = None  # cbz, cbr, cb7, cbt, pdf, folder
    library_id: int | None = None
    condition: Any = None  # Codex's condition tree, as /api/v1/series/list takes it
    sort: str = "name"
    descending: bool = False


def series_page(user: User, f: SeriesFilter, page: int, page_size: int) -> tuple[list[Series], int]:
    """One page of the grid and the number of matches.

    Sorting by name or date added reads a page straight from an index and
    stops; the count is a separate, simpler statement. With a search, the
    best matches come first.
    """
    if f.read is not None and f.read not in READ_STATUSES:
        raise BadRequest(f"read is one of {', '.join(READ_STATUSES)}")
    if f.sort not in SERIES_SORTS:
        raise BadRequest(f"sort is one of {', '.join(SERIES_SORTS)}")
    query = visible_series(user)
    if f.library_id is not None:
        query = query.where(Series.library_id == f.library_id)
    if f.publisher:
        query = query.where(Series.publisher_id.in_(
            select(Publisher.id).where(func.lower(Publisher.name) == f.publisher.lower())))
    if f.year is not None:
        query = query.where(or_(Series.year == f.year, Series.id.in_(
            select(Book.series_id).where(Book.year == f.year, _present()))))
    if f.format:
        query = query.where(Series.id.in_(
            select(Book.series_id).where(Book.format == f.format.lower(), _present())))
    if f.read:
        query = query.where(series_read_status(f.read, user.id))
    if f.condition:
        query = query.where(compile_condition(f.condition, SERIES_FIELDS, FilterContext(user.id)))
    search = search_series(f.q) if f.q else None
    if search is not None:
        query = query.where(search.where)
    unfiltered = not any((f.library_id, f.publisher, f.year, f.format, f.read, f.condition, search))
    total = _series_total(user) if unfiltered else db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    order = _series_order(f.sort, f.descending)
    if search is not None:
        order = [search.rank.desc(), *order]
    if f.sort in ("year", "book_count"):
        figures = (select(Book.series_id.label("series_id"), func.min(Book.year).label("year"),
                          func.count(Book.id).label("books"))
                   .where(_present(), Book.series_id.is_not(None))
                   .group_by(Book.series_id).subquery())
        query = query.outerjoin(figures, figures.c.series_id == Series.id)
        key = (func.coalesce(Series.year, figures.c.year) if f.sort == "year"
               else func.coalesce(figures.c.books, 0))
        direction = key.desc() if f.descending else key.asc()
        order = [*([search.rank.desc()] if search is not None else []),
                 key.is_(None), direction, Series.sort_name, Series.id]
    rows = db.session.execute(query.order_by(*order).limit(page_size)
                              .offset((page - 1) * page_size)).scalars().all()
    return list(rows), total


def _series_total(user: User) -> int:
    """How many series the unfiltered grid shows, from two index look-ups:
    the visible libraries' series, less those whose books are all missing.
    Checking "has a present book" series by series costs a pass over every
    book (20 ms per 20,000 books on SQLite, bench/bench_webui.py); the
    missing books are few."""
    libraries = select(Library.id).where(visible_library_ids(user))
    series = db.session.execute(select(func.count()).select_from(Series)
                                .where(Series.library_id.in_(libraries))).scalar_one()
    missing = select(Book.series_id).where(Book.state == BOOK_MISSING, Book.series_id.is_not(None))
    gone = (select(Book.series_id)
            .where(Book.series_id.in_(missing), Book.library_id.in_(libraries))
            .group_by(Book.series_id)
            .having(func.sum(case((_present(), 1), else_=0)) == 0))
    return series - db.session.execute(
        select(func.count()).select_from(gone.subquery())).scalar_one()


def _series_order(sort: str, descending: bool) -> list:
    key = Series.created_at if sort == "date_added" else Series.sort_name
    return [key.desc(), Series.id.desc()] if descending else [key.asc(), Series.id.asc()]


def series_books(user: User, series: Series) -> list[Book]:
    """A series' present books in issue order (books without a number last)."""
    return list(db.session.execute(
        _books(user).where(Book.series_id == series.id)
        .order_by(Book.number_sort.is_(None), Book.number_sort, Book.filename, Book.id)
    ).scalars())


def next_in_series(user: User, book: Book) -> Book | None:
    """The readable book after ``book`` in its series' issue order."""
    if book.series_id is None:
        return None
    books = [b for b in series_books(user, db.session.get(Series, book.series_id))
             if b.state == BOOK_OK and b.page_count]
    ids = [b.id for b in books]
    if book.id not in ids:
        return None
    position = ids.index(book.id)
    return books[position + 1] if position + 1 < len(books) else None


def series_cards(user: User, series: list[Series]) -> list[dict]:
    """What a cover in the grid shows for each series: its figures, the
    user's read counts and the book whose cover stands for it.

    One query reads the page's books by the series index with the user's
    progress beside them; the counting is done here. (The API's
    ``series_items`` gives every figure of a series in three grouped
    queries, twice the time for a page of 60.)"""
    ids = [s.id for s in series]
    rows = db.session.execute(
        select(Book.series_id, Book.id, Book.state, Book.page_count, Book.year,
               Book.number_sort, Book.filename, ReadingProgress.completed)
        .outerjoin(ReadingProgress, and_(ReadingProgress.book_id == Book.id,
                                         ReadingProgress.user_id == user.id))
        .where(Book.series_id.in_(ids))).all() if ids else []
    figures = {i: {"book_count": 0, "read_count": 0, "started": 0, "year": None, "cover": None}
               for i in ids}
    for row in rows:
        if row.state == BOOK_MISSING:
            continue
        f = figures[row.series_id]
        f["book_count"] += 1
        f["started"] += row.completed is not None
        f["read_count"] += bool(row.completed)
        if row.year and (f["year"] is None or row.year < f["year"]):
            f["year"] = row.year
        if row.state == BOOK_OK and row.page_count:
            key = (row.number_sort is None, row.number_sort or 0, row.filename, row.id)
            if f["cover"] is None or key < f["cover"][0]:
                f["cover"] = (key, row.id)
    return [{"id": s.id, "name": s.name, "volume": s.volume,
             "year": s.year or figures[s.id]["year"],
             "book_count": figures[s.id]["book_count"],
             "read_count": figures[s.id]["read_count"],
             "unread_count": figures[s.id]["book_count"] - figures[s.id]["started"],
             "cover_id": figures[s.id]["cover"][1] if figures[s.id]["cover"] else None}
            for s in series]


# What the archive readers report as a book's format (comicsrv.archives).
FORMATS = ("cbz", "cbr", "cb7", "cbt", "pdf", "folder")


def first_books(series_ids: list[int]) -> dict[int, int]:
    """Series id -> the id of its first readable book (for its cover link).

    The books of one page of series are few: they are read by the series
    index and ranked here (a condition on ``state`` in SQL lets SQLite
    prefer the state index and visit every book)."""
    if not series_ids:
        return {}
    rows = db.session.execute(
        select(Book.series_id, Book.id, Book.number_sort, Book.filename, Book.state,
               Book.page_count).where(Book.series_id.in_(series_ids))).all()
    first: dict[int, tuple] = {}
    for row in rows:
        if row.state != BOOK_OK or not row.page_count:
            continue
        key = (row.number_sort is None, row.number_sort or 0, row.filename, row.id)
        if row.series_id not in first or key < first[row.series_id][0]:
            first[row.series_id] = (key, row.id)
    return {series_id: book_id for series_id, (_, book_id) in first.items()}


# --- publishers --------------------------------------------------------------------------

def publishers(user: User, page: int, page_size: int) -> tuple[list, int]:
    """``(name, series, books, cover_book_id)`` per publisher, by name."""
    query = (select(Publisher.name, func.count(func.distinct(Book.series_id)).label("series"),
                    func.count(Book.id).label("books"), func.min(Book.id).label("cover_book_id"))
             .join(Book, Book.publisher_id == Publisher.id)
             .where(visible_books(user), _present(), Book.state == BOOK_OK)
             .group_by(Publisher.id, Publisher.name, Publisher.sort_name)
             .order_by(Publisher.sort_name, Publisher.name))
    total = db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).all()
    return list(rows), total


# --- story arcs ---------------------------------------------------------------------------

def story_arcs(user: User) -> list:
    """``(name, books, cover_book_id)`` per story arc (ComicInfo StoryArc), by name."""
    return list(db.session.execute(
        select(Tag.name, func.count(Book.id).label("books"),
               func.min(Book.id).label("cover_book_id"))
        .join(BookTag, BookTag.tag_id == Tag.id).join(Book, Book.id == BookTag.book_id)
        .where(Tag.namespace == ARC_NAMESPACE, visible_books(user), _present())
        .group_by(Tag.id, Tag.name).order_by(func.lower(Tag.name), Tag.name)).all())


def arc_books(user: User, name: str) -> list[Book]:
    """The books of one story arc in reading order: ComicInfo's
    StoryArcNumber first, then the release date, then series and issue."""
    books = list(db.session.execute(
        _books(user).join(BookTag, BookTag.book_id == Book.id)
        .join(Tag, Tag.id == BookTag.tag_id)
        .where(Tag.namespace == ARC_NAMESPACE, Tag.name == name)).scalars())
    if not books:
        raise NotFound(f"There is no story arc {name!r}.")

    def position(book: Book) -> tuple:
        value = (book.extra or {}).get("story_arc_number")
        if isinstance(value, list):  # one number per arc the book is in
            value = value[0] if value else None
        raw = str(value or "").split(",")[0].strip()
        try:
            number = float(raw)
        except ValueError:
            number = None
        return (number is None, number or 0, book.year or 9999, book.month or 13,
                (book.series_name or "").casefold(), book.number_sort or 0, book.id)

    return sorted(books, key=position)
