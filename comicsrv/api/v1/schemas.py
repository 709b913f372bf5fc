"""Codex-shaped schemas for libraries, series, books, pages and per-book
progress, and the presenters that turn rows into them.

Shared by every ``/api/v1`` module that shows these resources. A presenter
takes a page of rows and answers dicts for it with a fixed, small number of
queries (one aggregate per kind of figure), never one query per row.
"""
from __future__ import annotations

import re
from functools import cache
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, Iterable, Mapping, Sequence

from flask import request
from marshmallow import Schema, ValidationError, fields, post_load, validate
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import load_only

from ... import images
from ...extensions import db
from ...fspaths import display
from ...library.filters import MAX_CONDITIONS
from ...library.libraries import SCAN_MODES, WATCH_MODES
from ...library.media import book_version
from ...models import Book, BookTag, Library, Publisher, ReadingProgress, Series, Tag
from ..fastdump import FastDumpSchema
from ..pagination import PageBodyArgs
from .security import SECURITY
from ...models.library import BOOK_ERROR, BOOK_MISSING

THUMBNAIL_EDGE = 400


# -- envelope ---------------------------------------------------------------------

_list_schemas: dict[str, type[Schema]] = {}


def list_schema(item: type[Schema]) -> type[Schema]:
    """The list envelope around ``item`` (one class per item schema, so the
    OpenAPI document names it once)."""
    name = item.__name__.removesuffix("Schema") + "ListSchema"
    if name not in _list_schemas:
        _list_schemas[name] = type(name, (FastDumpSchema,), {
            "items": fields.List(fields.Nested(item)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "page_size": fields.Integer(),
            "total_pages": fields.Integer(),
            "has_more": fields.Boolean(),
        })
    return _list_schemas[name]


# -- arguments ----------------------------------------------------------------------

class SortField(fields.String):
    """``field`` or ``field,direction`` (asc|desc) → ``(field, descending)``;
    the direction is None when not given, so an ``order`` argument may set it."""

    def __init__(self, choices: Sequence[str], **kwargs: Any):
        self.choices = tuple(choices)
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("description", f"field[,asc|desc]; fields: {', '.join(choices)}")
        # What _deserialize accepts, for the OpenAPI document.
        names = "|".join(re.escape(choice) for choice in self.choices)
        metadata.setdefault("pattern", rf"^\s*({names})\s*(,\s*([aA][sS][cC]|[dD][eE][sS][cC])?\s*)?$")
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        name, _, direction = text.strip().partition(",")
        name, direction = name.strip(), direction.strip().lower()
        if name not in self.choices:
            raise ValidationError(
                f"Unknown sort field {name!r}; use one of {', '.join(self.choices)}.")
        if direction not in ("", "asc", "desc"):
            raise ValidationError(f"Sort direction is asc or desc, not {direction!r}.")
        return name, (direction == "desc") if direction else None


def sorted_by(args: Mapping[str, Any], default: tuple[str, bool]) -> tuple[str, bool]:
    """The ``(field, descending)`` asked for by ``sort`` and ``order``."""
    name, descending = args.get("sort") or (default[0], None)
    if descending is None:
        order = args.get("order")
        descending = (order == "desc") if order else (default[1] if name == default[0] else False)
    return name, descending


class ThumbnailArgs(Schema):
    size = fields.Integer(load_default=THUMBNAIL_EDGE, metadata={
        "description": f"long edge in pixels, clamped to {images.MIN_EDGE}-{images.MAX_EDGE}"})

    @post_load
    def clamp(self, data: dict, **kwargs: Any) -> dict:
        data["size"] = max(images.MIN_EDGE, min(images.MAX_EDGE, data["size"]))
        return data


class ConditionListArgs(PageBodyArgs):
    """Body of ``POST /series/list`` and ``POST /books/list``: Codex's shape
    (``condition``, ``fullTextSearch``, ``sort``) with our paging."""

    condition = fields.Dict(load_default=None, allow_none=True, metadata={
        "description": "allOf/anyOf tree of {field: {operator, value}} conditions "
                       f"(operators is, isNot, isNull, isNotNull, contains, beginsWith; "
                       f"at most {MAX_CONDITIONS})"})
    fullTextSearch = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=200))


# -- libraries ---------------------------------------------------------------------

