"""The library aggregate: libraries, publishers, series, books, pages, tags.

A book is one comic file on disk. It has an integer ``id`` (what CLU and Codex
clients use) and an ``arcid``: LANraragi's archive id, the SHA-1 of the file's
first 512,000 bytes, which is stable across moves and renames and lets a scan
recognise a moved file and keep its reading progress. A file rewritten in
place (ComicInfo.xml written, converted, changed on disk) gets a new arcid;
the old one stays an :class:`ArcidAlias` of the book.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
    Text, TypeDecorator, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..fspaths import from_storage, to_storage
from .base import TimestampMixin, utcnow


class FsPath(TypeDecorator):
    """A file system path, valid UTF-8 or not: Python sees the path the OS
    gave (``surrogateescape``), the database a text it accepts
    (``comicsrv.fspaths``). Ordinary paths are stored unchanged, so the
    column is a plain VARCHAR and comparisons, ranges and indexes work as
    before."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return to_storage(value)

    def process_result_value(self, value, dialect):
        return from_storage(value)


PATH = FsPath(4096)


class Library(TimestampMixin, db.Model):
    __tablename__ = "libraries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(PATH)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Five-field cron expression; None means "only on demand / on start".
    scan_cron: Mapped[str | None] = mapped_column(String(100))
    scan_on_start: Mapped[bool] = mapped_column(Boolean, default=True)
    default_scan_mode: Mapped[str] = mapped_column(String(16), default="normal")
    # How the folder is watched for changes (comicsrv.library.watcher):
    # auto, native (inotify), poll (network shares) or off.
    watch_mode: Mapped[str] = mapped_column(String(16), default="auto", server_default="auto")
    last_scan_at: Mapped[datetime | None] = mapped_column(DateTime)

    series: Mapped[list[Series]] = relationship(back_populates="library", passive_deletes=True)


class Publisher(TimestampMixin, db.Model):
    __tablename__ = "publishers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500), unique=True)
    sort_name: Mapped[str] = mapped_column(String(500), index=True)


class Series(TimestampMixin, db.Model):
    """A series as the scanner groups it: by metadata, else by folder."""

    __tablename__ = "series"
    __table_args__ = (
        UniqueConstraint("library_id", "publisher_id", "name", "volume"),
        Index("ix_series_library_sort", "library_id", "sort_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("publishers.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(500))
    sort_name: Mapped[str] = mapped_column(String(500), index=True)
    volume: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    # The folder that holds the series, when it has one of its own.
    path: Mapped[str | None] = mapped_column(PATH)
    summary: Mapped[str | None] = mapped_column(Text)
    # Fields a user edited and the scanner must not change (Komga's and
    # Codex's locks): {"summary": true, ...}.
    locked_fields: Mapped[dict | None] = mapped_column(JSON)
    # The name and publisher the scanner groups books under, kept when a
    # user renamed the series, so the next scan finds it again.
    scanned_name: Mapped[str | None] = mapped_column(String(500))
    scanned_publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("publishers.id", ondelete="SET NULL"))

    library: Mapped[Library] = relationship(back_populates="series")
    publisher: Mapped[Publisher | None] = relationship(foreign_keys="Series.publisher_id")
    books: Mapped[list[Book]] = relationship(back_populates="series", passive_deletes=True)


#: A book's ``state``: readable; its file gone (kept for its progress, until
#: a scan finds it again or it is purged); its file unreadable (``error``
#: says why).
BOOK_OK = "ok"
BOOK_MISSING = "missing"
BOOK_ERROR = "error"
BOOK_STATES = (BOOK_OK, BOOK_MISSING, BOOK_ERROR)


