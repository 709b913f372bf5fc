"""Editing the metadata of books and series by hand, with locks (Komga's
and Codex's): a field a user edited is locked, and the scanner keeps its
value when the file is read again (``keep_locked`` for book columns,
``locked_namespaces`` for tags). ``locks`` in an edit locks or unlocks
fields explicitly; unlocking one lets the next scan take the file's value.

A book's edit can also be written into its file as ComicInfo.xml (CBZ
only): the ComicInfo the file has is read, the edited fields laid over it
(pages, notes and everything else kept), and ``automation.tagging``
rewrites the archive and re-indexes it in one go.

Renaming a series (or changing its publisher) keeps the name the scanner
groups its books under (``Series.scanned_name``), so the next scan puts
them back into this series, under the new name, rather than a new one.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Iterable, Mapping

from flask import current_app
from sqlalchemy import delete, select, update

from .. import services
from ..comicinfo import ComicMetadata, to_comicinfo_xml
from ..errors import BadRequest, Conflict, NotFound
from ..events import BookUpdated, SeriesUpdated
from ..extensions import db
from ..filenames import number_sort
from ..models import Book, BookTag, Publisher, Series, Tag, utcnow
from .grouping import sort_name

# Book columns a user may edit (API name: column).
BOOK_FIELDS = {
    "title": "title", "number": "number", "volume": "volume", "year": "year",
    "month": "month", "day": "day", "summary": "summary", "language": "language",
    "age_rating": "age_rating", "manga": "manga", "web": "web", "issue_count": "count",
}
SERIES_FIELDS = ("name", "sort_name", "summary", "year", "volume", "publisher")
# Tag namespaces as the API shows them ("tag": tags without a namespace).
TAG_NAMESPACES = ("writer", "penciller", "inker", "colorist", "letterer", "cover", "editor",
                  "translator", "genre", "tag", "character", "team", "location", "arc",
                  "series_group", "imprint", "format")
# ComicMetadata list fields of each namespace, for writing ComicInfo.
_META_LISTS = {"writer": "writer", "penciller": "penciller", "inker": "inker",
               "colorist": "colorist", "letterer": "letterer", "cover": "cover_artist",
               "editor": "editor", "translator": "translator", "genre": "genre", "tag": "tags",
               "character": "characters", "team": "teams", "location": "locations",
               "arc": "story_arc", "series_group": "series_group"}
MAX_TAGS = 200


def _lock_key(name: str) -> str:
    return name


def _tag_lock(namespace: str) -> str:
    return f"tags.{namespace}"


def _applied_locks(current: Mapping[str, bool] | None, edited: Iterable[str],
                   asked: Mapping[str, bool] | None, allowed: Iterable[str]) -> dict | None:
    """Edited fields become locked unless ``asked`` says otherwise; ``asked``
    may lock or unlock any known field."""
    allowed = set(allowed)
    unknown = sorted(set(asked or {}) - allowed)
    if unknown:
        raise BadRequest(f"locks: unknown field(s) {', '.join(unknown)}",
                         details={"locks": unknown})
    locks = {k: True for k, v in (current or {}).items() if v}
    for name in edited:
        locks[name] = True
    for name, value in (asked or {}).items():
        if value:
            locks[name] = True
        else:
            locks.pop(name, None)
    return dict(sorted(locks.items())) or None


# --- books ------------------------------------------------------------------------

def book_lockable() -> list[str]:
    return list(BOOK_FIELDS) + [_tag_lock(ns) for ns in TAG_NAMESPACES]


def _tag_id(namespace: str, name: str) -> int:
    stored_ns = "" if namespace == "tag" else namespace
    found = db.session.execute(select(Tag.id).where(Tag.namespace == stored_ns,
                                                    Tag.name == name)).scalar()
    if found is None:
        tag = Tag(namespace=stored_ns, name=name)
        db.session.add(tag)
        db.session.flush()
        found = tag.id
    return found


def _set_tags(book: Book, namespace: str, names: list[str]) -> None:
    """The book's tags of one namespace become ``names`` (source "user")."""
    stored_ns = "" if namespace == "tag" else namespace
    in_namespace = select(Tag.id).where(Tag.namespace == stored_ns)
    db.session.execute(delete(BookTag).where(BookTag.book_id == book.id,
                                             BookTag.tag_id.in_(in_namespace)))
    for name in dict.fromkeys(n.strip() for n in names if n and n.strip()):
        db.session.add(BookTag(book_id=book.id, tag_id=_tag_id(namespace, name[:500]),
                               source="user"))


