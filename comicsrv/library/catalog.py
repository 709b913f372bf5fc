"""Writing scan results into the catalogue in batches.

One transaction per batch of a few hundred files, and SQLAlchemy Core
statements (bulk inserts with RETURNING) rather than ORM objects: the ORM's
per-object bookkeeping would cost more than reading the archives. Publishers,
series and tags are cached for the whole scan so each is looked up once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable

from sqlalchemy import bindparam, delete, select

from ..events import BookCreated, BookUpdated, SeriesCreated
from ..extensions import db
from ..filenames import number_sort
from ..fspaths import display
from ..models import ArcidAlias, Book, BookTag, Page, Publisher, Series, Tag, utcnow
from .grouping import Placement, place, sort_name
from .metadata_edit import keep_locked, locked_namespaces
from .reader import ScannedFile
from ..models.library import BOOK_ERROR, BOOK_OK

# ComicMetadata list fields stored as namespaced tags (namespace, attribute).
TAG_FIELDS = (
    ("writer", "writer"), ("penciller", "penciller"), ("inker", "inker"),
    ("colorist", "colorist"), ("letterer", "letterer"), ("cover", "cover_artist"),
    ("editor", "editor"), ("translator", "translator"), ("genre", "genre"), ("", "tags"),
    ("character", "characters"), ("team", "teams"), ("location", "locations"),
    ("arc", "story_arc"), ("series_group", "series_group"),
)
SCALAR_TAGS = (("publisher", "publisher"), ("imprint", "imprint"), ("language", "language_iso"),
               ("format", "format"), ("age_rating", "age_rating"))


@dataclass
class ScanCounts:
    created: int = 0
    updated: int = 0
    moved: int = 0
    missing: int = 0
    errored: int = 0
    unchanged: int = 0
    series_created: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class Catalog:
    library_id: int
    root: str
    bus: object
    counts: ScanCounts = field(default_factory=ScanCounts)
    _publishers: dict[str, int] = field(default_factory=dict)
    _series: dict[tuple, int] = field(default_factory=dict)
    _tags: dict[tuple[str, str], int] = field(default_factory=dict)
    _renamed: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    # Where a batch's books go, worked out once by ``create_series``.
    _placements: dict[str, Placement] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for pid, name in db.session.execute(select(Publisher.id, Publisher.name)):
            self._publishers[name] = pid
        for sid, pid, name, volume, scanned_name, scanned_pid in db.session.execute(
                select(Series.id, Series.publisher_id, Series.name, Series.volume,
                       Series.scanned_name, Series.scanned_publisher_id)
                .where(Series.library_id == self.library_id)):
            if scanned_name is not None:
                # Renamed by a user: found under what the files say, shown
                # (and given to its books) under the user's name.
                self._series[(scanned_pid, scanned_name, volume)] = sid
                self._renamed[sid] = (name, pid)
            else:
                self._series[(pid, name, volume)] = sid

    # -- look-ups that create on first sight --------------------------------

    def publisher_id(self, name: str | None) -> int | None:
        if not name:
            return None
        if name not in self._publishers:
            table = Publisher.__table__
            self._publishers[name] = db.session.execute(
                table.insert().returning(table.c.id),
                [{"name": name, "sort_name": sort_name(name), "created_at": utcnow(),
                  "updated_at": utcnow()}]).scalar_one()
        return self._publishers[name]

    def create_series(self, items: Iterable[ScannedFile]) -> None:
        """Create the series these books need that the library lacks, in
        one statement: a series a round trip each was a fifth of a first
        scan's writing on PostgreSQL."""
        new: dict[tuple[int | None, str, int | None], dict] = {}
        for item in items:
            placement = place(item.path, self.root, item.metadata, item.parsed)
            self._placements[item.path] = placement
            publisher_id = self.publisher_id(display(placement.publisher))
            name = display(placement.series)
            key = (publisher_id, name, placement.volume)
            if key in self._series or key in new:
                continue
            new[key] = {"library_id": self.library_id, "publisher_id": publisher_id,
                        "name": name, "sort_name": sort_name(name), "volume": placement.volume,
                        "year": placement.year, "path": os.path.dirname(item.path.rstrip(os.sep))}
        if not new:
            return
        now = utcnow()
        table = Series.__table__
        # Matched by their key rather than asked back in parameter order,
        # which SQLAlchemy can only do on SQLite a statement per row.
        created = {(publisher_id, name, volume): series_id
                   for series_id, publisher_id, name, volume in db.session.execute(
                       table.insert().returning(table.c.id, table.c.publisher_id, table.c.name,
                                                table.c.volume),
                       [{**row, "created_at": now, "updated_at": now} for row in new.values()])}
        for key in new:
            self._series[key] = created[key]
            self.counts.series_created += 1
            self.bus.publish(SeriesCreated(series_id=created[key], library_id=self.library_id))

    def tag_ids(self, pairs: Iterable[tuple[str, str]]) -> list[int]:
        pairs = list(dict.fromkeys(pairs))
        missing = [p for p in pairs if p not in self._tags]
        if missing:
            found = db.session.execute(
                select(Tag.id, Tag.namespace, Tag.name).where(
                    Tag.name.in_({n for _, n in missing}))).all()
            for tid, ns, name in found:
                self._tags[(ns, name)] = tid
            new = [p for p in missing if p not in self._tags]
            if new:
                table = Tag.__table__
                rows = db.session.execute(
                    table.insert().returning(table.c.id, table.c.namespace, table.c.name,
                                             sort_by_parameter_order=True),
                    [{"namespace": ns, "name": name} for ns, name in new]).all()
                for tid, ns, name in rows:
                    self._tags[(ns, name)] = tid
        return [self._tags[p] for p in pairs]

    # -- rows ----------------------------------------------------------------

    def book_values(self, item: ScannedFile) -> dict:
        meta = item.metadata
        if item.path not in self._placements:
            self.create_series([item])
        placement = self._placements.pop(item.path)
        # Names taken from a file or folder name that is not UTF-8 are shown
        # with \xNN escapes (comicsrv.fspaths); only the path stays exact.
        publisher_id = self.publisher_id(display(placement.publisher))
        folder = os.path.dirname(item.path.rstrip(os.sep))
        series_id = self._series[(publisher_id, display(placement.series), placement.volume)]
        series_name = placement.series
        if series_id in self._renamed:
            series_name, publisher_id = self._renamed[series_id]
        parsed = item.parsed
        number = (meta.number if meta and meta.number else (parsed.number if parsed else None))
        now = utcnow()
        values = {
            "library_id": self.library_id, "series_id": series_id, "publisher_id": publisher_id,
            "path": item.path, "folder": folder,
            "filename": os.path.basename(item.path.rstrip(os.sep)),
            "size": item.size, "mtime": item.mtime, "format": item.format,
            "state": BOOK_ERROR if item.error else BOOK_OK, "error": item.error,
            "missing_since": None, "scanned_at": now, "updated_at": now,
            "page_count": len(item.pages),
            "page_spans": item.page_spans,
            "has_comicinfo": bool(meta and "comicinfo" in (meta.source or "").lower()),
            "metadata_source": (meta.source if meta else ("filename" if parsed else None)),
            "series_name": series_name, "number": number,
            "number_sort": number_sort(number) if number else None,
            "volume": placement.volume, "year": placement.year,
            "title": (meta.title if meta else None) or (parsed.title if parsed else None),
            "count": (meta.count if meta else None) or (parsed.issue_count if parsed else None),
            "month": meta.month if meta else None, "day": meta.day if meta else None,
            "summary": meta.summary if meta else None,
            "language": meta.language_iso if meta else None,
            "age_rating": meta.age_rating if meta else None,
            "manga": ("YesAndRightToLeft" if meta.right_to_left else "Yes") if meta and meta.manga
            else ("No" if meta and meta.manga is False else None),
            "web": (meta.web[0] if meta and meta.web else None),
            "extra": _extra(item),
        }
        for key, value in values.items():
            if isinstance(value, str) and key not in ("path", "folder"):
                values[key] = display(value)
        # None when the read could not hash the file: the hashing pass fills them in.
        values["arcid"] = item.arcid
        values["koreader_hash"] = item.koreader_hash
        return values

    def tag_pairs(self, item: ScannedFile) -> list[tuple[str, str]]:
        meta = item.metadata
        pairs: list[tuple[str, str]] = []
        if meta is not None:
            for namespace, attr in TAG_FIELDS:
                pairs.extend((namespace, v[:500]) for v in getattr(meta, attr) if v)
            for namespace, attr in SCALAR_TAGS:
                if value := getattr(meta, attr):
                    pairs.append((namespace, str(value)[:500]))
        if item.parsed and item.parsed.scan_group:
            pairs.append(("scan_group", display(item.parsed.scan_group)[:500]))
        return pairs

    def write_batch(self, new: list[ScannedFile], changed: list[tuple[int, ScannedFile]],
                    before_commit: Callable[[], None] | None = None,
                    ) -> list[tuple[int, ScannedFile]]:
        """Insert new books and rewrite changed ones, with pages and tags;
        return ``(book id, file)`` for every book written.

        A changed book whose new archive id is known and differs keeps its
        old one as an alias (when the scan's hashing pass fills the id in
        later, that pass records it).
        ``before_commit`` runs inside the transaction, last: a rewrite
        swaps the file in there, so readers never see the new file with the
        old rows or the other way round for longer than the commit takes.
        """
        created_ids: list[tuple[int, ScannedFile]] = []
        series_of: dict[int, int | None] = {}
        self.create_series([*new, *(item for _, item in changed)])
        if new:
            now = utcnow()
            values = []
            for item in new:
                row = self.book_values(item)
                row.update(created_at=now, is_new=True, cover_page=0)
                values.append(row)
            # One executemany, then the ids by path (unique). INSERT ...
            # RETURNING in parameter order makes SQLAlchemy send one statement
            # per row on SQLite, which was a third of the scan's main thread.
            db.session.execute(Book.__table__.insert(), values)
            ids = dict(db.session.execute(select(Book.path, Book.id).where(
                Book.path.in_([row["path"] for row in values]))).all())
            created_ids = [(ids[row["path"]], item) for row, item in zip(values, new)]
            series_of.update((ids[row["path"]], row["series_id"]) for row in values)
        if changed:
            table = Book.__table__
            changed_ids = [book_id for book_id, _ in changed]
            old_arcids = dict(db.session.execute(
                select(Book.id, Book.arcid).where(Book.id.in_(changed_ids))).all())
            rows = [{"book_id": book_id, **self.book_values(item)} for book_id, item in changed]
            keep_locked(rows)  # what a user edited and locked stays
            db.session.execute(table.update().where(table.c.id == bindparam("book_id")), rows)
            series_of.update((row["book_id"], row["series_id"]) for row in rows)
            db.session.execute(delete(Page).where(Page.book_id.in_(changed_ids)))
            db.session.execute(delete(BookTag).where(BookTag.book_id.in_(changed_ids),
                                                     BookTag.source == "metadata"))
            remember_arcids((old_arcids[book_id], book_id) for book_id, item in changed
                            if item.arcid and old_arcids.get(book_id) not in (None, item.arcid))
            forget_current_arcids(changed_ids)
        self._write_children(created_ids + changed)
        if before_commit is not None:
            before_commit()
        db.session.commit()
        for book_id, item in created_ids:
            self._count(item, created=True)
            self.bus.publish(BookCreated(book_id=book_id, series_id=series_of[book_id],
                                         library_id=self.library_id))
        for book_id, item in changed:
            self._count(item, created=False)
            self.bus.publish(BookUpdated(book_id=book_id, series_id=series_of[book_id],
                                         library_id=self.library_id))
        return created_ids + changed

    def _count(self, item: ScannedFile, created: bool) -> None:
        if item.error:
            self.counts.errored += 1
        if created:
            self.counts.created += 1
        else:
            self.counts.updated += 1

    def _write_children(self, books: list[tuple[int, ScannedFile]]) -> None:
        """Pages and tags of a batch: one tag look-up and one insert per table."""
        if not books:
            return
        user_tags = {(b, t) for b, t in db.session.execute(
            select(BookTag.book_id, BookTag.tag_id).where(
                BookTag.book_id.in_([b for b, _ in books]), BookTag.source == "user"))}
        locked = locked_namespaces(b for b, _ in books)
        pairs_by_book = [(book_id, [p for p in self.tag_pairs(item)
                                    if p[0] not in locked.get(book_id, ())])
                         for book_id, item in books]
        self.tag_ids(pair for _, pairs in pairs_by_book for pair in pairs)
        pages, tags = [], []
        for book_id, item in books:
            key = (book_id,)
            pages.extend([key + row for row in item.pages])
        for book_id, pairs in pairs_by_book:
            for tag_id in dict.fromkeys(self._tags[pair] for pair in pairs):
                if (book_id, tag_id) not in user_tags:
                    tags.append((book_id, tag_id, "metadata"))
        bulk_insert(Page.__table__, PAGE_COLUMNS, pages)
        bulk_insert(BookTag.__table__, ("book_id", "tag_id", "source"), tags)


