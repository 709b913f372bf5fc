"""Komga's JSON objects (its ``*Dto`` classes), built from our rows, and
marshmallow schemas of them for the OpenAPI document.

Field names and types are Komga's: string ids, ``metadata`` with a ``*Lock``
flag beside each field, dates as ISO 8601 UTC, ``releaseDate`` as a date.
Every field Mihon's Komga extension parses is always present (its
kotlinx.serialization classes fail on a missing non-null field).
"""
from __future__ import annotations

import mimetypes
import os
from typing import Any

from marshmallow import Schema, fields

from ..models import Book, Library, Page, ReadingProgress, Series, User
from . import catalog
from .common import stamp

MEDIA_TYPES = {"cbz": "application/zip", "cbr": "application/x-rar-compressed; version=4",
               "cb7": "application/x-7z-compressed", "cbt": "application/x-tar",
               "pdf": "application/pdf", "folder": "application/zip"}


def human_size(size: int | None) -> str:
    value = float(size or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def _date(year: int | None, month: int | None, day: int | None) -> str | None:
    if not year or not 1 <= year <= 9999:
        return None
    month = month if month and 1 <= month <= 12 else 1
    day = day if day and 1 <= day <= 28 else 1
    return f"{year:04d}-{month:02d}-{day:02d}"


def _authors(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "role": role} for name, role in pairs]


def library_dto(library: Library) -> dict[str, Any]:
    return {"id": str(library.id), "name": library.name, "root": library.path,
            "importComicInfoBook": True, "importComicInfoSeries": True,
            "importComicInfoCollection": True, "importComicInfoReadList": True,
            "importEpubBook": False, "importEpubSeries": False, "importMylarSeries": False,
            "importLocalArtwork": False, "importBarcodeIsbn": False,
            "scanForceModifiedTime": False, "scanDeep": False, "repairExtensions": False,
            "convertToCbz": False, "emptyTrashAfterScan": False,
            "seriesCover": "FIRST", "hashFiles": True, "hashPages": False,
            "analyzeDimensions": True, "oneshotsDirectory": None,
            "unavailable": not os.path.isdir(library.path)}


def series_dto(series: Series, page: catalog.SeriesPage) -> dict[str, Any]:
    f = page.figures.get(series.id) or catalog.SeriesFigures()
    created, modified = stamp(series.created_at), stamp(max(
        filter(None, (series.updated_at, f.updated)), default=None))
    summary = series.summary or ""
    return {
        "id": str(series.id),
        "libraryId": str(series.library_id),
        "name": series.name,
        "url": series.path or "",
        "created": created,
        "lastModified": modified,
        "fileLastModified": modified,
        "booksCount": f.books,
        "booksReadCount": f.read,
        "booksUnreadCount": max(0, f.books - f.read - f.in_progress),
        "booksInProgressCount": f.in_progress,
        "metadata": {
            "status": "ONGOING", "statusLock": False,
            "title": series.name, "titleLock": False,
            "titleSort": series.sort_name or series.name, "titleSortLock": False,
            "summary": summary, "summaryLock": False,
            "readingDirection": "", "readingDirectionLock": False,
            "publisher": page.publishers.get(series.publisher_id or 0, ""),
            "publisherLock": False,
            "ageRating": None, "ageRatingLock": False,
            "language": f.language or "", "languageLock": False,
            "genres": f.genres, "genresLock": False,
            "tags": f.tags, "tagsLock": False,
            "totalBookCount": None, "totalBookCountLock": False,
            "sharingLabels": [], "sharingLabelsLock": False,
            "links": [], "linksLock": False,
            "alternateTitles": [], "alternateTitlesLock": False,
            "created": created, "lastModified": modified,
        },
        "booksMetadata": {
            "authors": _authors(f.authors),
            "tags": sorted(set(f.tags) | set(f.genres)),
            "releaseDate": _date(f.year, None, None),
            "summary": summary,
            "summaryNumber": "",
            "created": created,
            "lastModified": modified,
        },
        "deleted": False,
        "oneshot": False,
    }