def edit_book(book: Book, changes: Mapping[str, Any], *, tags: Mapping[str, list[str]] | None = None,
              locks: Mapping[str, bool] | None = None) -> Book:
    """Apply a user's edit to a book's row and lock what was edited."""
    unknown = sorted(set(tags or {}) - set(TAG_NAMESPACES))
    if unknown:
        raise BadRequest(f"tags: unknown namespace(s) {', '.join(unknown)}; known: "
                         f"{', '.join(TAG_NAMESPACES)}", details={"tags": unknown})
    for name, value in changes.items():
        setattr(book, BOOK_FIELDS[name], value)
        if name == "number":
            book.number_sort = number_sort(value) if value else None
    for namespace, names in (tags or {}).items():
        if len(names) > MAX_TAGS:
            raise BadRequest(f"tags.{namespace}: at most {MAX_TAGS} names")
        _set_tags(book, namespace, names)
    edited = list(changes) + [_tag_lock(ns) for ns in tags or {}]
    book.locked_fields = _applied_locks(book.locked_fields, edited, locks, book_lockable())
    book.updated_at = utcnow()
    db.session.commit()
    services.events().publish(
        BookUpdated(book_id=book.id, series_id=book.series_id, library_id=book.library_id))
    return book


def book_tags(book_id: int) -> dict[str, list[str]]:
    rows = db.session.execute(select(Tag.namespace, Tag.name).join(
        BookTag, BookTag.tag_id == Tag.id).where(BookTag.book_id == book_id)
        .order_by(Tag.namespace, Tag.name))
    found: dict[str, list[str]] = {}
    for namespace, name in rows:
        found.setdefault(namespace or "tag", []).append(name)
    return found


def comicinfo_for_book(book: Book) -> bytes:
    """ComicInfo.xml for a book: what its file holds, with the book's
    values (as edited) laid over it."""
    from ..jobs.pool import run_cpu
    from .reader import read_comic

    meta = None
    try:
        stat = os.stat(book.path)
        cache = os.path.join(current_app.config["CACHE_DIR"], "archives")
        meta = run_cpu(read_comic, book.path, stat.st_size, stat.st_mtime, cache).metadata
    except OSError:
        raise Conflict(f"{os.path.basename(book.path)} is missing on disk") from None
    meta = replace(meta, pages=list(meta.pages)) if meta is not None else ComicMetadata()
    series = db.session.get(Series, book.series_id) if book.series_id else None
    publisher = db.session.get(Publisher, book.publisher_id) if book.publisher_id else None
    meta.title, meta.number, meta.count = book.title, book.number, book.count
    meta.volume, meta.year, meta.month, meta.day = book.volume, book.year, book.month, book.day
    meta.summary, meta.language_iso, meta.age_rating = book.summary, book.language, book.age_rating
    meta.web = [book.web] if book.web else []
    meta.series = series.name if series else book.series_name
    if publisher is not None:
        meta.publisher = publisher.name
    if book.manga is not None:
        meta.manga = book.manga in ("Yes", "YesAndRightToLeft")
        meta.right_to_left = book.manga == "YesAndRightToLeft"
    tags = book_tags(book.id)
    for namespace, attr in _META_LISTS.items():
        setattr(meta, attr, list(tags.get(namespace, [])))
    return to_comicinfo_xml(meta)


def write_book_comicinfo(book: Book) -> str | None:
    """Write the book's metadata into its CBZ and re-index it; the archive id
    it had before (now an alias) is returned."""
    from ..automation.tagging import tag_book

    return tag_book(book, comicinfo_for_book(book))


# --- the scanner keeps locked values ---------------------------------------------

