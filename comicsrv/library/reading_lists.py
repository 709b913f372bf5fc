"""Reading lists: each user's ordered lists of books (Codex's and Komga's
read lists), made by hand or imported from a ComicBookLists CBL file
(ComicRack's format, as the CBL-ReadingLists community shares them).

A CBL lists issues by series, number, volume (the series' start year, as
ComicVine counts it) and year, sometimes with ComicVine ids
(``<Database Name="cv" Series=".." Issue=".."/>``). Each becomes an entry
in order; it is matched to a book the user can see of the same series name:
the one with its ComicVine issue id when both know one, else the one with
its number, a matching volume or year breaking ties. An issue not in the library stays an unmatched entry
and is matched when asked again (after the next scan or download). Smart
lists (ComicRack matchers without books) have nothing to import.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from sqlalchemy import func, select

from ..errors import BadRequest, Conflict, NotFound
from ..extensions import db
from ..filenames import normalize_number
from ..models import Book, ReadingList, ReadingListEntry, User, utcnow
from .access import book_for_user, visible_books
from ..models.library import BOOK_MISSING

MAX_ENTRIES = 10_000
MAX_CBL_BYTES = 5 * 1024**2
SOURCE_CBL = "cbl"


class InvalidCbl(BadRequest):
    code = "invalid_cbl"


# --- CBL ------------------------------------------------------------------------

def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_cbl(data: bytes) -> dict[str, Any]:
    """``{"name", "entries": [{series, number, volume, year, identifiers}],
    "smart": bool}`` from a CBL file; ``InvalidCbl`` saying why it is not one."""
    if len(data) > MAX_CBL_BYTES:
        raise InvalidCbl(f"A CBL file larger than {MAX_CBL_BYTES >> 20} MiB is not a reading list")
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise InvalidCbl(f"Not a CBL file: the XML does not parse ({exc})") from None
    if root.tag != "ReadingList":
        raise InvalidCbl(f"Not a CBL file: the root is <{root.tag}>, not <ReadingList>")
    name = (root.findtext("Name") or "").strip()
    books = root.find("Books")
    entries = []
    for book in (books if books is not None else []):
        if book.tag != "Book":
            continue
        if len(entries) >= MAX_ENTRIES:
            raise InvalidCbl(f"A reading list has at most {MAX_ENTRIES} books")
        identifiers: dict[str, dict[str, str]] = {}
        for database in book.findall("Database"):
            source = (database.get("Name") or "").strip().lower()
            if source:
                identifiers[source] = {k.lower(): v for k, v in database.attrib.items()
                                       if k != "Name" and v}
        series = (book.get("Series") or "").strip()
        number = (book.get("Number") or "").strip()
        if not series and not identifiers:
            continue  # nothing to match it by
        entries.append({"series": series[:500] or None, "number": number[:32] or None,
                        "volume": (book.get("Volume") or "").strip()[:32] or None,
                        "year": _int(book.get("Year")), "identifiers": identifiers or None})
    matchers = root.find("Matchers")
    smart = not entries and matchers is not None and len(matchers) > 0
    return {"name": name, "entries": entries, "smart": smart}


# --- matching -----------------------------------------------------------------------

def _candidates(user: User, entries: list[ReadingListEntry]) -> tuple[dict, dict]:
    """Visible books by (series, number) and by ComicVine issue id, for the
    series the entries name (one query)."""
    names = {e.series.lower() for e in entries if e.series}
    by_number: dict[tuple[str, str], list[Book]] = defaultdict(list)
    by_cv: dict[str, Book] = {}
    if not names:
        return by_number, by_cv
    rows = db.session.execute(select(Book).where(
        func.lower(Book.series_name).in_(names), Book.state != BOOK_MISSING,
        visible_books(user)).order_by(Book.id)).scalars()
    for book in rows:
        key = ((book.series_name or "").lower(), normalize_number(book.number or ""))
        by_number[key].append(book)
        cv = ((book.extra or {}).get("identifiers") or {}).get("comicvine")
        if cv:
            by_cv.setdefault(str(cv), book)  # two copies of an issue: the first found
    return by_number, by_cv


def _best(entry: ReadingListEntry, books: list[Book]) -> Book | None:
    if not books:
        return None

    def score(book: Book) -> tuple:
        volume_hit = entry.volume is not None and str(book.volume or "") == entry.volume
        year_hit = entry.year is not None and book.year == entry.year
        year_near = entry.year is not None and book.year is not None and abs(book.year - entry.year) <= 1
        return (volume_hit or year_hit, year_near, -book.id)

    return max(books, key=score)


def match_entries(user: User, entries: list[ReadingListEntry]) -> int:
    """Link unmatched entries to books; returns how many were matched now."""
    open_entries = [e for e in entries if e.book_id is None]
    by_number, by_cv = _candidates(user, open_entries)
    matched = 0
    for entry in open_entries:
        cv = ((entry.identifiers or {}).get("cv") or {}).get("issue")
        book = by_cv.get(str(cv)) if cv else None
        if book is None and entry.series:
            book = _best(entry, by_number.get((entry.series.lower(),
                                               normalize_number(entry.number or "")), []))
        if book is not None:
            entry.book_id = book.id
            matched += 1
    return matched


# --- lists ----------------------------------------------------------------------------

def lists_query(user_id: int):
    return (select(ReadingList).where(ReadingList.user_id == user_id)
            .order_by(func.lower(ReadingList.name), ReadingList.id))


def get_list(user_id: int, list_id: int) -> ReadingList:
    """One of the user's lists; another user's is "not found"."""
    row = db.session.get(ReadingList, list_id) if 0 < list_id < 2**31 else None
    if row is None or row.user_id != user_id:
        raise NotFound(f"Reading list {list_id} not found")
    return row


def _check_name_free(user_id: int, name: str, exclude_id: int | None = None) -> None:
    taken = db.session.execute(select(ReadingList.id).where(
        ReadingList.user_id == user_id, ReadingList.name == name)).scalar()
    if taken is not None and taken != exclude_id:
        raise Conflict(f"You have a reading list named {name!r} already", code="name_taken")


def _entry_for(book: Book, position: int) -> ReadingListEntry:
    return ReadingListEntry(position=position, book_id=book.id, series=book.series_name,
                            number=book.number, volume=str(book.volume) if book.volume else None,
                            year=book.year)


def _books(user: User, book_ids: Iterable[int]) -> list[Book]:
    return [book_for_user(user, book_id) for book_id in book_ids]


def create_list(user: User, name: str, summary: str | None = None,
                book_ids: Iterable[int] = ()) -> ReadingList:
    _check_name_free(user.id, name)
    row = ReadingList(user_id=user.id, name=name, summary=summary)
    for position, book in enumerate(_books(user, book_ids)):
        row.entries.append(_entry_for(book, position))
    db.session.add(row)
    db.session.commit()
    return row


def import_cbl(user: User, data: bytes, name: str | None = None) -> tuple[ReadingList, int]:
    """A new list from a CBL file, matched to the user's books; returns the
    list and how many of its entries were matched."""
    parsed = parse_cbl(data)
    if parsed["smart"]:
        raise InvalidCbl("This is a smart list (ComicRack matchers, no books): there is "
                         "nothing to import")
    if not parsed["entries"]:
        raise InvalidCbl("The CBL file lists no books")
    name = (name or parsed["name"] or "Imported reading list").strip()[:500]
    _check_name_free(user.id, name)
    row = ReadingList(user_id=user.id, name=name, source=SOURCE_CBL)
    for position, entry in enumerate(parsed["entries"]):
        row.entries.append(ReadingListEntry(position=position, **entry))
    db.session.add(row)
    db.session.flush()
    matched = match_entries(user, row.entries)
    db.session.commit()
    return row, matched


def update_list(row: ReadingList, changes: dict[str, Any]) -> ReadingList:
    if "name" in changes:
        _check_name_free(row.user_id, changes["name"], exclude_id=row.id)
        row.name = changes["name"]
    if "summary" in changes:
        row.summary = changes["summary"]
    row.updated_at = utcnow()
    db.session.commit()
    return row


def delete_list(row: ReadingList) -> None:
    db.session.delete(row)
    db.session.commit()


def _renumber(row: ReadingList) -> None:
    for position, entry in enumerate(row.entries):
        entry.position = position


def add_books(user: User, row: ReadingList, book_ids: list[int],
              position: int | None = None) -> ReadingList:
    """Insert books at ``position`` (0-based; the end when None)."""
    books = _books(user, book_ids)
    if len(row.entries) + len(books) > MAX_ENTRIES:
        raise BadRequest(f"A reading list has at most {MAX_ENTRIES} books")
    at = len(row.entries) if position is None else max(0, min(position, len(row.entries)))
    for offset, book in enumerate(books):
        row.entries.insert(at + offset, _entry_for(book, at + offset))
    _renumber(row)
    row.updated_at = utcnow()
    db.session.commit()
    return row


def remove_entry(row: ReadingList, entry_id: int) -> None:
    entry = next((e for e in row.entries if e.id == entry_id), None)
    if entry is None:
        raise NotFound(f"Reading list {row.id} has no entry {entry_id}")
    row.entries.remove(entry)
    _renumber(row)
    row.updated_at = utcnow()
    db.session.commit()


def reorder(row: ReadingList, entry_ids: list[int]) -> ReadingList:
    """The entries in the order given: every entry id exactly once."""
    current = {e.id: e for e in row.entries}
    if sorted(entry_ids) != sorted(current) or len(set(entry_ids)) != len(entry_ids):
        raise BadRequest("entry_ids must name every entry of the list exactly once",
                         details={"expected": len(current)})
    for position, entry_id in enumerate(entry_ids):
        current[entry_id].position = position
    row.updated_at = utcnow()
    db.session.commit()
    db.session.refresh(row)
    return row


def rematch(user: User, row: ReadingList) -> int:
    matched = match_entries(user, row.entries)
    db.session.commit()
    return matched


def counts(row: ReadingList) -> dict[str, int]:
    total = len(row.entries)
    matched = sum(1 for e in row.entries if e.book_id is not None)
    return {"entry_count": total, "matched_count": matched, "unmatched_count": total - matched}


def entries_query(row: ReadingList):
    return (select(ReadingListEntry).where(ReadingListEntry.list_id == row.id)
            .order_by(ReadingListEntry.position, ReadingListEntry.id))


def books_query(user: User, row: ReadingList):
    """The list's matched books the user can see, in reading order."""
    return (select(Book).join(ReadingListEntry, ReadingListEntry.book_id == Book.id)
            .where(ReadingListEntry.list_id == row.id, Book.state != BOOK_MISSING,
                   visible_books(user))
            .order_by(ReadingListEntry.position, ReadingListEntry.id))
