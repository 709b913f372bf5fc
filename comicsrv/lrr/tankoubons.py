"""LANraragi tankoubons: ordered collections of archives read as one volume.

A tankoubon has a name, a summary and tags of its own, and lists archives
in the order they were added (or the order ``PUT /tankoubons/:id`` gave).
Tankoubons are the server's, as in LANraragi; each caller sees in one only
the archives of the libraries they may see. Pages of a tankoubon are
counted across its archives: page 26 of a tank of 20 + 25 pages is page 6
of its second archive.

Errors carry LANraragi's own messages (clients show them as they are).
"""
from __future__ import annotations

import re
import time
from typing import Any, Sequence

from sqlalchemy import delete, func, select

from ..errors import BadRequest
from ..extensions import db
from ..models import Book, Tankoubon, TankoubonBook, User
from .archives import ARCID, archives_by_ids, find_archive, progress_by_book
from .search import archive_scope

TANK_ID = re.compile(r"^TANK_\d{10}$")
MAX_NAME = 1000


def new_tank_id() -> str:
    """``TANK_`` + the current unix time, as LANraragi makes them; the next
    free second when two are created within one."""
    stamp = int(time.time())
    taken = set(db.session.execute(select(Tankoubon.id).where(
        Tankoubon.id >= f"TANK_{stamp}")).scalars())
    while f"TANK_{stamp}" in taken:
        stamp += 1
    return f"TANK_{stamp}"


def find_tank(tank_id: str) -> Tankoubon | None:
    if not TANK_ID.match(tank_id or ""):
        return None
    return db.session.get(Tankoubon, tank_id)


def get_tank(tank_id: str) -> Tankoubon:
    tank = find_tank(tank_id)
    if tank is None:
        raise BadRequest(f"The given tankoubon does not exist: {tank_id}")
    return tank


def book_ids(tank: Tankoubon, user: User | None) -> list[int]:
    """The tank's books the caller may see, in the tank's order."""
    return list(db.session.execute(
        select(Book.id).join(TankoubonBook, TankoubonBook.book_id == Book.id)
        .where(TankoubonBook.tankoubon_id == tank.id, archive_scope(user))
        .order_by(TankoubonBook.position, Book.id)).scalars())


def _books(tank: Tankoubon, user: User | None) -> list[Any]:
    ids = book_ids(tank, user)
    rows = {row.id: row for row in db.session.execute(
        select(Book.id, Book.arcid, Book.page_count).where(Book.id.in_(ids)))} if ids else {}
    return [rows[i] for i in ids if i in rows]


def tank_progress(books: Sequence[Any], user: User | None) -> int:
    """The global page of the caller's most recently read archive of the
    tank (0 when none was read)."""
    progress = progress_by_book(user, [book.id for book in books])
    if not progress:
        return 0
    latest = max(progress, key=lambda book_id: progress[book_id][1])
    before = 0
    for book in books:
        if book.id == latest:
            return before + progress[latest][0]
        before += book.page_count or 0
    return 0


def tank_object(tank: Tankoubon, user: User | None) -> dict[str, Any]:
    books = _books(tank, user)
    return {"id": tank.id, "name": tank.name, "summary": tank.summary or "",
            "tags": tank.tags or "", "archives": [book.arcid for book in books],
            "progress": tank_progress(books, user)}


def list_tanks(user: User | None, page: int | None, per_page: int) -> tuple[list[dict], int]:
    """One page (0-based; None: all) of tankoubons by name, and how many there are."""
    query = select(Tankoubon).order_by(func.lower(Tankoubon.name), Tankoubon.id)
    total = db.session.execute(select(func.count()).select_from(Tankoubon)).scalar() or 0
    if page is not None and page >= 0:
        query = query.offset(page * per_page).limit(per_page)
    return [tank_object(tank, user) for tank in db.session.execute(query).scalars()], total


def full_tank(tank: Tankoubon, user: User | None, page: int, per_page: int) -> dict[str, Any]:
    """The tank with its archives' objects (one page of them, or all for -1)."""
    found = tank_object(tank, user)
    ids = book_ids(tank, user)
    if page >= 0:
        ids = ids[page * per_page:(page + 1) * per_page]
    found["full_data"] = archives_by_ids(ids, user)
    return found


def _clean_name(name: str | None) -> str:
    return (name or "").strip()[:MAX_NAME]