def keep_locked(rows: list[dict[str, Any]]) -> None:
    """Rows the scanner is about to write over changed books (``book_id``
    plus column values): locked columns get their stored values back. One
    query for the batch, none when no book of it has locks."""
    ids = [row["book_id"] for row in rows]
    if not ids:
        return
    columns = [getattr(Book, column) for column in BOOK_FIELDS.values()]
    stored = {row.id: row for row in db.session.execute(
        select(Book.id, Book.locked_fields, Book.number_sort, *columns)
        .where(Book.id.in_(ids), Book.locked_fields.is_not(None)))}
    for row in rows:
        found = stored.get(row["book_id"])
        if found is None or not found.locked_fields:
            continue
        for name, column in BOOK_FIELDS.items():
            if found.locked_fields.get(name):
                row[column] = getattr(found, column)
                if name == "number":
                    row["number_sort"] = found.number_sort


def locked_namespaces(book_ids: Iterable[int]) -> dict[int, set[str]]:
    """The tag namespaces (as stored: "" for plain tags) each book locked."""
    ids = list(book_ids)
    if not ids:
        return {}
    found = {}
    for book_id, locks in db.session.execute(select(Book.id, Book.locked_fields).where(
            Book.id.in_(ids), Book.locked_fields.is_not(None))):
        namespaces = {("" if key[5:] == "tag" else key[5:]) for key, value in (locks or {}).items()
                      if value and key.startswith("tags.")}
        if namespaces:
            found[book_id] = namespaces
    return found


# --- series -----------------------------------------------------------------------

def _publisher_id(name: str | None) -> int | None:
    if not name:
        return None
    found = db.session.execute(select(Publisher.id).where(Publisher.name == name)).scalar()
    if found is None:
        publisher = Publisher(name=name, sort_name=sort_name(name))
        db.session.add(publisher)
        db.session.flush()
        found = publisher.id
    return found


def edit_series(series: Series, changes: Mapping[str, Any], *,
                locks: Mapping[str, bool] | None = None) -> Series:
    """Apply a user's edit to a series and lock what was edited; its books
    follow a new name or publisher."""
    changes = dict(changes)
    regroup = ("name" in changes and changes["name"] != series.name) or (
        "publisher" in changes and _publisher_id(changes["publisher"]) != series.publisher_id)
    if regroup:
        new_name = changes.get("name", series.name)
        new_publisher = _publisher_id(changes["publisher"]) if "publisher" in changes \
            else series.publisher_id
        clash = db.session.execute(select(Series.id).where(
            Series.library_id == series.library_id, Series.name == new_name,
            Series.publisher_id.is_(None) if new_publisher is None
            else Series.publisher_id == new_publisher,
            Series.volume.is_(None) if changes.get("volume", series.volume) is None
            else Series.volume == changes.get("volume", series.volume),
            Series.id != series.id)).scalar()
        if clash is not None:
            raise Conflict(f"Series {clash} of this library already has that name, publisher "
                           "and volume", code="series_exists")
        if series.scanned_name is None:
            series.scanned_name, series.scanned_publisher_id = series.name, series.publisher_id
    if "name" in changes:
        series.name = changes["name"]
        if "sort_name" not in changes:
            series.sort_name = sort_name(changes["name"])
    if "publisher" in changes:
        series.publisher_id = _publisher_id(changes["publisher"])
    for name in ("sort_name", "summary", "year", "volume"):
        if name in changes:
            setattr(series, name, changes[name])
    if regroup:
        values = {"series_name": series.name, "publisher_id": series.publisher_id,
                  "updated_at": utcnow()}
        db.session.execute(update(Book).where(Book.series_id == series.id).values(**values))
    series.locked_fields = _applied_locks(series.locked_fields, changes, locks, SERIES_FIELDS)
    series.updated_at = utcnow()
    db.session.commit()
    services.events().publish(
        SeriesUpdated(series_id=series.id, library_id=series.library_id))
    return series


def get_series(series_id: int) -> Series:
    series = db.session.get(Series, series_id) if 0 < series_id < 2**31 else None
    if series is None:
        raise NotFound(f"Series {series_id} not found")
    return series
