"""Full-text search over series and books: titles, series names, summaries,
publishers and tag names.

Every word of the query must match somewhere (AND of words, OR of fields),
case-insensitively, as a substring: ``spider`` finds "Spider-Man" and
"The Amazing Spider-Man". The search is a plain ``LIKE``/``ILIKE`` query, the
same SQL on SQLite and PostgreSQL, because a real full-text index (an FTS5
virtual table, or a tsvector/trigram index) would need a schema migration and
triggers to stay in step with the scanner's bulk writes. Publisher and tag
names are matched in their own small tables first and joined by id, so only
titles, series names and summaries are scanned row by row.

Ranking puts series-name matches first: an exact name, then names that begin
with the query, then names containing the words, then publisher and summary
matches; ties fall back to the caller's sort.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select

from ..errors import BadRequest
from ..models import Book, BookTag, Publisher, Series, Tag
from .filters import escape_like, ilike
from ..models.library import BOOK_MISSING

MAX_TERMS = 8
MAX_QUERY_LENGTH = 200

# Rank weights: a series-name hit outweighs any number of lesser hits.
EXACT_NAME = 10_000
NAME_PREFIX = 1_000
NAME_WORD = 100
TITLE_WORD = 50
PUBLISHER_WORD = 10
SUMMARY_WORD = 1


@dataclass(frozen=True)
class Search:
    """A compiled search: ``where`` selects the matches, ``rank`` (higher is
    better) orders them."""

    query: str
    terms: tuple[str, ...]
    where: ColumnElement[bool]
    rank: ColumnElement[int]


def terms_of(query: str | None) -> tuple[str, ...]:
    """The distinct lower-cased words of a query, at most ``MAX_TERMS``."""
    query = (query or "").strip()
    if not query:
        raise BadRequest("The search query is empty", code="invalid_query")
    if len(query) > MAX_QUERY_LENGTH:
        raise BadRequest(f"The search query is longer than {MAX_QUERY_LENGTH} characters",
                         code="invalid_query")
    words = [w for w in re.split(r"\s+", query.lower()) if w]
    if any(unicodedata.category(ch) in ("Cc", "Cs") for word in words for ch in word):
        # NUL and lone surrogates cannot even be sent to PostgreSQL.
        raise BadRequest("The search query holds control characters", code="invalid_query")
    return tuple(dict.fromkeys(words))[:MAX_TERMS]


def _like(term: str) -> str:
    return f"%{escape_like(term)}%"


def _starts(expr, phrase: str) -> ColumnElement[bool]:
    return ilike(expr, f"{escape_like(phrase)}%")


def _has(expr, term: str) -> ColumnElement[bool]:
    return ilike(expr, _like(term))


def _publisher_ids(term: str):
    return select(Publisher.id).where(_has(Publisher.name, term))


def _tag_ids(term: str):
    return select(Tag.id).where(_has(Tag.name, term))


def _hits(*weighted: tuple[ColumnElement[bool], int]) -> ColumnElement[int]:
    return sum((case((clause, literal(weight)), else_=literal(0)) for clause, weight in weighted),
               start=literal(0))


def search_series(query: str | None) -> Search:
    """Series whose name, publisher or summary, or any of whose books' titles,
    summaries or tags, contain every word."""
    terms = terms_of(query)
    phrase = " ".join(terms)
    where, weights = [], []
    for term in terms:
        in_books = (select(Book.series_id)
                    .where(Book.series_id.is_not(None), Book.state != BOOK_MISSING,
                           or_(_has(Book.title, term), _has(Book.summary, term))))
        in_tags = (select(Book.series_id)
                   .join(BookTag, BookTag.book_id == Book.id)
                   .where(BookTag.tag_id.in_(_tag_ids(term)), Book.series_id.is_not(None),
                          Book.state != BOOK_MISSING))
        name_hit = _has(Series.name, term)
        publisher_hit = Series.publisher_id.in_(_publisher_ids(term))
        summary_hit = _has(Series.summary, term)
        where.append(or_(name_hit, publisher_hit, summary_hit,
                         Series.id.in_(in_books), Series.id.in_(in_tags)))
        weights += [(name_hit, NAME_WORD), (publisher_hit, PUBLISHER_WORD),
                    (summary_hit, SUMMARY_WORD)]
    rank = _hits((func.lower(Series.name) == phrase, EXACT_NAME),
                 (_starts(Series.name, phrase), NAME_PREFIX), *weights)
    return Search(query or "", terms, and_(*where), rank)


def search_books(query: str | None) -> Search:
    """Books whose title, series name, summary, publisher or tags contain every word."""
    terms = terms_of(query)
    phrase = " ".join(terms)
    where, weights = [], []
    for term in terms:
        series_hit = _has(Book.series_name, term)
        title_hit = _has(Book.title, term)
        publisher_hit = Book.publisher_id.in_(_publisher_ids(term))
        summary_hit = _has(Book.summary, term)
        tag_hit = Book.id.in_(select(BookTag.book_id).where(BookTag.tag_id.in_(_tag_ids(term))))
        where.append(or_(series_hit, title_hit, publisher_hit, summary_hit, tag_hit))
        weights += [(series_hit, NAME_WORD), (title_hit, TITLE_WORD),
                    (publisher_hit, PUBLISHER_WORD), (summary_hit, SUMMARY_WORD)]
    rank = _hits((func.lower(Book.series_name) == phrase, EXACT_NAME),
                 (_starts(Book.series_name, phrase), NAME_PREFIX), *weights)
    return Search(query or "", terms, and_(*where), rank)


__all__ = ["Search", "search_books", "search_series", "terms_of"]
