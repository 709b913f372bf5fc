"""Books as LANraragi archive objects, and the edits LANraragi clients make.

An archive object (LANraragi's ``ArchiveMetadataJson``) for a list of books
costs four queries whatever the list's length: the books, their tags, the
caller's progress. Reading progress and "last read" are the caller's own
(comicsrv has users; LANraragi has one reader).
"""
from __future__ import annotations

import os
import re
import shutil
from typing import Any, Iterable, Sequence

from sqlalchemy import delete, select

from .. import services
from ..errors import BadRequest
from ..events import BookDeleted, BookUpdated
from ..extensions import db
from ..models import ArcidAlias, Book, ReadingProgress, TocEntry, User
from .search import archive_scope, untagged_condition
from .tags import book_tag_string, epoch, set_book_tags, stored_tags
from .thumbnails import archive_cache_dir

ARCID = re.compile(r"^[0-9a-f]{40}$")


def find_archive(user: User | None, arcid: str) -> Book | None:
    """The book with this archive id that the caller may see. Two copies of
    one file share an id; the first indexed answers for both.

    An id no book has now may be one a book's file had before it was
    rewritten (ComicInfo.xml written, converted, changed on disk): LANraragi
    never changes an archive's id, so its clients keep using the old one,
    and it keeps naming that book. Only a miss costs the second query.
    """
    book = db.session.execute(
        select(Book).where(Book.arcid == arcid, archive_scope(user)).order_by(Book.id).limit(1)
    ).scalar()
    if book is None:
        book = db.session.execute(
            select(Book).join(ArcidAlias, ArcidAlias.book_id == Book.id)
            .where(ArcidAlias.arcid == arcid, archive_scope(user)).order_by(Book.id).limit(1)
        ).scalar()
    return book


def display_title(book: Book) -> str:
    """The title LANraragi clients list: the one a client set, exactly as it
    was sent; else "Series #N - Title" for an issue of a series, else the
    title, else the file name (LANraragi's default)."""
    if getattr(book, "lrr_title", None):
        return book.lrr_title
    title = (book.title or "").strip()
    if book.series_name and book.number:
        prefix = f"{book.series_name} #{book.number}"
        return f"{prefix} - {title}" if title else prefix
    return title or split_filename(book.filename)[0]


def title_from_display(book: Book, shown: str) -> str | None:
    """The book title a client means when it sends ``shown`` back: what it
    edited after the "Series #N - " prefix, or all of it."""
    shown = shown.strip()
    if book.series_name and book.number:
        prefix = f"{book.series_name} #{book.number}"
        if shown == prefix:
            return None
        if shown.startswith(prefix + " - "):
            shown = shown[len(prefix) + 3:].strip()
    return shown or None


def split_filename(filename: str) -> tuple[str, str]:
    """``("Saga 001", "cbz")``: LANraragi's ``filename`` and ``extension``."""
    stem, ext = os.path.splitext(filename)
    return stem, ext[1:].lower()