class Book(TimestampMixin, db.Model):
    __tablename__ = "books"
    __table_args__ = (
        Index("ix_books_series_number", "series_id", "number_sort"),
        Index("ix_books_library_state", "library_id", "state"),
        # The default (title) and number sorts read a page straight from an
        # index: ORDER BY columns, the ``id`` tie-break, then what the WHERE
        # reads (library scope, state). bench/bench_api_books.py, 100k books:
        # page 1 by title 48 -> 10 ms. Other sorts have none on purpose: each
        # index cost the scanner ~5% of its throughput (bench/bench_scan.py).
        Index("ix_books_title_sort", text("lower(coalesce(title, filename))"), "id",
              "library_id", "state"),
        Index("ix_books_number_sort", text("(number_sort IS NULL)"), "number_sort", "id",
              "library_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    arcid: Mapped[str | None] = mapped_column(String(40), index=True)
    # KOReader's partial MD5 of the file (``library.reader.compute_koreader_hash``):
    # the document id its progress sync sends, hashed in the scan like the arcid.
    koreader_hash: Mapped[str | None] = mapped_column(String(32), index=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("libraries.id", ondelete="CASCADE"))
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="SET NULL"), index=True
    )
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("publishers.id", ondelete="SET NULL"), index=True
    )

    # Where the file is and what the scanner last saw: an unchanged size and
    # mtime means the file is skipped without being opened.
    path: Mapped[str] = mapped_column(PATH, unique=True)
    folder: Mapped[str] = mapped_column(PATH, index=True)
    filename: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime: Mapped[float] = mapped_column(Float, default=0.0)
    format: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=BOOK_OK, index=True)  # BOOK_STATES
    error: Mapped[str | None] = mapped_column(String(2000))
    missing_since: Mapped[datetime | None] = mapped_column(DateTime)
    scanned_at: Mapped[datetime | None] = mapped_column(DateTime)

    page_count: Mapped[int] = mapped_column(Integer, default=0)
    cover_page: Mapped[int] = mapped_column(Integer, default=0)
    # Byte ranges of the stored pages (``comicsrv.library.spans``): what a
    # page request reads instead of the page rows. Deferred: lists never
    # need it.
    page_spans: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # LANraragi's "new" flag: set on index, cleared when first opened.
    is_new: Mapped[bool] = mapped_column(Boolean, default=True)

    # ComicInfo (or filename-derived) fields the APIs sort and filter on;
    # credits, genres, characters and the like are tags.
    has_comicinfo: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_source: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(1000))
    # The title a LANraragi client set (PUT metadata, upload), read back
    # exactly as sent; None: the computed display title.
    lrr_title: Mapped[str | None] = mapped_column(String(1000))
    series_name: Mapped[str | None] = mapped_column(String(500), index=True)
    number: Mapped[str | None] = mapped_column(String(32))
    number_sort: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int | None] = mapped_column(Integer)
    volume: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    month: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    age_rating: Mapped[str | None] = mapped_column(String(64))
    manga: Mapped[str | None] = mapped_column(String(32))
    web: Mapped[str | None] = mapped_column(String(2000))
    extra: Mapped[dict | None] = mapped_column(JSON)
    # Fields (and tag namespaces, as "tags.writer") a user edited, which a
    # rescan keeps: {"title": true, "tags.genre": true}.
    locked_fields: Mapped[dict | None] = mapped_column(JSON)

    library: Mapped[Library] = relationship()
    series: Mapped[Series | None] = relationship(back_populates="books")
    publisher: Mapped[Publisher | None] = relationship()
    pages: Mapped[list[Page]] = relationship(
        order_by="Page.index", passive_deletes=True, cascade="all, delete-orphan"
    )
    tags: Mapped[list[BookTag]] = relationship(passive_deletes=True, cascade="all, delete-orphan")


Index("ix_books_created_at", Book.created_at)


class ArcidAlias(db.Model):
    """An archive id that still names a book although its file no longer
    has it: the id the file had before it was rewritten in place, which
    LANraragi clients have cached (LANraragi itself never changes an id).
    Post-processing also names here the id of a copy it made of a library
    book (converted or tagged) until that copy is indexed as the book.

    Looked up only when no book has the arcid itself, so a file whose
    content comes back answers as itself.
    """

    __tablename__ = "arcid_aliases"

    arcid: Mapped[str] = mapped_column(String(40), primary_key=True)
    book_id: Mapped[int] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Page(db.Model):
    """One image of a book, in reading order."""

    __tablename__ = "pages"

    book_id: Mapped[int] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(2048))
    size: Mapped[int | None] = mapped_column(BigInteger)
    compressed_size: Mapped[int | None] = mapped_column(BigInteger)
    # Offset of a stored (uncompressed) zip entry's bytes in the file: the
    # page is then served as a byte range, with no decompression.
    data_offset: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(64))


class Tag(db.Model):
    """A namespaced tag, LANraragi style: ``writer:Alan Moore``, ``genre:Horror``."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(500), index=True)


class BookTag(db.Model):
    __tablename__ = "book_tags"

    book_id: Mapped[int] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # metadata: from the file, replaced on rescan; user: edited through an API,
    # kept across rescans.
    source: Mapped[str] = mapped_column(String(16), default="metadata")

    tag: Mapped[Tag] = relationship(lazy="joined")


class DuplicateGroup(TimestampMixin, db.Model):
    """Books that look like copies of each other (Codex's duplicates).

    ``kind`` is "content" (same archive id and size: the same file twice) or
    "metadata" (same series, number and year: two releases of one issue).
    A dismissed group stays dismissed across rescans while its key matches.
    """

    __tablename__ = "duplicate_groups"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(1000))
    dismissed: Mapped[bool] = mapped_column(Boolean, default=False)

    members: Mapped[list[DuplicateMember]] = relationship(
        passive_deletes=True, cascade="all, delete-orphan")


class DuplicateMember(db.Model):
    __tablename__ = "duplicate_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("duplicate_groups.id", ondelete="CASCADE"), primary_key=True)
    book_id: Mapped[int] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), primary_key=True, index=True)
