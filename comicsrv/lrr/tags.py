"""Books' metadata as LANraragi namespaced tags, and tag edits back into it.

LANraragi keeps one comma-separated string per archive
(``series:Saga, artist:Fiona Staples, genre:Science Fiction, date_added:1700000000``).
comicsrv keeps tags as rows (``Tag``/``BookTag``, from ComicInfo or edited by
users) plus catalogue columns. The string is built from both:

- every stored tag, with the ComicInfo art credits (penciller, inker, cover)
  shown as LANraragi's ``artist:``;
- tags derived from columns: ``series:`` (the series name), ``source:`` (the
  ComicInfo web link), ``timestamp:`` (the publication date, unix seconds)
  and ``date_added:`` (when the book was first indexed, unix seconds).

Editing the string through the API stores user tags (kept across rescans),
so every surface sees the edit. Derived tags are computed, not stored: an
edit cannot change them and leaves them out of the comparison.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Book, BookTag, Tag

# Stored namespaces LANraragi clients know under another name.
ARTIST = "artist"
ARTIST_NAMESPACES = ("penciller", "inker", "cover")
LRR_NAMESPACE = {namespace: ARTIST for namespace in ARTIST_NAMESPACES}

SERIES, SOURCE, TIMESTAMP, DATE_ADDED = "series", "source", "timestamp", "date_added"
DERIVED_NAMESPACES = frozenset({SERIES, SOURCE, TIMESTAMP, DATE_ADDED})
# Order of namespaces in the string: what a reader looks for first, then the
# rest of the credits and story facts, then machine-ish facts. Namespaces not
# listed (users invent their own) come after, alphabetically.
NAMESPACE_ORDER = (
    SERIES, ARTIST, "writer", "colorist", "letterer", "editor", "translator", "genre", "",
    "character", "team", "location", "arc", "series_group", "publisher", "imprint", "format",
    "age_rating", "language", "scan_group",
)
TRAILING = (SOURCE, TIMESTAMP, DATE_ADDED)
# Namespaces the filename parser (not a person) fills in: a book with only
# these counts as untagged, as LANraragi's autotagged archives do.
AUTOMATIC_NAMESPACES = ("scan_group",)

MAX_NAMESPACE = 64
MAX_NAME = 500


def lrr_namespace(stored: str) -> str:
    return LRR_NAMESPACE.get(stored, stored)


def stored_namespaces(namespace: str) -> list[str]:
    """The stored namespaces a LANraragi namespace covers."""
    if namespace == ARTIST:
        return [ARTIST, *ARTIST_NAMESPACES]
    return [namespace]


def epoch(moment: datetime | None) -> int:
    """Unix seconds of a naive UTC datetime (how every row stores time)."""
    return calendar.timegm(moment.timetuple()) if moment is not None else 0


def publication_epoch(book: Book) -> int | None:
    if not book.year or not 1 <= book.year <= 9999:
        return None
    month = book.month if book.month and 1 <= book.month <= 12 else 1
    day = book.day if book.day and 1 <= book.day <= calendar.monthrange(book.year, month)[1] else 1
    return calendar.timegm((book.year, month, day, 0, 0, 0))


@dataclass(frozen=True, slots=True)
class LrrTag:
    namespace: str
    name: str

    @property
    def text(self) -> str:
        return f"{self.namespace}:{self.name}" if self.namespace else self.name

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace.casefold(), self.name.casefold()


def derived_tags(book: Book) -> tuple[list[LrrTag], list[LrrTag]]:
    """Tags computed from catalogue columns: (leading, trailing)."""
    leading = [LrrTag(SERIES, book.series_name)] if book.series_name else []
    trailing = []
    if book.web:
        trailing.append(LrrTag(SOURCE, book.web))
    published = publication_epoch(book)
    if published is not None:
        trailing.append(LrrTag(TIMESTAMP, str(published)))
    trailing.append(LrrTag(DATE_ADDED, str(epoch(book.created_at))))
    return leading, trailing


def stored_tags(book_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """``{book id: [(stored namespace, name), ...]}`` in one query per 500 books."""
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for start in range(0, len(book_ids), 500):
        chunk = book_ids[start:start + 500]
        rows = db.session.execute(
            select(BookTag.book_id, Tag.namespace, Tag.name).join(Tag, Tag.id == BookTag.tag_id)
            .where(BookTag.book_id.in_(chunk)))
        for book_id, namespace, name in rows:
            found[book_id].append((namespace, name))
    for tags in found.values():
        tags.sort()
    return found


_RANK = {namespace: index for index, namespace in enumerate(NAMESPACE_ORDER)}


def _namespace_rank(namespace: str) -> tuple[int, str]:
    rank = _RANK.get(namespace)
    return (rank, "") if rank is not None else (len(NAMESPACE_ORDER), namespace)


def book_tag_string(book: Book, stored: Iterable[tuple[str, str]]) -> str:
    """A book's LANraragi tag string, each tag once (whatever its case).

    Plain string work on purpose: ``GET /api/archives`` builds one of these
    per book of the library.
    """
    leading, trailing = derived_tags(book)
    groups: dict[str, list[str]] = defaultdict(list)
    for namespace, name in stored:
        namespace = LRR_NAMESPACE.get(namespace, namespace)
        if namespace not in DERIVED_NAMESPACES:  # those come from the columns
            groups[namespace].append(f"{namespace}:{name}" if namespace else name)
    texts = [tag.text for tag in leading]
    for namespace in sorted(groups, key=_namespace_rank):
        texts.extend(groups[namespace])
    texts.extend(tag.text for tag in trailing)
    seen: set[str] = set()
    unique = []
    for text in texts:
        key = text.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(text)
    return ", ".join(unique)


def parse_tags(text: str | None) -> list[LrrTag]:
    """A LANraragi tag string as tags: split on commas, trimmed, duplicates
    dropped (first one kept). ``ns:value`` splits at the first colon and the
    namespace is lower-cased, as LANraragi indexes it."""
    tags: list[LrrTag] = []
    seen: set[tuple[str, str]] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        namespace, sep, name = part.partition(":")
        namespace, name = namespace.strip().lower(), name.strip()
        if not sep or not namespace or not name or len(namespace) > MAX_NAMESPACE:
            namespace, name = "", part
        tag = LrrTag(namespace, name[:MAX_NAME])
        if tag.key not in seen:
            seen.add(tag.key)
            tags.append(tag)
    return tags


def add_book_tags(book: Book, text: str | None) -> None:
    """Add the tags ``text`` lists to a book's, as user tags (an upload's
    tags join the file's own). The caller commits."""
    have = {LrrTag(lrr_namespace(ns), name).key for ns, name in stored_tags([book.id]).get(book.id, ())}
    for tag in parse_tags(text):
        if tag.namespace not in DERIVED_NAMESPACES and tag.key not in have:
            db.session.add(BookTag(book_id=book.id, tag_id=tag_id_for(tag.namespace, tag.name),
                                   source="user"))
            have.add(tag.key)