def progress_dto(progress: ReadingProgress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    return {"page": max(0, progress.page or 0), "completed": bool(progress.completed),
            "readDate": stamp(progress.updated_at), "created": stamp(progress.started_at),
            "lastModified": stamp(progress.updated_at),
            "deviceId": progress.device_id or "", "deviceName": progress.device_name or ""}


def book_name(book: Book) -> str:
    return os.path.splitext(book.filename)[0] if book.format != "folder" else book.filename


def book_dto(book: Book, books: catalog.Books) -> dict[str, Any]:
    created, modified = stamp(book.created_at), stamp(book.updated_at)
    number = book.number if book.number is not None else ""
    number_sort = book.number_sort if book.number_sort is not None else 0.0
    title = book.title or (f"{book.series_name} #{number}" if book.series_name and number
                           else book_name(book))
    return {
        "id": str(book.id),
        "seriesId": str(book.series_id or ""),
        "seriesTitle": books.series_titles.get(book.series_id or 0, book.series_name or ""),
        "libraryId": str(book.library_id),
        "name": book_name(book),
        "url": book.path,
        "number": int(number_sort) if abs(number_sort) < 2**31 else 0,
        "created": created,
        "lastModified": modified,
        "fileLastModified": stamp(book.scanned_at or book.updated_at),
        "sizeBytes": book.size or 0,
        "size": human_size(book.size),
        "media": {
            "status": "READY" if book.state == "ok" else "ERROR",
            "mediaType": MEDIA_TYPES.get(book.format or "", "application/octet-stream"),
            "mediaProfile": "PDF" if book.format == "pdf" else "DIVINA",
            "pagesCount": book.page_count or 0,
            "comment": book.error or "",
            "epubDivinaCompatible": False,
            "epubIsKepub": False,
        },
        "metadata": {
            "title": title, "titleLock": False,
            "summary": book.summary or "", "summaryLock": False,
            "number": str(number), "numberLock": False,
            "numberSort": number_sort, "numberSortLock": False,
            "releaseDate": _date(book.year, book.month, book.day), "releaseDateLock": False,
            "authors": _authors(books.credits.get(book.id, [])), "authorsLock": False,
            "tags": books.tags.get(book.id, []), "tagsLock": False,
            "isbn": "", "isbnLock": False,
            "links": [{"label": "Web", "url": book.web}] if book.web else [], "linksLock": False,
            "created": created, "lastModified": modified,
        },
        "readProgress": progress_dto(books.page.progress.get(book.id)),
        "deleted": False,
        "fileHash": book.arcid or "",
        "oneshot": False,
    }


def page_dto(page: Page, number: int) -> dict[str, Any]:
    media_type = page.media_type or mimetypes.guess_type(page.name)[0] or "image/jpeg"
    return {"number": number, "fileName": page.name, "mediaType": media_type,
            "width": page.width, "height": page.height, "sizeBytes": page.size,
            "size": human_size(page.size)}


def read_list_dto(row: catalog.ReadList) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "summary": row.summary, "ordered": True,
            "bookIds": [str(i) for i in row.book_ids], "createdDate": stamp(row.created),
            "lastModifiedDate": stamp(row.modified), "filtered": False}


def collection_dto(series_ids: list[int], created: Any, modified: Any) -> dict[str, Any]:
    return {"id": catalog.FAVORITES_ID, "name": "Favorites", "ordered": False,
            "seriesIds": [str(i) for i in series_ids], "createdDate": stamp(created),
            "lastModifiedDate": stamp(modified), "filtered": False}


def user_dto(user: User, permissions: frozenset[str]) -> dict[str, Any]:
    roles = ["USER", "FILE_DOWNLOAD", "PAGE_STREAMING"]
    if user.is_admin:
        roles.insert(0, "ADMIN")
    if "BooksWrite" in permissions:
        roles.append("KOREADER_SYNC")
    return {"id": str(user.id), "email": user.email or user.username, "roles": roles,
            "sharedAllLibraries": user.library_ids is None,
            "sharedLibrariesIds": [str(i) for i in user.library_ids or []],
            "labelsAllow": [], "labelsExclude": [], "ageRestriction": None}


