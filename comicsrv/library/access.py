"""Which libraries and books a user may see.

A user with ``library_ids`` set sees only those libraries; everyone sees only
enabled ones. Queries filter with these expressions, so a book outside a
user's scope answers 404 exactly like a book that does not exist (CLU's rule:
never reveal it with a 403).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, bindparam, select

from ..errors import NotFound
from ..extensions import db
from ..fspaths import from_display
from ..models import Book, Library, User


def visible_library_ids(user: User | None) -> ColumnElement[bool]:
    """A WHERE clause on ``Library.id``: enabled, and in the user's scope."""
    clause = Library.enabled.is_(True)
    if user is not None and user.library_ids is not None:
        clause = clause & Library.id.in_(user.library_ids or [-1])
    return clause


def visible_books(user: User | None) -> ColumnElement[bool]:
    """A WHERE clause on ``Book``: in a visible library."""
    return Book.library_id.in_(select(Library.id).where(visible_library_ids(user)))


def book_for_user(user: User | None, book_id: int, *, include_missing: bool = False) -> Book:
    query = select(Book).where(Book.id == book_id, visible_books(user))
    if not include_missing:
        query = query.where(Book.state != "missing")
    book = db.session.execute(query).scalar()
    if book is None:
        raise NotFound(f"Book {book_id} not found")
    return book


@dataclass(frozen=True, slots=True)
class BookFile:
    """What serving a book's pages and covers needs (``MediaService`` takes
    it where it takes a ``Book``): read in one query, without the ORM."""

    id: int
    library_id: int
    path: str
    size: int
    mtime: float
    format: str | None
    arcid: str | None
    page_count: int
    cover_page: int
    is_new: bool
    page_spans: bytes | None


_FILE_COLUMNS = (Book.id, Book.library_id, Book.path, Book.size, Book.mtime, Book.format,
                 Book.arcid, Book.page_count, Book.cover_page, Book.is_new, Book.page_spans)


def _book_file_statement(scoped: bool) -> Select:
    query = (select(*_FILE_COLUMNS).join(Library, Library.id == Book.library_id)
             .where(Book.id == bindparam("book_id"), Library.enabled.is_(True),
                    Book.state != "missing"))
    if scoped:
        query = query.where(Library.id.in_(bindparam("libraries", expanding=True)))
    return query


# Built once: making a SELECT costs ten times what SQLite takes to run it.
_BOOK_FILE = {scoped: _book_file_statement(scoped) for scoped in (False, True)}


def book_file_for_user(user: User | None, book_id: int) -> BookFile:
    """``book_for_user``'s answer for the page and cover routes: the same
    scope and the same 404, one indexed query, no ORM object."""
    params: dict = {"book_id": book_id}
    scoped = user is not None and user.library_ids is not None
    if scoped:
        params["libraries"] = list(user.library_ids) or [-1]
    row = db.session.connection().execute(_BOOK_FILE[scoped], params).first()
    if row is None:
        raise NotFound(f"Book {book_id} not found")
    return BookFile(*row)


def book_by_path(user: User | None, path: str) -> Book:
    """The book at an absolute path, only inside a visible library.

    Any ``..`` segment is refused before the database is asked, so a path can
    never reach a file outside the libraries.
    """
    if not path or ".." in path.replace("\\", "/").split("/"):
        raise NotFound("No book at that path")
    normalized = os.path.normpath(path)
    # Also the \xNN form the APIs show for a name that is not UTF-8.
    book = db.session.execute(select(Book).where(
        Book.path.in_({path, normalized, from_display(normalized)}), visible_books(user),
        Book.state != "missing")).scalar()
    if book is None:
        raise NotFound("No book at that path")
    return book
