"""LANraragi's search syntax, run as SQL over the catalogue.

A filter is a comma-separated list of terms (LANraragi ≥ 0.8):

- ``"exact phrase"`` or ``term$``: an exact tag (``artist:wally wood$``);
  a quoted term may contain commas;
- ``-term``: exclude what matches;
- ``*``/``%`` match any run of characters, ``?``/``_`` any one character;
- ``namespace:value`` matches tags of that namespace starting with the value;
  a term without a namespace matches anywhere in any tag or in the title;
- ``pages:>20``, ``read:<=3`` (also ``<``, ``>=``, none for equal) compare
  the page count and the caller's reading progress.

Matching ignores case. Every term narrows the result (AND). Filtering, the
count and the page all run in the database; only the page's ids come back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..extensions import db
from ..library.access import visible_books
from ..models import Book, BookTag, Category, CategoryBook, ReadingProgress, Tag, User
from .tags import (
    ARTIST_NAMESPACES,
    AUTOMATIC_NAMESPACES,
    DATE_ADDED,
    SERIES,
    SOURCE,
    TIMESTAMP,
    stored_namespaces,
)

ESCAPE = "\\"
_NUMERIC_TERM = re.compile(r"^(read|pages):(>=|<=|>|<)?(\d+)$")
_DATE_ADDED_CHARS = frozenset("date_added:0123456789")


class epoch_seconds(FunctionElement):
    """Unix seconds of a naive UTC datetime column, on SQLite and PostgreSQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds)
def _epoch_default(element, compiler, **kw):
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@dataclass(frozen=True, slots=True)
class Term:
    """One search term: lower-cased, with wildcards turned into LIKE's."""

    pattern: str
    negative: bool = False
    exact: bool = False


def _like_pattern(text: str) -> str:
    """LANraragi's wildcards as a LIKE pattern (``%`` and ``_`` already are)."""
    text = text.replace(ESCAPE, ESCAPE * 2)
    return text.replace("*", "%").replace("?", "_")


def parse_filter(text: str | None) -> list[Term]:
    """Split a filter into terms, as LANraragi's ``compute_search_filter``."""
    terms: list[Term] = []
    text = text or ""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            break
        negative = text[i] == "-"
        if negative:
            i += 1
        quoted = i < n and text[i] == '"'
        if quoted:
            i += 1
        delimiter = '"' if quoted else ","
        end = text.find(delimiter, i)
        end = n if end == -1 else end
        raw, i = text[i:end], end + 1
        exact = quoted
        if quoted:
            if i < n and text[i] == "$":  # "…"$ is accepted and means nothing more
                i += 1
        elif raw.rstrip().endswith("$"):
            raw, exact = raw.rstrip()[:-1], True
        raw = raw.strip().lower()
        if raw:
            terms.append(Term(_like_pattern(raw), negative, exact))
    return terms


@dataclass
class SearchQuery:
    filter: str = ""
    category_id: str = ""
    sortby: str = "title"
    order: str = "asc"
    newonly: bool = False
    untaggedonly: bool = False
    hidecompleted: bool = False


def archive_scope(user: User | None) -> ColumnElement[bool]:
    """Books the archive API shows: indexed (with an archive id), on disk,
    in a library the caller may see."""
    return and_(visible_books(user), Book.state != "missing", Book.arcid.is_not(None))


def _tag_text():
    namespace = case((Tag.namespace.in_(ARTIST_NAMESPACES), literal("artist")),
                     else_=Tag.namespace)
    return case((Tag.namespace == "", Tag.name), else_=namespace + literal(":") + Tag.name)


