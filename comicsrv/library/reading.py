"""Reading progress and history: one service behind every API surface.

CLU's ``PUT /api/v1/progress`` (by path), Codex's per-book progress and
LANraragi's ``PUT /api/archives/:id/progress/:page`` all land here, so a page
saved through one surface is the page the others report.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy import update as update_rows
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import BadRequest
from ..extensions import db
from ..models import Book, ReadHistory, ReadingProgress, User, utcnow
from .access import BookFile, visible_books
from ..models.library import BOOK_MISSING, BOOK_OK


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    page: int
    total_pages: int | None = None
    time_spent: int | None = None
    completed: bool | None = None
    # Who saved it (the Readium progression API's device); every save
    # replaces it, so a position saved by a surface that names no device
    # does not go on claiming the last one that did.
    device_id: str | None = None
    device_name: str | None = None
    # When the reader got there, if it says (Readium's ``modified``); never
    # later than now. Default: now.
    at: datetime | None = None


# Built once: making the SELECT cost more than running it, on every page turn.
_PROGRESS = select(ReadingProgress).where(ReadingProgress.user_id == bindparam("user_id"),
                                          ReadingProgress.book_id == bindparam("book_id"))


def get_progress(user_id: int, book_id: int) -> ReadingProgress | None:
    return db.session.execute(_PROGRESS, {"user_id": user_id, "book_id": book_id}).scalar()


def save_progress(user_id: int, book: Book | BookFile, update: ProgressUpdate) -> ReadingProgress:
    """Create or update a user's position in a book (pages are 1-based).

    Reaching the last page completes the book, and a newly completed book is
    recorded in the read history once. ``time_spent`` accumulates. The row
    comes back as written, its values loaded: answering with it costs no
    second query.
    """
    if update.page < 0:
        raise BadRequest("page must be 0 or more")
    total = update.total_pages or book.page_count or None
    progress = get_progress(user_id, book.id)
    if progress is None:
        progress = ReadingProgress(user_id=user_id, book_id=book.id, time_spent=0,
                                   completed=False, started_at=utcnow())
        db.session.add(progress)
    was_completed = bool(progress.completed)
    progress.page = update.page
    progress.total_pages = total
    progress.device_id, progress.device_name = update.device_id, update.device_name
    if update.time_spent:
        progress.time_spent = (progress.time_spent or 0) + max(0, int(update.time_spent))
    if update.completed is not None:
        progress.completed = update.completed
    elif total and update.page >= total:
        progress.completed = True
    now = utcnow()
    progress.updated_at = min(update.at, now) if update.at is not None else now
    if progress.completed and not was_completed:
        db.session.add(ReadHistory(user_id=user_id, book_id=book.id, read_at=utcnow(),
                                   page_count=total or 0, time_spent=progress.time_spent or 0))
    if book.is_new:  # opened: no longer "new" on the deck
        db.session.execute(update_rows(Book).where(Book.id == book.id).values(is_new=False)
                           .execution_options(synchronize_session=False))
        if isinstance(book, Book):
            set_committed_value(book, "is_new", False)
    _commit_keeping_values()
    return progress


def _commit_keeping_values() -> None:
    """Commit without expiring what the session holds: every caller answers
    with the progress row it just wrote, and reloading it after the commit
    was a fifth of a progress request's time."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def mark_read(user_id: int, book: Book, *, page_count: int | None = None,
              time_spent: int = 0) -> ReadingProgress:
    total = page_count or book.page_count or 0
    return save_progress(user_id, book, ProgressUpdate(page=max(total, 1), total_pages=total or None,
                                                       time_spent=time_spent, completed=True))


def mark_unread(user_id: int, book: Book) -> None:
    progress = get_progress(user_id, book.id)
    if progress is not None:
        db.session.delete(progress)
        db.session.commit()


def on_deck_query(user: User):
    """Codex's on deck: in each series where the user completed at least one
    book and has none in progress, the first book (in issue order) they have
    not opened; series read most recently first. A query of books, to page
    (``/api/v1/books/on-deck``, OPDS's on deck)."""
    user_id = user.id
    progress = and_(ReadingProgress.book_id == Book.id, ReadingProgress.user_id == user_id)
    present = and_(visible_books(user), Book.state != BOOK_MISSING,
                   Book.series_id.is_not(None))
    started = (select(Book.series_id, func.max(ReadingProgress.updated_at).label("last_read"))
               .join(ReadingProgress, progress).where(present)
               .group_by(Book.series_id)
               .having(func.sum(case((ReadingProgress.completed.is_(True), 1), else_=0)) >= 1,
                       func.sum(case((ReadingProgress.completed.is_(True), 0), else_=1)) == 0)
               .subquery())
    opened = select(ReadingProgress.book_id).where(ReadingProgress.user_id == user_id)
    position = func.row_number().over(
        partition_by=Book.series_id,
        order_by=(Book.number_sort.is_(None), Book.number_sort, Book.filename, Book.id))
    candidates = (select(Book.id.label("book_id"), Book.series_id.label("series_id"),
                         position.label("position"))
                  .where(present, Book.state == BOOK_OK, Book.id.not_in(opened),
                         Book.series_id.in_(select(started.c.series_id)))
                  .subquery())
    return (select(Book)
            .join(candidates, candidates.c.book_id == Book.id)
            .join(started, started.c.series_id == candidates.c.series_id)
            .where(candidates.c.position == 1)
            .order_by(started.c.last_read.desc(), Book.id))