# -- schemas: the OpenAPI document's picture of the above --------------------------


class KomgaAuthorSchema(Schema):
    name = fields.String()
    role = fields.String()


class KomgaLinkSchema(Schema):
    label = fields.String()
    url = fields.String()


class KomgaAlternateTitleSchema(Schema):
    label = fields.String()
    title = fields.String()


class KomgaLibrarySchema(Schema):
    id = fields.String()
    name = fields.String()
    root = fields.String()
    unavailable = fields.Boolean()
    # Komga's import and scan options, as comicsrv behaves (read-only here).
    importComicInfoBook = fields.Boolean()
    importComicInfoSeries = fields.Boolean()
    importComicInfoCollection = fields.Boolean()
    importComicInfoReadList = fields.Boolean()
    importEpubBook = fields.Boolean()
    importEpubSeries = fields.Boolean()
    importMylarSeries = fields.Boolean()
    importLocalArtwork = fields.Boolean()
    importBarcodeIsbn = fields.Boolean()
    scanForceModifiedTime = fields.Boolean()
    scanDeep = fields.Boolean()
    repairExtensions = fields.Boolean()
    convertToCbz = fields.Boolean()
    emptyTrashAfterScan = fields.Boolean()
    seriesCover = fields.String()
    hashFiles = fields.Boolean()
    hashPages = fields.Boolean()
    analyzeDimensions = fields.Boolean()
    oneshotsDirectory = fields.String(allow_none=True)


class KomgaSeriesMetadataSchema(Schema):
    status = fields.String()
    title = fields.String()
    titleSort = fields.String()
    summary = fields.String()
    readingDirection = fields.String()
    publisher = fields.String()
    ageRating = fields.Integer(allow_none=True)
    language = fields.String()
    genres = fields.List(fields.String())
    tags = fields.List(fields.String())
    totalBookCount = fields.Integer(allow_none=True)
    sharingLabels = fields.List(fields.String())
    links = fields.List(fields.Nested(KomgaLinkSchema))
    alternateTitles = fields.List(fields.Nested(KomgaAlternateTitleSchema))
    created = fields.String()
    lastModified = fields.String()
    # Komga's flags of fields the scan must not overwrite: none is locked here.
    statusLock = fields.Boolean()
    titleLock = fields.Boolean()
    titleSortLock = fields.Boolean()
    summaryLock = fields.Boolean()
    readingDirectionLock = fields.Boolean()
    publisherLock = fields.Boolean()
    ageRatingLock = fields.Boolean()
    languageLock = fields.Boolean()
    genresLock = fields.Boolean()
    tagsLock = fields.Boolean()
    totalBookCountLock = fields.Boolean()
    sharingLabelsLock = fields.Boolean()
    linksLock = fields.Boolean()
    alternateTitlesLock = fields.Boolean()



class KomgaBooksMetadataSchema(Schema):
    authors = fields.List(fields.Nested(KomgaAuthorSchema))
    tags = fields.List(fields.String())
    releaseDate = fields.String(allow_none=True)
    summary = fields.String()
    summaryNumber = fields.String()
    created = fields.String()
    lastModified = fields.String()


class KomgaSeriesSchema(Schema):
    id = fields.String()
    libraryId = fields.String()
    name = fields.String()
    url = fields.String()
    created = fields.String()
    lastModified = fields.String()
    fileLastModified = fields.String()
    booksCount = fields.Integer()
    booksReadCount = fields.Integer()
    booksUnreadCount = fields.Integer()
    booksInProgressCount = fields.Integer()
    metadata = fields.Nested(KomgaSeriesMetadataSchema)
    booksMetadata = fields.Nested(KomgaBooksMetadataSchema)
    deleted = fields.Boolean()
    oneshot = fields.Boolean()


