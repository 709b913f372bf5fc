"""Browsing the library the way CLU's reader apps do, plus their lists.

Two modes, both limited to the enabled libraries a user may see:

- **filesystem**: the live folders under the library roots (``os.scandir``),
  with counts, years and dates from the catalogue: one indexed query per
  listed folder, never a walk of the tree. Names given by a client are
  resolved under the roots only; any ``..`` is refused and a symlink that
  leads out of a root is not followed.
- **metadata**: books grouped by their publisher and series (ComicInfo, or
  the folder layout when a file has none), grouped, counted and paged in SQL.

Also here: favourite publishers, the want-to-read list, recently added
books, and each book's reading position for list items.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Row, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import BadRequest, NotFound
from ..extensions import db
from ..jobs.pool import run_cpu
from ..models import Book, Favorite, Library, Publisher, ReadingProgress, ToReadEntry, User, utcnow
from .access import book_by_path, visible_books, visible_library_ids
from .walker import COMIC_EXTENSIONS, IMAGE_EXTENSIONS
from .walker import _skip as hidden_from_scanner
from ..models.library import BOOK_MISSING

FOLDER_SORTS = ("alpha", "count", "year", "recent")
ISSUE_SORTS = ("alpha", "year", "recent")
RECENT_EXTENSIONS = (".cbz", ".cbr")
THUMBNAIL_STEMS = frozenset({"cover", "folder", "poster"})
FAVORITE_KINDS = ("publisher", "series", "folder", "book")


class InvalidPath(BadRequest):
    code = "invalid_path"


def _invalid(value: str) -> InvalidPath:
    return InvalidPath(f"Not a path inside the libraries: {value!r}", details={"received": value})


def has_parent_reference(value: str) -> bool:
    return ".." in value.replace("\\", "/").split("/")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _live() -> ColumnElement[bool]:
    """A book whose file the last scan found."""
    return Book.state != BOOK_MISSING


def _visible(query, user: User | None):
    """Restrict a SELECT over ``Book`` to present books of the user's libraries.

    A join, not ``library_id IN (...)``: SQLite then scans books in table
    order for a grouping (rather than row by row through the library index)
    and walks ``created_at`` newest first for the recent list.
    """
    return query.join(Library, Library.id == Book.library_id).where(
        visible_library_ids(user), _live())


def _in_tree(column, directory: str) -> ColumnElement[bool]:
    """``column`` is ``directory`` or a path below it, as an index range scan.

    PostgreSQL compares in byte order only under the "C" collation (a
    language collation would sort ``a/b`` after ``a0``); SQLite always does.
    """
    prefix = directory.rstrip(os.sep) + os.sep
    upper = prefix[:-1] + chr(ord(os.sep) + 1)
    ordered = column.collate("C") if db.engine.dialect.name == "postgresql" else column
    return or_(column == directory, and_(ordered >= prefix, ordered < upper))


# --- roots and path resolution -----------------------------------------------------


def visible_roots(user: User | None) -> list[str]:
    """Folders of the enabled libraries the user may see, by library name."""
    return list(db.session.execute(
        select(Library.path).where(visible_library_ids(user)).order_by(Library.name)).scalars())


def _root_of(path: str, roots: Sequence[str]) -> str | None:
    """The root holding ``path``, judged after symlinks are resolved."""
    for root in roots:
        if _inside(path, root) and _inside(os.path.realpath(path), os.path.realpath(root)):
            return root
    return None


def resolve_folders(user: User | None, parts: Sequence[str]) -> list[str]:
    """The existing folders that CLU's ``publisher``/``series``/``volume``
    parameters name, joined like ``os.path.join`` under every root.

    A name may match a folder in several libraries (all are returned, so
    same-named folders browse as one); an absolute path names one folder and
    must lie inside a root. ``..`` anywhere, or an absolute path outside the
    roots, is an ``InvalidPath``. A folder that does not exist is simply
    absent from the result.
    """
    for part in parts:
        if has_parent_reference(part) or "\x00" in part:
            raise _invalid(part)
    roots = visible_roots(user)
    candidates: list[str] = []
    for root in roots:
        candidate = os.path.normpath(os.path.join(root, *parts))
        if candidate not in candidates:
            candidates.append(candidate)
    inside = [c for c in candidates if any(_inside(c, root) for root in roots)]
    if not inside and any(os.path.isabs(part) for part in parts):
        raise _invalid(next(part for part in parts if os.path.isabs(part)))
    return [c for c in inside if _root_of(c, roots) is not None and os.path.isdir(c)]


# --- filesystem mode -----------------------------------------------------------------


@dataclass
class FolderEntry:
    """A listed folder with what the catalogue knows about the books below it."""

    name: str
    path: str
    count: int = 0
    year: int | None = None
    recent: datetime | None = None
    top_level: int = 0  # books directly inside
    subfolders_with_books: set[str] = field(default_factory=set)

    @property
    def volumes(self) -> list[str] | None:
        """CLU's rule: volume subfolders only when no comic sits at the top."""
        if self.top_level or not self.subfolders_with_books:
            return None
        return sorted(self.subfolders_with_books, key=lambda n: (n.casefold(), n))

    def add(self, rest: str, count: int, year: int | None, recent: datetime | None) -> None:
        self.count += count
        if year is not None and (self.year is None or year < self.year):
            self.year = year
        if recent is not None and (self.recent is None or recent > self.recent):
            self.recent = recent
        if rest:
            self.subfolders_with_books.add(rest.split(os.sep, 1)[0])
        else:
            self.top_level += count


