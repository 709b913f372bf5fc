"""LANraragi's stamps: notes pinned at a position on a page of an archive.

Stamps are shared like the archive's metadata: everyone who may see the
archive sees them; changing them needs MetadataWrite.
"""
from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import select

from ..errors import BadRequest
from ..extensions import db
from ..models import Book, Stamp

STAMP_ID = re.compile(r"^STAMP_\d{10}$")
MAX_CONTENT = 10_000


def new_stamp_id() -> str:
    """``STAMP_`` + the current unix time; the next free second when taken."""
    stamp = int(time.time())
    taken = set(db.session.execute(select(Stamp.id).where(Stamp.id >= f"STAMP_{stamp}")).scalars())
    while f"STAMP_{stamp}" in taken:
        stamp += 1
    return f"STAMP_{stamp}"


def stamp_object(stamp: Stamp) -> dict[str, Any]:
    return {"id": stamp.id, "position": stamp.position or "", "content": stamp.content or ""}


def stamped_pages(book: Book) -> list[str]:
    """Pages with at least one stamp, as LANraragi lists them (strings)."""
    pages = db.session.execute(select(Stamp.page).where(Stamp.book_id == book.id)
                               .distinct().order_by(Stamp.page)).scalars()
    return [str(page) for page in pages]


def stamps_on(book: Book, page: int) -> list[dict[str, Any]]:
    rows = db.session.execute(select(Stamp).where(Stamp.book_id == book.id, Stamp.page == page)
                              .order_by(Stamp.id)).scalars()
    return [stamp_object(stamp) for stamp in rows]


def _clean(content: str | None, position: str | None) -> tuple[str | None, str | None]:
    if content is not None and len(content) > MAX_CONTENT:
        raise BadRequest(f"A stamp holds at most {MAX_CONTENT} characters.")
    if position is not None:
        position = position.strip()[:100]
    return content, position


def add_stamp(book: Book, page: int, content: str | None, position: str | None) -> Stamp:
    if page < 0 or (book.page_count and page > book.page_count):
        raise BadRequest("Invalid page number.")
    content, position = _clean(content, position)
    stamp = Stamp(id=new_stamp_id(), book_id=book.id, page=page, content=content or "",
                  position=position or "")
    db.session.add(stamp)
    db.session.commit()
    return stamp


def find_stamp(stamp_id: str, visible: Any) -> Stamp | None:
    """The stamp, if its archive is one ``visible`` (a condition on books) admits."""
    if not STAMP_ID.match(stamp_id or ""):
        return None
    return db.session.execute(select(Stamp).join(Book, Book.id == Stamp.book_id)
                              .where(Stamp.id == stamp_id, visible)).scalar()


def update_stamp(stamp: Stamp, content: str | None, position: str | None) -> None:
    content, position = _clean(content, position)
    if content is not None:
        stamp.content = content
    if position is not None:
        stamp.position = position
    db.session.commit()


def delete_stamp(stamp: Stamp) -> None:
    db.session.delete(stamp)
    db.session.commit()