class KomgaMediaSchema(Schema):
    status = fields.String()
    mediaType = fields.String()
    mediaProfile = fields.String()
    pagesCount = fields.Integer()
    comment = fields.String()
    epubDivinaCompatible = fields.Boolean()
    epubIsKepub = fields.Boolean()


class KomgaBookMetadataSchema(Schema):
    title = fields.String()
    summary = fields.String()
    number = fields.String()
    numberSort = fields.Float()
    releaseDate = fields.String(allow_none=True)
    authors = fields.List(fields.Nested(KomgaAuthorSchema))
    tags = fields.List(fields.String())
    isbn = fields.String()
    links = fields.List(fields.Nested(KomgaLinkSchema))
    created = fields.String()
    lastModified = fields.String()
    # Komga's flags of fields the scan must not overwrite: none is locked here.
    titleLock = fields.Boolean()
    summaryLock = fields.Boolean()
    numberLock = fields.Boolean()
    numberSortLock = fields.Boolean()
    releaseDateLock = fields.Boolean()
    authorsLock = fields.Boolean()
    tagsLock = fields.Boolean()
    isbnLock = fields.Boolean()
    linksLock = fields.Boolean()


class KomgaReadProgressSchema(Schema):
    page = fields.Integer()
    completed = fields.Boolean()
    readDate = fields.String()
    created = fields.String()
    lastModified = fields.String()
    deviceId = fields.String()
    deviceName = fields.String()


class KomgaBookSchema(Schema):
    id = fields.String()
    seriesId = fields.String()
    seriesTitle = fields.String()
    libraryId = fields.String()
    name = fields.String()
    url = fields.String()
    number = fields.Integer()
    created = fields.String()
    lastModified = fields.String()
    fileLastModified = fields.String()
    sizeBytes = fields.Integer()
    size = fields.String()
    media = fields.Nested(KomgaMediaSchema)
    metadata = fields.Nested(KomgaBookMetadataSchema)
    readProgress = fields.Nested(KomgaReadProgressSchema, allow_none=True)
    deleted = fields.Boolean()
    fileHash = fields.String()
    oneshot = fields.Boolean()


class KomgaPageSchema(Schema):
    number = fields.Integer()
    fileName = fields.String()
    mediaType = fields.String()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    sizeBytes = fields.Integer(allow_none=True)
    size = fields.String()


class KomgaReadListSchema(Schema):
    id = fields.String()
    name = fields.String()
    summary = fields.String()
    ordered = fields.Boolean()
    bookIds = fields.List(fields.String())
    createdDate = fields.String()
    lastModifiedDate = fields.String()
    filtered = fields.Boolean()


class KomgaCollectionSchema(Schema):
    id = fields.String()
    name = fields.String()
    ordered = fields.Boolean()
    seriesIds = fields.List(fields.String())
    createdDate = fields.String()
    lastModifiedDate = fields.String()
    filtered = fields.Boolean()


class KomgaUserSchema(Schema):
    id = fields.String()
    email = fields.String()
    roles = fields.List(fields.String())
    sharedAllLibraries = fields.Boolean()
    sharedLibrariesIds = fields.List(fields.String())
    # Komga's content restrictions; comicsrv has none, so always empty and null.
    labelsAllow = fields.List(fields.String())
    labelsExclude = fields.List(fields.String())
    ageRestriction = fields.Raw(allow_none=True, metadata={"type": "object", "nullable": True})


def page_schema(item: type[Schema]) -> type[Schema]:
    """Spring's ``Page<item>`` envelope."""
    return Schema.from_dict({
        "content": fields.List(fields.Nested(item)),
        "totalElements": fields.Integer(), "totalPages": fields.Integer(),
        "number": fields.Integer(), "size": fields.Integer(),
        "numberOfElements": fields.Integer(), "first": fields.Boolean(),
        "last": fields.Boolean(), "empty": fields.Boolean(), "pageable": fields.Dict(),
        "sort": fields.Dict(),
    }, name=f"KomgaPage{item.__name__.removesuffix('Schema').removeprefix('Komga')}")