class ScanningConfigSchema(Schema):
    """Codex's scanning settings of a library."""

    enabled = fields.Boolean(metadata={"description": "scan on the cron schedule"})
    cron_schedule = fields.String(allow_none=True, validate=validate.Length(max=100))
    default_mode = fields.String(validate=validate.OneOf(SCAN_MODES))
    scan_on_start = fields.Boolean()


class LibrarySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    path = fields.String()
    enabled = fields.Boolean()
    scan_cron = fields.String(allow_none=True)
    scan_on_start = fields.Boolean()
    default_scan_mode = fields.String()
    watch_mode = fields.String(metadata={
        "description": "how the folder is watched for changes: auto (poll on network "
                       "shares, else inotify), native (inotify), poll, off"})
    scanning_config = fields.Nested(ScanningConfigSchema)
    book_count = fields.Integer()
    series_count = fields.Integer()
    last_scan_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class LibraryWriteSchema(Schema):
    """Flat fields, or Codex's ``scanning_config``; flat fields win."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    path = fields.String(validate=validate.Length(min=1, max=4096))
    enabled = fields.Boolean()
    scan_cron = fields.String(allow_none=True, validate=validate.Length(max=100))
    scan_on_start = fields.Boolean()
    default_scan_mode = fields.String(validate=validate.OneOf(SCAN_MODES))
    watch_mode = fields.String(validate=validate.OneOf(WATCH_MODES), metadata={
        "description": "auto (default), native, poll or off"})
    scanning_config = fields.Nested(ScanningConfigSchema)

    @post_load
    def flatten(self, data: dict, **kwargs: Any) -> dict:
        config = data.pop("scanning_config", None) or {}
        if "cron_schedule" in config or "enabled" in config:
            scheduled = config.get("enabled", True)
            data.setdefault("scan_cron", config.get("cron_schedule") if scheduled else None)
        if "default_mode" in config:
            data.setdefault("default_scan_mode", config["default_mode"])
        if "scan_on_start" in config:
            data.setdefault("scan_on_start", config["scan_on_start"])
        return data


class LibraryCreateSchema(LibraryWriteSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    path = fields.String(required=True, validate=validate.Length(min=1, max=4096))


def library_items(libraries: Sequence[Library]) -> list[dict]:
    """Libraries with their book and series counts (two grouped queries)."""
    ids = [library.id for library in libraries]
    books = dict(db.session.execute(
        select(Book.library_id, func.count())
        .where(Book.library_id.in_(ids), Book.state != BOOK_MISSING)
        .group_by(Book.library_id)).all()) if ids else {}
    series = dict(db.session.execute(
        select(Series.library_id, func.count()).where(Series.library_id.in_(ids))
        .group_by(Series.library_id)).all()) if ids else {}
    return [{
        "id": lib.id, "name": lib.name, "path": display(lib.path), "enabled": lib.enabled,
        "scan_cron": lib.scan_cron, "scan_on_start": lib.scan_on_start,
        "default_scan_mode": lib.default_scan_mode, "watch_mode": lib.watch_mode,
        "scanning_config": {"enabled": bool(lib.scan_cron), "cron_schedule": lib.scan_cron,
                            "default_mode": lib.default_scan_mode,
                            "scan_on_start": lib.scan_on_start},
        "book_count": books.get(lib.id, 0), "series_count": series.get(lib.id, 0),
        "last_scan_at": lib.last_scan_at, "created_at": lib.created_at,
        "updated_at": lib.updated_at,
    } for lib in libraries]


# -- progress ------------------------------------------------------------------------

class BookProgressSchema(FastDumpSchema):
    """A user's position in one book (Codex's field names; pages from 1)."""

    book_id = fields.Integer()
    current_page = fields.Integer()
    total_pages = fields.Integer(allow_none=True)
    is_completed = fields.Boolean()
    time_spent = fields.Integer(metadata={"description": "seconds"})
    started_at = fields.DateTime()
    updated_at = fields.DateTime()


class BookProgressWriteSchema(Schema):
    current_page = fields.Integer(required=True, validate=validate.Range(min=0, max=1_000_000))
    is_completed = fields.Boolean(load_default=None, allow_none=True)
    time_spent = fields.Integer(load_default=None, allow_none=True,
                                validate=validate.Range(min=0, max=86_400 * 7))


def progress_dict(progress: ReadingProgress | None) -> dict | None:
    if progress is None:
        return None
    return {"book_id": progress.book_id, "current_page": progress.page,
            "total_pages": progress.total_pages, "is_completed": bool(progress.completed),
            "time_spent": progress.time_spent or 0, "started_at": progress.started_at,
            "updated_at": progress.updated_at}


# -- books ---------------------------------------------------------------------------

BOOK_SORTS = {
    # A book without a ComicInfo title sorts by its file name among the
    # titled, ignoring case (as PostgreSQL's collations do and SQLite's does not).
    "title": lambda: func.lower(func.coalesce(Book.title, Book.filename)),
    "number": lambda: Book.number_sort,
    "file_size": lambda: Book.size,
    "page_count": lambda: Book.page_count,
    "created_at": lambda: Book.created_at,
    "modified_at": lambda: Book.mtime,
}


def book_order(name: str, descending: bool) -> list:
    """ORDER BY for a book sort, ending with the id so pages never overlap.
    Books without a number come last either way, on both databases."""
    key = BOOK_SORTS[name]()
    nulls_last = [Book.number_sort.is_(None)] if name == "number" else []
    if descending:
        return [*nulls_last, key.desc(), Book.id.desc()]
    return [*nulls_last, key.asc(), Book.id.asc()]


class BookSchema(FastDumpSchema):
    id = fields.Integer()
    arcid = fields.String(allow_none=True, metadata={"description": "LANraragi archive id"})
    library_id = fields.Integer()
    series_id = fields.Integer(allow_none=True)
    series_name = fields.String(allow_none=True)
    publisher_id = fields.Integer(allow_none=True)
    publisher = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    volume = fields.Integer(allow_none=True)
    year = fields.Integer(allow_none=True)
    month = fields.Integer(allow_none=True)
    day = fields.Integer(allow_none=True)
    language = fields.String(allow_none=True)
    filename = fields.String()
    path = fields.String()
    file_size = fields.Integer()
    format = fields.String(allow_none=True)
    page_count = fields.Integer()
    state = fields.String(metadata={"description": "ok or error"})
    has_error = fields.Boolean()
    error = fields.String(allow_none=True)
    is_new = fields.Boolean()
    version = fields.String(metadata={"description": "content version, for page URLs (?v=)"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    modified_at = fields.DateTime(metadata={"description": "the file's modification time"})
    progress = fields.Nested(BookProgressSchema, allow_none=True)


class BookMetadataSchema(Schema):
    summary = fields.String(allow_none=True)
    issue_count = fields.Integer(allow_none=True, metadata={"description": "ComicInfo Count"})
    age_rating = fields.String(allow_none=True)
    manga = fields.String(allow_none=True)
    web = fields.String(allow_none=True)
    has_comicinfo = fields.Boolean()
    source = fields.String(allow_none=True)
    identifiers = fields.Raw(allow_none=True)


class BookDetailSchema(BookSchema):
    metadata = fields.Nested(BookMetadataSchema)
    tags = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "tag names by namespace (writer, genre, character, ...); "
                       "tags without a namespace under \"tag\""})


def _mtime(value: float | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)


@cache
def _user_progress_query():
    # Built once, as _publisher_names_query is: every list page runs it.
    return select(ReadingProgress).where(
        ReadingProgress.user_id == bindparam("user_id"),
        ReadingProgress.book_id.in_(bindparam("ids", expanding=True)))


def user_progress(user_id: int, book_ids: Iterable[int]) -> dict[int, ReadingProgress]:
    ids = list(book_ids)
    if not ids:
        return {}
    rows = db.session.execute(_user_progress_query(), {"user_id": user_id, "ids": ids}).scalars()
    return {row.book_id: row for row in rows}


@cache
def _publisher_names_query():
    # Built once: a list page runs it on every request, and building the
    # statement and its cache key cost more than SQLite's answer.
    return select(Publisher.id, Publisher.name).where(
        Publisher.id.in_(bindparam("ids", expanding=True)))


def _publisher_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(_publisher_names_query(), {"ids": sorted(wanted)}).all())


def book_item(book: Book, publishers: Mapping[int, str],
              progress: Mapping[int, ReadingProgress]) -> dict:
    return {
        "id": book.id, "arcid": book.arcid, "library_id": book.library_id,
        "series_id": book.series_id, "series_name": book.series_name,
        "publisher_id": book.publisher_id, "publisher": publishers.get(book.publisher_id),
        "title": book.title, "number": book.number, "volume": book.volume, "year": book.year,
        "month": book.month, "day": book.day, "language": book.language,
        "filename": book.filename, "path": display(book.path), "file_size": book.size,
        "format": book.format, "page_count": book.page_count, "state": book.state,
        "has_error": book.state == BOOK_ERROR, "error": book.error, "is_new": bool(book.is_new),
        "version": book_version(book), "created_at": book.created_at,
        "updated_at": book.updated_at, "modified_at": _mtime(book.mtime),
        "progress": progress_dict(progress.get(book.id)),
    }


#: The columns ``book_item`` reads: a list query loads only these (a book
#: row has ninety, with the summary and the packed page offsets, and
#: fetching and populating them was a fifth of a books page).
BOOK_ITEM_COLUMNS = load_only(
    Book.id, Book.arcid, Book.library_id, Book.series_id, Book.series_name,
    Book.publisher_id, Book.title, Book.number, Book.volume, Book.year, Book.month,
    Book.day, Book.language, Book.filename, Book.path, Book.size, Book.format,
    Book.page_count, Book.state, Book.error, Book.is_new, Book.created_at, Book.updated_at,
    Book.mtime)


def book_items(books: Sequence[Book], user_id: int) -> list[dict]:
    """A page of books with publisher names and the caller's progress (two queries)."""
    publishers = _publisher_names(b.publisher_id for b in books)
    progress = user_progress(user_id, (b.id for b in books))
    return [book_item(book, publishers, progress) for book in books]