def progress_by_book(user: User | None, book_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """``{book id: (page, last read epoch)}`` for the caller."""
    if user is None or not book_ids:
        return {}
    found = {}
    for start in range(0, len(book_ids), 500):
        rows = db.session.execute(select(
            ReadingProgress.book_id, ReadingProgress.page, ReadingProgress.updated_at).where(
            ReadingProgress.user_id == user.id,
            ReadingProgress.book_id.in_(book_ids[start:start + 500])))
        for book_id, page, updated_at in rows:
            found[book_id] = (page or 0, epoch(updated_at))
    return found


def toc_by_book(book_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """``{book id: [{"name", "page"}, ...]}`` sorted by page."""
    found: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(book_ids), 500):
        rows = db.session.execute(select(TocEntry.book_id, TocEntry.page, TocEntry.name).where(
            TocEntry.book_id.in_(book_ids[start:start + 500])).order_by(TocEntry.page))
        for book_id, page, name in rows:
            found.setdefault(book_id, []).append({"name": name, "page": page})
    return found


def set_toc_entry(book: Book, page: int, name: str) -> None:
    """LANraragi's ``PUT toc``: the chapter starting at ``page`` (replaces
    the entry of that page)."""
    if page < 1 or (book.page_count and page > book.page_count):
        raise BadRequest("Invalid page number.")
    name = (name or "").strip()[:1000]
    if not name:
        raise BadRequest("Missing title for the ToC entry.")
    entry = db.session.get(TocEntry, (book.id, page))
    if entry is None:
        db.session.add(TocEntry(book_id=book.id, page=page, name=name))
    else:
        entry.name = name
    db.session.commit()


def remove_toc_entry(book: Book, page: int) -> None:
    db.session.execute(delete(TocEntry).where(TocEntry.book_id == book.id, TocEntry.page == page))
    db.session.commit()


# What an archive object is built from: selecting only these columns (rows
# with attribute access, not ORM objects) halves the cost of a long list.
ARCHIVE_COLUMNS = (Book.id, Book.arcid, Book.filename, Book.title, Book.lrr_title,
                   Book.series_name, Book.number,
                   Book.summary, Book.is_new, Book.page_count, Book.size, Book.web, Book.year,
                   Book.month, Book.day, Book.created_at)


def archive_objects(books: Sequence[Any], user: User | None) -> list[dict[str, Any]]:
    """LANraragi archive objects for books (``Book`` objects or rows of
    ``ARCHIVE_COLUMNS``), in their order."""
    ids = [book.id for book in books]
    tags = stored_tags(ids)
    progress = progress_by_book(user, ids)
    tocs = toc_by_book(ids)
    objects = []
    for book in books:
        filename, extension = split_filename(book.filename)
        page, last_read = progress.get(book.id, (0, 0))
        objects.append({
            "arcid": book.arcid,
            "title": display_title(book),
            "filename": filename,
            "extension": extension,
            "tags": book_tag_string(book, tags.get(book.id, ())),
            "summary": book.summary or "",
            "isnew": "true" if book.is_new else "false",
            "pagecount": book.page_count or 0,
            "progress": page,
            "lastreadtime": last_read,
            "size": book.size or 0,
            "toc": tocs.get(book.id, []),
        })
    return objects


def archives_by_ids(ids: Sequence[int], user: User | None) -> list[dict[str, Any]]:
    """Archive objects for book ids, keeping the ids' order."""
    rows: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        for row in db.session.execute(select(*ARCHIVE_COLUMNS).where(
                Book.id.in_(ids[start:start + 500]))):
            rows[row.id] = row
    return archive_objects([rows[i] for i in ids if i in rows], user)


def arcids_by_ids(ids: Sequence[int]) -> list[str]:
    """Archive ids for book ids, keeping the ids' order."""
    found = dict(db.session.execute(select(Book.id, Book.arcid).where(Book.id.in_(ids))).all()) \
        if ids else {}
    return [found[i] for i in ids if i in found]


def all_archives(user: User | None) -> Iterable[dict[str, Any]]:
    """Every archive the caller may see, a few hundred books at a time."""
    ids = list(db.session.execute(select(Book.id).where(archive_scope(user)).order_by(Book.id)).scalars())
    for start in range(0, len(ids), 500):
        yield from archives_by_ids(ids[start:start + 500], user)


def untagged_arcids(user: User | None) -> list[str]:
    return list(db.session.execute(
        select(Book.arcid).where(archive_scope(user), untagged_condition()).order_by(Book.id)).scalars())


def update_metadata(book: Book, *, title: str | None, tags: str | None,
                    summary: str | None) -> None:
    """LANraragi's metadata edit: each given field overwrites, a missing one
    (None) is left alone. Stored where every surface reads it."""
    if title is not None:
        # Read back exactly as sent; the book's own title follows it, so
        # the other surfaces show the edit too.
        book.title = title_from_display(book, title)
        book.lrr_title = title[:1000] if title.strip() else None
    if summary is not None:
        book.summary = summary.strip() or None
    if tags is not None:
        set_book_tags(book, tags)
    db.session.commit()
    services.events().publish(
        BookUpdated(book_id=book.id, series_id=book.series_id, library_id=book.library_id))


def set_new(book: Book, is_new: bool) -> None:
    if book.is_new != is_new:
        book.is_new = is_new
        db.session.commit()
        services.events().publish(
            BookUpdated(book_id=book.id, series_id=book.series_id, library_id=book.library_id))


def delete_archive(book: Book) -> str:
    """Delete a book's file and its record; return the file name.

    A book that is a folder of images is refused: deleting a folder tree is
    not something an archive API call should do.
    """
    if os.path.isdir(book.path):
        raise BadRequest(f"{book.filename} is a folder of images; delete it on disk")
    try:
        os.remove(book.path)
    except FileNotFoundError:
        pass  # already gone: the record goes all the same
    except OSError as exc:
        raise BadRequest(f"The file could not be deleted: {exc.strerror or exc}") from None
    name, arcid = book.filename, book.arcid
    event = BookDeleted(book_id=book.id, series_id=book.series_id, library_id=book.library_id)
    db.session.delete(book)
    db.session.commit()
    if not db.session.execute(select(Book.id).where(Book.arcid == arcid)).first():
        shutil.rmtree(archive_cache_dir(arcid), ignore_errors=True)
    services.events().publish(event)
    return name