# -- archive id aliases -------------------------------------------------------

def remember_arcids(pairs: Iterable[tuple[str, int]]) -> None:
    """Record ``(arcid, book id)`` aliases not recorded yet (no commit)."""
    pairs = set(pairs)
    if not pairs:
        return
    known = set(db.session.execute(select(ArcidAlias.arcid, ArcidAlias.book_id).where(
        ArcidAlias.book_id.in_({book_id for _, book_id in pairs}))).all())
    now = utcnow()
    rows = [{"arcid": arcid, "book_id": book_id, "created_at": now}
            for arcid, book_id in sorted(pairs - known)]
    if rows:
        db.session.execute(ArcidAlias.__table__.insert(), rows)


def forget_current_arcids(book_ids: Iterable[int] | None = None) -> None:
    """Drop aliases that are their book's own archive id again (a file whose
    old content came back, or whose new id turned out the same), for these
    books or all (no commit)."""
    current = select(Book.id).where(Book.id == ArcidAlias.book_id, Book.arcid == ArcidAlias.arcid)
    statement = delete(ArcidAlias).where(current.exists())
    if book_ids is not None:
        book_ids = list(book_ids)
        if not book_ids:
            return
        statement = statement.where(ArcidAlias.book_id.in_(book_ids))
    db.session.execute(statement, execution_options={"synchronize_session": False})


