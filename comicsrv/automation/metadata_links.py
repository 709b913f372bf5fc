"""Which library book is which watched issue.

A watched series is matched to a library series by normalized name (see
``comicsrv.filenames.normalize_series``) and, when both sides know them, the
start year or volume; its issues are then matched to that series' books by
normalized issue number ("001" is "1"). Only readable books (state "ok")
count: a missing or broken file is not "downloaded".
"""
from __future__ import annotations

from collections.abc import Iterable

from ..extensions import db
from ..filenames import normalize_number, normalize_series
from ..models import Book, Series
from ..models.automation import (
    DOWNLOADED, SKIPPED, SNATCHED, WANTED, WatchedIssue, WatchedSeries,
)
from ..models.base import utcnow
from ..models.library import BOOK_OK

# States a book appearing in the library turns into "downloaded"; ignored
# and archived are the user's word and stay.
BECOMES_DOWNLOADED = (WANTED, SKIPPED, SNATCHED)


def _agrees(series: Series, watched: WatchedSeries) -> bool:
    if watched.year and series.year:
        if series.year == watched.year:
            return True
        # A library series named "Saga v1" and scanned with its volume only.
        return bool(watched.volume and series.volume == watched.volume)
    if watched.volume and series.volume:
        return series.volume == watched.volume
    return True


def matching_library_series(watched: WatchedSeries) -> list[Series]:
    """The library series that hold this watched series' books."""
    key = normalize_series(watched.name)
    query = db.select(Series)
    if watched.library_id:
        query = query.where(Series.library_id == watched.library_id)
    candidates = [s for s in db.session.scalars(query) if normalize_series(s.name) == key]
    exact = [s for s in candidates if s.year == watched.year and watched.year]
    if exact:
        return exact
    return [s for s in candidates if _agrees(s, watched)]


def books_by_number(series_ids: Iterable[int]) -> dict[str, Book]:
    """Readable books of these series by normalized number; the first file
    found wins when two carry the same number."""
    ids = list(series_ids)
    if not ids:
        return {}
    books = db.session.scalars(
        db.select(Book).where(Book.series_id.in_(ids), Book.state == BOOK_OK,
                              Book.number.is_not(None)).order_by(Book.id))
    found: dict[str, Book] = {}
    for book in books:
        found.setdefault(normalize_number(book.number), book)
    return found


def link_series_books(watched: WatchedSeries) -> int:
    """(Re)link one watched series' issues to its books; returns how many
    issues gained a book. An issue whose book vanished loses the link."""
    series = matching_library_series(watched)
    if series and watched.series_id not in {s.id for s in series}:
        watched.series_id = series[0].id
    books = books_by_number(s.id for s in series)
    linked = 0
    now = utcnow()
    for issue in watched.issues:
        book = books.get(normalize_number(issue.number)) if issue.number else None
        if book is None:
            if issue.book_id is not None and db.session.get(Book, issue.book_id) is None:
                issue.book_id = None
            continue
        if issue.book_id != book.id:
            issue.book_id = book.id
            linked += 1
        if issue.state in BECOMES_DOWNLOADED:
            issue.state, issue.state_changed_at = DOWNLOADED, now
    return linked


def link_books(watched_series_id: int | None = None) -> int:
    """(Re)link watched issues to library books, for one watched series or
    all (after a scan); returns how many issues gained a book. Commits."""
    query = db.select(WatchedSeries)
    if watched_series_id is not None:
        query = query.where(WatchedSeries.id == watched_series_id)
    linked = sum(link_series_books(watched) for watched in db.session.scalars(query).all())
    db.session.commit()
    return linked


def issue_for_book(book_id: int) -> WatchedIssue | None:
    return db.session.scalars(
        db.select(WatchedIssue).where(WatchedIssue.book_id == book_id)).first()