def book_detail(book: Book, user_id: int) -> dict:
    item = book_items([book], user_id)[0]
    extra = book.extra or {}
    item["metadata"] = {
        "summary": book.summary, "issue_count": book.count, "age_rating": book.age_rating,
        "manga": book.manga, "web": book.web, "has_comicinfo": bool(book.has_comicinfo),
        "source": book.metadata_source, "identifiers": extra.get("identifiers"),
    }
    tags: dict[str, list[str]] = defaultdict(list)
    rows = db.session.execute(
        select(Tag.namespace, Tag.name).join(BookTag, BookTag.tag_id == Tag.id)
        .where(BookTag.book_id == book.id).order_by(Tag.namespace, Tag.name))
    for namespace, name in rows:
        tags[namespace or "tag"].append(name)
    item["tags"] = dict(tags)
    return item


# -- series --------------------------------------------------------------------------

SERIES_SORTS = ("name", "date_added", "date_updated", "release_date", "date_read",
                "book_count", "file_size", "page_count")


class SeriesSchema(FastDumpSchema):
    id = fields.Integer()
    library_id = fields.Integer()
    name = fields.String()
    sort_name = fields.String()
    volume = fields.Integer(allow_none=True)
    year = fields.Integer(allow_none=True, metadata={"description": "release year"})
    publisher_id = fields.Integer(allow_none=True)
    publisher = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    path = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "ended once ComicInfo gives the issue "
                                                    "count, else ongoing"})
    issue_count = fields.Integer(allow_none=True)
    book_count = fields.Integer()
    page_count = fields.Integer()
    file_size = fields.Integer()
    read_count = fields.Integer(metadata={"description": "books the caller completed"})
    in_progress_count = fields.Integer()
    unread_count = fields.Integer()
    last_read_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime(metadata={"description": "the latest change to the series "
                                                          "or one of its books"})