PAGE_COLUMNS = ("book_id", "index", "name", "size", "compressed_size", "data_offset",
                "width", "height", "media_type")


def bulk_insert(table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Plain tuples straight to the driver's executemany.

    For tens of thousands of page rows per batch, SQLAlchemy's per-row
    parameter processing costs more than SQLite's own insert work; these
    columns need no type conversion, so the driver gets them as they are.
    """
    if not rows:
        return
    connection = db.session.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = f"{quote(table.name)} ({', '.join(quote(c) for c in columns)})"
    if connection.dialect.name == "postgresql":
        # COPY, in the session's transaction: psycopg's executemany spends
        # ~15 us of Python on each row it pipelines (200,000 page rows at
        # 10,000 comics), COPY's row writer under 2.
        with connection.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f"COPY {names} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(f"INSERT INTO {names} VALUES ({', '.join([marker] * len(columns))})",
                               rows)


def _extra(item: ScannedFile) -> dict | None:
    extra = {}
    if item.error_reason:
        extra["error_reason"] = display(item.error_reason)
    if item.metadata_error:
        extra["metadata_error"] = display(item.metadata_error)[:1000]
    meta = item.metadata
    if meta is not None:
        if meta.identifiers:
            extra["identifiers"] = meta.identifiers
        if meta.story_arc_number:
            extra["story_arc_number"] = meta.story_arc_number
        if meta.warnings:
            extra["metadata_warnings"] = meta.warnings[:20]
    return extra or None