def _books_with_tags(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    # Tags first: the condition runs once per distinct tag, not once per
    # book's tag, and the matching tag ids then pick books by index.
    return Book.id.in_(select(BookTag.book_id).where(BookTag.tag_id.in_(
        select(Tag.id).where(condition))))


def _derived_text(namespace: str):
    """The text of a derived tag of the row, as ``tags.derived_tags`` writes it."""
    if namespace == SERIES:
        return Book.series_name
    if namespace == SOURCE:
        return Book.web
    if namespace == DATE_ADDED:
        return cast(epoch_seconds(Book.created_at), String)
    return None


def _like(column, pattern: str) -> ColumnElement[bool]:
    # NULL would make a NOT (exclusion) drop the row instead of keeping it.
    return func.coalesce(column, "").ilike(pattern, escape=ESCAPE)


def _has_wildcard(namespace: str) -> bool:
    # "_" is a wildcard too, but namespaces are full of them (date_added) and
    # it matches itself, so only "%" (or "*") makes a namespace a pattern.
    return "%" in namespace


def _numeric_condition(match: re.Match, user: User | None) -> ColumnElement[bool]:
    column, operator, number = match.group(1), match.group(2) or "=", int(match.group(3))
    if column == "pages":
        value = Book.page_count
    else:
        value = func.coalesce(select(ReadingProgress.page).where(
            ReadingProgress.book_id == Book.id,
            ReadingProgress.user_id == (user.id if user else -1)).scalar_subquery(), 0)
    return {"=": value == number, ">": value > number, ">=": value >= number,
            "<": value < number, "<=": value <= number}[operator]


def _may_match_date_added(pattern: str) -> bool:
    """Whether a term could match some "date_added:<digits>": computing
    that text for every book is the costly part of a plain-word search, and
    a word like "horror" never matches it."""
    return all(c in _DATE_ADDED_CHARS for c in pattern.replace("%", "").replace("_", ""))


def term_condition(term: Term, user: User | None) -> ColumnElement[bool]:
    """What a book must satisfy to match a term (before negation)."""
    numeric = _NUMERIC_TERM.match(term.pattern)
    if numeric:
        return _numeric_condition(numeric, user)
    pattern = term.pattern
    title = func.coalesce(func.nullif(Book.title, ""), Book.filename)
    if term.exact:
        title_match = _like(title, pattern)
    else:
        title_match = or_(_like(Book.title, f"%{pattern}%"), _like(Book.filename, f"%{pattern}%"))
    namespace, sep, value = pattern.partition(":")
    if sep and namespace and not _has_wildcard(namespace):
        # namespace:value — the value is whole (exact) or a prefix.
        value_pattern = value if term.exact else f"{value}%"
        derived = _derived_text(namespace)
        matches = [_books_with_tags(and_(Tag.namespace.in_(stored_namespaces(namespace)),
                                         _like(Tag.name, value_pattern)))]
        if derived is not None:
            matches.append(_like(derived, value_pattern))
        return or_(*matches, title_match)
    if term.exact:
        # An exact term without a namespace is a plain tag.
        tag_match = _books_with_tags(and_(Tag.namespace == "", _like(Tag.name, pattern)))
        return or_(tag_match, title_match)
    anywhere = f"%{pattern}%"
    derived = [_like(literal(f"{ns}:") + _derived_text(ns), anywhere)
               for ns in (SERIES, SOURCE, DATE_ADDED)
               if ns != DATE_ADDED or _may_match_date_added(pattern)]
    return or_(_books_with_tags(_like(_tag_text(), anywhere)), *derived, title_match)


def untagged_condition() -> ColumnElement[bool]:
    return ~_books_with_tags(Tag.namespace.not_in(AUTOMATIC_NAMESPACES))


def _completed(user: User | None) -> ColumnElement[bool]:
    if user is None:
        return false()
    return Book.id.in_(select(ReadingProgress.book_id).where(
        ReadingProgress.user_id == user.id, ReadingProgress.completed.is_(True)))


def _title_order() -> list:
    """Series, then issue number, then title: LANraragi sorts by title, and a
    comic's title here is "Series #N - Title", so this is that order with
    issue numbers compared as numbers."""
    title = func.lower(func.coalesce(func.nullif(Book.title, ""), Book.filename))
    return [func.lower(func.coalesce(Book.series_name, title)), Book.number_sort, title]


def _namespace_order(namespace: str) -> list:
    if namespace == DATE_ADDED:
        return [Book.created_at]
    if namespace == SERIES:
        return [func.lower(Book.series_name), Book.number_sort]
    if namespace == SOURCE:
        return [func.lower(Book.web)]
    if namespace == TIMESTAMP:
        return [Book.year, Book.month, Book.day]
    first = (select(func.min(func.lower(Tag.name))).join(BookTag, BookTag.tag_id == Tag.id)
             .where(BookTag.book_id == Book.id, Tag.namespace.in_(stored_namespaces(namespace)))
             .scalar_subquery())
    return [first]


def _with_direction(keys: list, descending: bool) -> list:
    # Books without the sort value go last, and first when the order is
    # reversed: LANraragi sorts them as "zzzz" and reverses the whole list.
    if descending:
        return [key.desc().nulls_first() for key in keys]
    return [key.asc().nulls_last() for key in keys]


def filtered_ids(query: SearchQuery, user: User | None) -> Select:
    """The SELECT of matching book ids, in the requested order."""
    statement = select(Book.id).where(archive_scope(user))
    terms = parse_filter(query.filter)
    # A category the caller cannot see (another user's own) filters nothing,
    # as an unknown id does.
    visible = Category.owner_id.is_(None)
    if user is not None:
        visible = or_(visible, Category.owner_id == user.id)
    category = db.session.execute(select(Category).where(
        Category.id == query.category_id, visible)).scalar() if query.category_id else None
    if category is not None:
        if category.search:
            terms += parse_filter(category.search)
        else:
            statement = statement.where(Book.id.in_(
                select(CategoryBook.book_id).where(CategoryBook.category_id == category.id)))
    if query.newonly:
        statement = statement.where(Book.is_new.is_(True))
    if query.untaggedonly:
        statement = statement.where(untagged_condition())
    if query.hidecompleted:
        statement = statement.where(not_(_completed(user)))
    for term in terms:
        condition = term_condition(term, user)
        statement = statement.where(not_(condition) if term.negative else condition)

    descending = query.order == "desc"
    sortby = (query.sortby or "title").strip().lower()
    if sortby == "lastread":
        # Only books the caller has read, most recent first; "desc" reverses
        # that, as LANraragi does.
        statement = statement.join(ReadingProgress, and_(
            ReadingProgress.book_id == Book.id,
            ReadingProgress.user_id == (user.id if user else -1)))
        keys = [ReadingProgress.updated_at.asc() if descending else ReadingProgress.updated_at.desc()]
    elif sortby == "title":
        keys = _with_direction(_title_order(), descending)
    else:
        keys = _with_direction(_namespace_order(sortby) + _title_order(), descending)
    return statement.order_by(*keys, Book.id.desc() if descending else Book.id)


def count_archives(user: User | None) -> int:
    return db.session.execute(select(func.count()).select_from(Book).where(archive_scope(user))).scalar_one()


def search(query: SearchQuery, user: User | None, start: int,
           page_size: int | None) -> tuple[int, int, list[int]]:
    """``(all archives, matching archives, ids of this page)``; a
    ``page_size`` of None returns every match."""
    statement = filtered_ids(query, user)
    matching = db.session.execute(
        select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()
    if page_size is not None:
        statement = statement.offset(max(0, start)).limit(page_size)
    ids = list(db.session.execute(statement).scalars())
    return count_archives(user), matching, ids


def random_ids(query: SearchQuery, user: User | None, count: int) -> list[int]:
    statement = filtered_ids(query, user).order_by(None).order_by(func.random()).limit(count)
    return list(db.session.execute(statement).scalars())