def create_tank(name: str | None, tank_id: str | None = None) -> Tankoubon:
    """LANraragi's ``PUT /tankoubons``: a new tank, or with ``tank_id`` a
    rename of that one."""
    name = _clean_name(name)
    if not name:
        raise BadRequest("Tankoubon name not specified.")
    if tank_id:
        tank = get_tank(tank_id)
        tank.name = name
    else:
        tank = Tankoubon(id=new_tank_id(), name=name, summary="", tags="")
        db.session.add(tank)
    db.session.commit()
    return tank


def _archive(arcid: str, user: User | None) -> Book:
    book = find_archive(user, (arcid or "").strip().lower()) if ARCID.match(
        (arcid or "").strip().lower()) else None
    if book is None:
        raise BadRequest(f"The given archive does not exist: {arcid}")
    return book


def update_tank(tank: Tankoubon, user: User | None, archives: list[str] | None,
                metadata: dict[str, Any] | None) -> None:
    """LANraragi's ``PUT /tankoubons/:id``: new metadata fields (a missing
    key is left alone) and/or the archives in their new order (replacing
    the list, or after it when ``metadata.append``)."""
    metadata = metadata or {}
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be an object.")
    if metadata.get("name") is not None:
        if not _clean_name(str(metadata["name"])):
            raise BadRequest("Tankoubon name cannot be empty.")
        tank.name = _clean_name(str(metadata["name"]))
    if metadata.get("summary") is not None:
        tank.summary = str(metadata["summary"])
    if metadata.get("tags") is not None:
        tank.tags = str(metadata["tags"])
    if archives is not None:
        if not isinstance(archives, list):
            raise BadRequest("archives must be a list of archive ids.")
        books = [_archive(str(arcid), user) for arcid in archives]
        if not metadata.get("append"):
            db.session.execute(delete(TankoubonBook).where(TankoubonBook.tankoubon_id == tank.id))
            db.session.flush()
        for book in books:
            _append(tank, book)
    db.session.commit()


def _append(tank: Tankoubon, book: Book) -> bool:
    if db.session.get(TankoubonBook, (tank.id, book.id)) is not None:
        return False
    last = db.session.execute(select(func.max(TankoubonBook.position)).where(
        TankoubonBook.tankoubon_id == tank.id)).scalar()
    db.session.add(TankoubonBook(tankoubon_id=tank.id, book_id=book.id, position=(last or 0) + 1))
    db.session.flush()
    return True


def add_archive(tank: Tankoubon, arcid: str, user: User | None) -> None:
    _append(tank, _archive(arcid, user))
    db.session.commit()


def remove_archive(tank: Tankoubon, arcid: str, user: User | None) -> None:
    book = _archive(arcid, user)
    db.session.execute(delete(TankoubonBook).where(TankoubonBook.tankoubon_id == tank.id,
                                                   TankoubonBook.book_id == book.id))
    if tank.cover_book_id == book.id:
        tank.cover_book_id = tank.cover_page = None
    db.session.commit()


def delete_tank(tank: Tankoubon) -> None:
    db.session.delete(tank)
    db.session.commit()


def tankoubons_with_book(book: Book) -> list[str]:
    return list(db.session.execute(
        select(TankoubonBook.tankoubon_id).where(TankoubonBook.book_id == book.id)
        .order_by(TankoubonBook.tankoubon_id)).scalars())


def locate_page(tank: Tankoubon, user: User | None, page: int) -> tuple[Book, int]:
    """The archive and its own page for a global page of the tank."""
    if page < 1:
        raise BadRequest("Invalid page number.")
    before = 0
    for row in _books(tank, user):
        count = row.page_count or 0
        if page <= before + count:
            return db.session.get(Book, row.id), page - before
        before += count
    raise BadRequest(f"Page {page} is past the end of this tankoubon ({before} pages).")


def cover(tank: Tankoubon, user: User | None) -> tuple[Book, int] | None:
    """The archive and page the tank's cover comes from (0: that archive's cover)."""
    if tank.cover_book_id is not None and tank.cover_book_id in book_ids(tank, user):
        return db.session.get(Book, tank.cover_book_id), tank.cover_page or 0
    ids = book_ids(tank, user)
    return (db.session.get(Book, ids[0]), 0) if ids else None


def set_cover(tank: Tankoubon, user: User | None, page: int) -> tuple[Book, int]:
    book, local = locate_page(tank, user, page)
    tank.cover_book_id, tank.cover_page = book.id, local
    db.session.commit()
    return book, local