def _subfolders(directory: str) -> list[tuple[str, str]]:
    """``(name, path)`` of the visible, non-symlink folders in ``directory``."""
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if hidden_from_scanner(entry.name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        found.append((entry.name, entry.path))
                except OSError:
                    continue
    except OSError:
        return []
    return found


def _folder_stats(user: User | None, directory: str) -> list[Row]:
    """``(folder, books, min year, newest)`` per catalogue folder below ``directory``."""
    return list(db.session.execute(
        _visible(select(Book.folder, func.count(Book.id), func.min(Book.year),
                        func.max(Book.created_at)), user)
        .where(_in_tree(Book.folder, directory)).group_by(Book.folder)))


def _book_paths_in(user: User | None, directories: Iterable[str]) -> set[str]:
    return set(db.session.execute(_visible(select(Book.path), user).where(
        Book.folder.in_(list(directories)))).scalars())


def list_folders(user: User | None, directories: Sequence[str], *, sort: str = "alpha",
                 search: str | None = None) -> list[FolderEntry]:
    """The subfolders of ``directories`` (publisher folders when these are the
    roots, series folders under a publisher), sorted; a subfolder that is
    itself a book (a folder of images) is an issue, not listed here."""
    entries: list[FolderEntry] = []
    for directory in directories:
        children = {path: FolderEntry(name, path)
                    for name, path in run_cpu(_subfolders, directory)}
        if search:
            needle = search.casefold()
            children = {p: e for p, e in children.items() if needle in e.name.casefold()}
        if not children:
            continue
        prefix = directory.rstrip(os.sep) + os.sep
        for folder, count, year, recent in _folder_stats(user, directory):
            if folder == directory:
                continue
            head, _, rest = folder[len(prefix):].partition(os.sep)
            entry = children.get(prefix + head)
            if entry is not None:
                entry.add(rest, count, year, recent)
        books = _book_paths_in(user, [directory])
        entries.extend(e for path, e in children.items() if path not in books)
    return sort_folders(entries, sort)


def sort_folders(entries: list[FolderEntry], sort: str) -> list[FolderEntry]:
    def alpha(e: FolderEntry) -> tuple:
        return e.name.casefold(), e.name, e.path

    entries.sort(key=alpha)
    if sort == "count":
        entries.sort(key=lambda e: -e.count)
    elif sort == "year":
        entries.sort(key=lambda e: (e.year is None, e.year or 0))
    elif sort == "recent":
        entries.sort(key=lambda e: e.recent or datetime.min, reverse=True)
    return entries


def has_thumbnail(directory: str) -> bool:
    """A folder image (cover.jpg, folder.png, poster.webp...) sits in the folder."""
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                stem, ext = os.path.splitext(entry.name)
                if stem.lower() in THUMBNAIL_STEMS and ext.lower() in IMAGE_EXTENSIONS:
                    return True
    except OSError:
        return False
    return False


def thumbnails(paths: Sequence[str]) -> dict[str, bool]:
    """``has_thumbnail`` for one page of folders, off the event loop."""
    return run_cpu(lambda: {path: has_thumbnail(path) for path in paths})


ISSUE_COLUMNS = (Book.id, Book.filename, Book.path, Book.size, Book.has_comicinfo,
                 Book.title, Book.series_name, Book.number, Book.year, Book.created_at)


def _entries_on_disk(directory: str) -> set[str]:
    """Paths of the comic files and folders in ``directory`` right now."""
    found = set()
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if hidden_from_scanner(entry.name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False) or (
                            entry.is_file()
                            and os.path.splitext(entry.name)[1].lower() in COMIC_EXTENSIONS):
                        found.add(entry.path)
                except OSError:
                    continue
    except OSError:
        return set()
    return found


def folder_issues(user: User | None, directories: Sequence[str], *,
                  sort: str = "alpha") -> list[Row]:
    """The books directly inside ``directories`` that are on disk now, sorted.

    A file the scanner has not indexed yet is left out: every item carries the
    id that cover and download need.
    """
    if not directories:
        return []
    on_disk = set().union(*(run_cpu(_entries_on_disk, d) for d in directories))
    rows = [row for row in db.session.execute(
        _visible(select(*ISSUE_COLUMNS), user).where(Book.folder.in_(directories)))
        if row.path in on_disk]
    rows.sort(key=lambda r: (r.filename.casefold(), r.filename, r.id))
    if sort == "year":
        rows.sort(key=lambda r: (r.year is None, r.year or 0))
    elif sort == "recent":
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return rows


# --- metadata mode -------------------------------------------------------------------


def _paged(query, page: int, page_size: int, *, grouped: bool = False,
           scalars: bool = False) -> tuple[list, int]:
    """One page of a SELECT and the total it pages through.

    A grouped query carries its total as a window count, so the grouping runs
    once (only a page past the end needs a separate count); a plain one is
    counted apart, which spares the count the page's sort.
    """
    if grouped:
        query = query.add_columns(func.count().over().label("total_rows"))
    rows = db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).all()
    if grouped and rows:
        total = rows[0].total_rows
    elif grouped and page == 1:
        total = 0
    else:
        total = db.session.execute(
            select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    return [row[0] for row in rows] if scalars else rows, total


def publisher_facets(user: User | None, *, sort: str, page: int,
                     page_size: int) -> tuple[list[Row], int]:
    """``(name, count, cover_path)`` per publisher of the visible books."""
    count = func.count(Book.id).label("count")
    query = _visible(select(Publisher.name, count, func.min(Book.path).label("cover_path"))
                     .select_from(Book).join(Publisher, Publisher.id == Book.publisher_id), user)
    query = query.group_by(Publisher.id, Publisher.name, Publisher.sort_name)
    order = [Publisher.sort_name, Publisher.name]
    query = query.order_by(count.desc(), *order) if sort == "count" else query.order_by(*order)
    return _paged(query, page, page_size, grouped=True)


def series_facets(user: User | None, *, publisher: str | None, search: str | None, sort: str,
                  page: int, page_size: int) -> tuple[list[Row], int]:
    """``(name, publisher, count, year, cover_path)`` per series name and publisher."""
    count = func.count(Book.id).label("count")
    year = func.min(Book.year).label("year")
    recent = func.max(Book.created_at)
    query = _visible(select(Book.series_name.label("name"), Publisher.name.label("publisher"),
                            count, year, func.min(Book.path).label("cover_path"))
                     .outerjoin(Publisher, Publisher.id == Book.publisher_id), user)
    query = query.where(Book.series_name.is_not(None)).group_by(Book.series_name, Publisher.name)
    if publisher:
        query = query.where(Publisher.name == publisher)
    if search:
        query = query.where(Book.series_name.icontains(search, autoescape=True))
    alpha = [func.lower(Book.series_name), Book.series_name, Publisher.name]
    order = {"count": [count.desc()], "year": [year.asc().nulls_last()],
             "recent": [recent.desc()]}.get(sort, [])
    return _paged(query.order_by(*order, *alpha), page, page_size, grouped=True)


def series_issues(user: User | None, *, series: str, publisher: str | None, sort: str,
                  page: int, page_size: int) -> tuple[list[Row], int]:
    """The books of one series name, in issue order for ``alpha``."""
    query = _visible(select(*ISSUE_COLUMNS, Publisher.name.label("publisher"))
                     .outerjoin(Publisher, Publisher.id == Book.publisher_id), user)
    query = query.where(Book.series_name == series)
    if publisher:
        query = query.where(Publisher.name == publisher)
    issue_order = [Book.number_sort.asc().nulls_last(), Book.filename, Book.id]
    order = {"year": [Book.year.asc().nulls_last()],
             "recent": [Book.created_at.desc(), Book.id.desc()]}.get(sort, [])
    return _paged(query.order_by(*order, *issue_order), page, page_size)


# --- reading positions for list items ------------------------------------------------


def last_pages(user_id: int, book_ids: Iterable[int | None]) -> dict[int, int]:
    """Book id → the user's page, for one page of list items."""
    ids = {i for i in book_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(ReadingProgress.book_id, ReadingProgress.page).where(
        ReadingProgress.user_id == user_id, ReadingProgress.book_id.in_(ids))).all())