def series_stats():
    """Per series figures over its present books, as a subquery to join for
    sorting (``book_count``, ``file_size``, ``page_count``, ``updated``,
    ``first_year``)."""
    return (select(Book.series_id.label("series_id"), func.count(Book.id).label("book_count"),
                   func.coalesce(func.sum(Book.size), 0).label("file_size"),
                   func.coalesce(func.sum(Book.page_count), 0).label("page_count"),
                   func.max(Book.updated_at).label("updated"),
                   func.min(Book.year).label("first_year"),
                   func.max(Book.count).label("issue_count"))
            .where(Book.state != BOOK_MISSING, Book.series_id.is_not(None))
            .group_by(Book.series_id))


def series_reading(user_id: int):
    """Per series figures of one user's reading: ``started`` (books with
    progress), ``completed``, ``last_read``."""
    return (select(Book.series_id.label("series_id"),
                   func.count(ReadingProgress.id).label("started"),
                   func.sum(case((ReadingProgress.completed.is_(True), 1), else_=0))
                   .label("completed"),
                   func.max(ReadingProgress.updated_at).label("last_read"))
            .join(ReadingProgress, ReadingProgress.book_id == Book.id)
            .where(ReadingProgress.user_id == user_id, Book.state != BOOK_MISSING,
                   Book.series_id.is_not(None))
            .group_by(Book.series_id))