def set_book_tags(book: Book, text: str | None) -> None:
    """Make a book's stored tags what ``text`` lists (LANraragi's overwrite).

    Tags already there stay as they are (matched without regard to case, an
    art credit matching ``artist:``); new ones are stored as user tags, which
    rescans keep; the others are removed. Derived namespaces are skipped.
    The caller commits.
    """
    wanted = [tag for tag in parse_tags(text) if tag.namespace not in DERIVED_NAMESPACES]
    wanted_keys = {tag.key for tag in wanted}
    current = db.session.execute(
        select(BookTag.tag_id, Tag.namespace, Tag.name).join(Tag, Tag.id == BookTag.tag_id)
        .where(BookTag.book_id == book.id)).all()
    kept: set[tuple[str, str]] = set()
    removed: list[int] = []
    for tag_id, namespace, name in current:
        key = LrrTag(lrr_namespace(namespace), name).key
        if key in wanted_keys and namespace not in DERIVED_NAMESPACES:
            kept.add(key)
        else:
            removed.append(tag_id)
    if removed:
        db.session.execute(delete(BookTag).where(BookTag.book_id == book.id,
                                                 BookTag.tag_id.in_(removed)))
    for tag in wanted:
        if tag.key not in kept:
            db.session.add(BookTag(book_id=book.id, tag_id=tag_id_for(tag.namespace, tag.name),
                                   source="user"))
            kept.add(tag.key)


def tag_id_for(namespace: str, name: str) -> int:
    """The id of a tag, created on first use (safe against a concurrent
    insert). A tag that differs only in case is that tag: "Space Opera"
    typed by a user joins the "space opera" the catalogue already has."""
    query = select(Tag.id).where(Tag.namespace == namespace, Tag.name == name)
    tag_id = db.session.execute(query).scalar() or db.session.execute(
        select(Tag.id).where(Tag.namespace == namespace, func.lower(Tag.name) == name.lower())
        .order_by(Tag.id).limit(1)).scalar()
    if tag_id is not None:
        return tag_id
    try:
        with db.session.begin_nested():
            tag = Tag(namespace=namespace, name=name)
            db.session.add(tag)
        return tag.id
    except IntegrityError:
        return db.session.execute(query).scalar_one()