# --- recently added --------------------------------------------------------------------


def recent_books(user: User | None, *, days: int, page: int,
                 page_size: int) -> tuple[list[Row], int]:
    """CBZ and CBR files first indexed in the last ``days`` days, newest first."""
    name = func.lower(Book.filename)
    query = (_visible(select(Book.id, Book.filename, Book.path, Book.size, Book.created_at), user)
             .where(Book.created_at >= utcnow() - timedelta(days=days),
                    or_(*(name.endswith(ext) for ext in RECENT_EXTENSIONS)))
             .order_by(Book.created_at.desc(), Book.id.desc()))
    return _paged(query, page, page_size)


# --- volumes of arbitrary folders (the want-to-read list) -----------------------------


def volumes_of(user: User | None, directories: Iterable[str]) -> dict[str, list[str]]:
    """Folder → its volume subfolders (CLU's rule), for the folders that have some.

    Only a series folder (two or more levels below its library root) can
    have volumes: a publisher folder's subfolders are series. One query: the
    catalogue folders below any of the series folders.
    """
    roots = visible_roots(user)
    wanted = sorted({d for d in directories if _depth(d, roots) >= 2})
    if not wanted:
        return {}
    entries = {d: FolderEntry(os.path.basename(d), d) for d in wanted}
    rows = db.session.execute(
        _visible(select(Book.folder, func.count(Book.id)), user)
        .where(or_(*(_in_tree(Book.folder, d) for d in wanted))).group_by(Book.folder))
    for folder, count in rows:
        for directory, entry in entries.items():
            if _inside(folder, directory):
                entry.add(folder[len(directory):].lstrip(os.sep), count, None, None)
    return {d: e.volumes for d, e in entries.items() if e.volumes}


