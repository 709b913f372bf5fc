"""Which libraries and books a user may see.

A user with ``library_ids`` set sees only those libraries; everyone sees only
enabled ones. Queries filter with these expressions, so a book outside a
user's scope answers 404 exactly like a book that does not exist (CLU's rule:
never reveal it with a 403).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select

from ..errors import NotFound
from ..extensions import db
from ..fspaths import from_display
from ..models import Book, Library, User
from ..models.library import BOOK_MISSING


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
        query = query.where(Book.state != BOOK_MISSING)
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
                    Book.state != BOOK_MISSING))
    if scoped:
        query = query.where(Library.id.in_(bindparam("libraries", expanding=True)))
    return query


# Built once: making a SELECT costs ten times what SQLite takes to run it.
_BOOK_FILE = {scoped: _book_file_statement(scoped) for scoped in (False, True)}


def book_file_query(library_ids: list[int] | None, book_id: int) -> tuple[Select, dict]:
    """The statement and parameters of ``book_file_for_user``, for a caller
    that runs it on a connection of its own (``comicsrv.api.hotpath``)."""
    if library_ids is None:
        return _BOOK_FILE[False], {"book_id": book_id}
    return _BOOK_FILE[True], {"book_id": book_id, "libraries": list(library_ids) or [-1]}


def _first_row(statement: Select, params: dict) -> Any:
    """The first row of ``statement``: on the request's session when it has
    one open, else on a pooled connection of its own. A page request whose
    caller came from the principal cache opens no session at all, which
    spares it the session's set-up and tear-down (a tenth of its time)."""
    if db.session.registry.has():
        return db.session.connection().execute(statement, params).first()
    with db.engine.connect() as connection:
        return connection.execute(statement, params).first()


def book_file_for_user(who: Any, book_id: int) -> BookFile:
    """``book_for_user``'s answer for the page and cover routes: the same
    scope and the same 404, one indexed query, no ORM object. ``who`` is a
    user or a principal (whose ``library_ids`` come without loading the
    user), or None for no user scope."""
    row = _first_row(*book_file_query(who.library_ids if who is not None else None, book_id))
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
        Book.state != BOOK_MISSING)).scalar()
    if book is None:
        raise NotFound("No book at that path")
    return book