@cache
def _page_figures_queries():
    """``series_stats`` and ``series_reading`` of some series, built once
    (parameters ``ids`` and ``user_id``): see ``_publisher_names_query``."""
    ids = Book.series_id.in_(bindparam("ids", expanding=True))
    return series_stats().where(ids), series_reading(bindparam("user_id")).where(ids)


def series_items(series: Sequence[Series], user_id: int) -> list[dict]:
    """A page of series with their figures (three grouped queries)."""
    ids = [s.id for s in series]
    if not ids:
        return []
    stats_query, reading_query = _page_figures_queries()
    params = {"ids": ids, "user_id": user_id}
    stats = {row.series_id: row for row in db.session.execute(stats_query, params)}
    reading = {row.series_id: row for row in db.session.execute(reading_query, params)}
    publishers = _publisher_names(s.publisher_id for s in series)
    items = []
    for s in series:
        stat, read = stats.get(s.id), reading.get(s.id)
        book_count = stat.book_count if stat else 0
        completed = int(read.completed or 0) if read else 0
        started = int(read.started or 0) if read else 0
        updated = max(filter(None, (s.updated_at, stat.updated if stat else None)))
        items.append({
            "id": s.id, "library_id": s.library_id, "name": s.name, "sort_name": s.sort_name,
            "volume": s.volume, "year": s.year or (stat.first_year if stat else None),
            "publisher_id": s.publisher_id, "publisher": publishers.get(s.publisher_id),
            "summary": s.summary, "path": display(s.path),
            "status": "ended" if stat is not None and stat.issue_count is not None else "ongoing",
            "issue_count": stat.issue_count if stat else None,
            "book_count": book_count, "page_count": int(stat.page_count) if stat else 0,
            "file_size": int(stat.file_size) if stat else 0,
            "read_count": completed, "in_progress_count": started - completed,
            "unread_count": max(0, book_count - started),
            "last_read_at": read.last_read if read else None,
            "created_at": s.created_at, "updated_at": updated,
        })
    return items


# -- pages ---------------------------------------------------------------------------

class PageSchema(Schema):
    index = fields.Integer(metadata={"description": "0-based position"})
    number = fields.Integer(metadata={"description": "1-based page number, as in page URLs"})
    name = fields.String(metadata={"description": "the entry's name in the archive"})
    width = fields.Integer(allow_none=True, metadata={"description": "known once analyzed"})
    height = fields.Integer(allow_none=True)
    media_type = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True, metadata={"description": "bytes"})
    url = fields.String(metadata={"description": "the page image, cacheable for good"})


class PageImageArgs(Schema):
    width = fields.Integer(validate=validate.Range(min=1, max=100_000),
                           metadata={"description": "maximum width (never upscaled)"})
    height = fields.Integer(validate=validate.Range(min=1, max=100_000),
                            metadata={"description": "maximum height (never upscaled)"})
    format = fields.String(validate=validate.OneOf(sorted(images.OUTPUT_FORMATS)))
    v = fields.String(validate=validate.Length(max=64), metadata={
        "description": "the book's content version (`version`): when it matches, the "
                       "response may be cached for good"})


def page_url(book: Book, number: int) -> str:
    return f"{request.script_root}/api/v1/books/{book.id}/pages/{number}?v={book_version(book)}"


__all__ = [
    "BOOK_SORTS", "BookDetailSchema", "BookSchema", "ConditionListArgs",
    "LibraryCreateSchema", "LibrarySchema", "LibraryWriteSchema",
    "PageImageArgs", "PageSchema", "BookProgressSchema", "BookProgressWriteSchema", "SECURITY",
    "SERIES_SORTS", "SeriesSchema", "SortField", "ThumbnailArgs", "book_detail", "book_item",
    "book_items", "book_order", "book_version", "library_items", "list_schema", "page_url",
    "progress_dict", "series_items", "series_reading", "series_stats", "sorted_by",
    "user_progress",
]