def _depth(path: str, roots: Sequence[str]) -> int:
    """Levels below the library root holding ``path`` (-1 outside the roots)."""
    root = next((r for r in roots if _inside(path, r)), None)
    if root is None:
        return -1
    relative = os.path.relpath(path, root)
    return 0 if relative == "." else len(relative.split(os.sep))


# --- favourites and the want-to-read list --------------------------------------------


def _commit_idempotent() -> None:
    """Two identical requests racing: the second insert loses and that is fine."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def _folder_inside_libraries(user: User | None, path: str) -> str:
    """An absolute folder path inside a visible library, else 400/404."""
    if has_parent_reference(path) or "\x00" in path or not os.path.isabs(path):
        raise _invalid(path)
    path = os.path.normpath(path)
    roots = visible_roots(user)
    if not any(_inside(path, root) for root in roots):
        raise _invalid(path)
    if _root_of(path, roots) is None or not os.path.isdir(path):
        raise NotFound(f"No folder at {path!r}")
    return path


def publisher_folder(user: User | None, name: str) -> str | None:
    """The first library's top-level folder called ``name``, if any."""
    if has_parent_reference(name) or os.sep in name or "\x00" in name:
        return None
    return next((path for root in visible_roots(user)
                 if os.path.isdir(path := os.path.join(root, name))), None)


def favorite_publishers(user_id: int, *, page: int, page_size: int) -> tuple[list[Favorite], int]:
    query = (select(Favorite).where(Favorite.user_id == user_id, Favorite.kind == "publisher")
             .order_by(Favorite.created_at.desc(), Favorite.id.desc()))
    return _paged(query, page, page_size, scalars=True)


def _check_kind(kind: str, path: str | None, value: str | None) -> None:
    if kind not in FAVORITE_KINDS:
        raise BadRequest(f"type must be one of {', '.join(FAVORITE_KINDS)}", code="invalid_type")
    if not path and not value:
        raise BadRequest("Missing 'path' or 'value'", code="Missing 'path' or 'value'")


def favorite_key(user: User, kind: str, *, path: str | None,
                 value: str | None) -> tuple[str, str | None]:
    """``(value, path)`` a favourite is stored under.

    Folders and books are kept by their absolute path. Publishers and series
    are kept by name (the ``value`` a client echoes back as ``?publisher=``)
    with their folder: the one given, else for a publisher the library
    top-level folder of that name, if any.
    """
    _check_kind(kind, path, value)
    if kind == "book":
        book = book_by_path(user, path or value)
        return book.path, book.path
    if kind == "folder":
        folder = _folder_inside_libraries(user, path or value)
        return folder, folder
    if path:
        folder = _folder_inside_libraries(user, path)
        return value or os.path.basename(folder), folder
    return value, publisher_folder(user, value) if kind == "publisher" else None


def add_favorite(user: User, kind: str, *, path: str | None, value: str | None) -> Favorite:
    key, folder = favorite_key(user, kind, path=path, value=value)
    if len(key) > 1000:
        raise BadRequest("value is longer than 1000 characters")
    query = select(Favorite).where(Favorite.user_id == user.id, Favorite.kind == kind,
                                   Favorite.value == key)
    favorite = db.session.execute(query).scalar()
    if favorite is None:
        db.session.add(Favorite(user_id=user.id, kind=kind, value=key, path=folder,
                                created_at=utcnow()))
        _commit_idempotent()
        favorite = db.session.execute(query).scalar_one()
    return favorite


def remove_favorite(user: User, kind: str, *, path: str | None, value: str | None) -> None:
    """Forget a favourite, by the value or path it was added with; absent is fine."""
    _check_kind(kind, path, value)
    match = []
    if value:
        match.append(Favorite.value == value)
    if path:
        match.extend([Favorite.path == path, Favorite.path == os.path.normpath(path)])
    db.session.execute(delete(Favorite).where(Favorite.user_id == user.id, Favorite.kind == kind,
                                              or_(*match)))
    db.session.commit()


def to_read_entries(user: User, *, page: int,
                    page_size: int) -> tuple[list[tuple[ToReadEntry, int | None]], int]:
    """The user's want-to-read rows, newest first, each with the id of its book
    when that book is visible and present."""
    query = (select(ToReadEntry, Book.id)
             .outerjoin(Book, and_(Book.id == ToReadEntry.book_id, visible_books(user), _live()))
             .where(ToReadEntry.user_id == user.id)
             .order_by(ToReadEntry.created_at.desc(), ToReadEntry.id.desc()))
    return _paged(query, page, page_size)


def add_to_read(user: User, path: str) -> ToReadEntry:
    """Add a book (by its path) or a library folder; adding twice changes nothing."""
    if not path or has_parent_reference(path) or "\x00" in path:
        raise _invalid(path)
    try:
        book = book_by_path(user, path)
        kind, stored, book_id = "file", book.path, book.id
    except NotFound:
        kind, stored, book_id = "folder", _folder_inside_libraries(user, path), None
    query = select(ToReadEntry).where(ToReadEntry.user_id == user.id, ToReadEntry.path == stored)
    entry = db.session.execute(query).scalar()
    if entry is None:
        db.session.add(ToReadEntry(user_id=user.id, kind=kind, path=stored, book_id=book_id,
                                   created_at=utcnow()))
        _commit_idempotent()
        entry = db.session.execute(query).scalar_one()
    return entry


def remove_to_read(user: User, path: str) -> None:
    if not path:
        raise BadRequest("Missing 'path'", code="Missing 'path'")
    db.session.execute(delete(ToReadEntry).where(
        ToReadEntry.user_id == user.id,
        ToReadEntry.path.in_({path, os.path.normpath(path)})))
    db.session.commit()
