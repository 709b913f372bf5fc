"""Codex's condition filters, compiled to SQLAlchemy WHERE clauses.

A condition is a tree: a group ``{"allOf": [...]}`` (AND) or
``{"anyOf": [...]}`` (OR) of conditions, or a leaf naming one field,
``{"genre": {"operator": "is", "value": "Action"}}``. Operators: is, isNot,
isNull, isNotNull, contains, beginsWith. Text comparisons ignore case.

Multi-valued fields (a series' genres, a book's tags) read as "any of them":
``genre is Action`` matches when one genre is Action, ``genre isNot Horror``
when none is Horror, so an ``allOf`` of the two means "Action but not
Horror", as Codex's example intends. Every subquery is uncorrelated
(``id IN (SELECT ...)``), which both SQLite and PostgreSQL run once per
statement instead of once per row.

Bad input (an unknown field or operator, a missing value, a tree too deep)
raises ``BadRequest`` naming what is wrong and where.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sqlalchemy import ColumnElement, and_, case, func, literal, not_, or_, select, true

from ..errors import BadRequest
from ..extensions import db
from ..models import Book, BookTag, Publisher, ReadingProgress, Series, Tag
from ..models.library import BOOK_ERROR, BOOK_MISSING

OPERATORS = ("is", "isNot", "isNull", "isNotNull", "contains", "beginsWith")
TEXT_OPERATORS = frozenset(OPERATORS)
ID_OPERATORS = frozenset({"is", "isNot", "isNull", "isNotNull"})
EQUALITY_OPERATORS = frozenset({"is", "isNot"})
READ_STATUSES = ("read", "unread", "in_progress")
MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_VALUE_LENGTH = 500


@dataclass(frozen=True)
class FilterContext:
    """What a condition may depend on besides the rows: who is asking
    (``readStatus`` is per user; without a user everything is unread)."""

    user_id: int | None = None


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards taken literally (escape character ``\\``)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def ilike(expr, pattern: str) -> ColumnElement[bool]:
    """Case-insensitive LIKE with ``\\`` as the escape character.

    SQLite's LIKE already ignores (ASCII) case, and SQLAlchemy's ``ilike``
    would wrap both sides in ``lower()``, which makes a LIKE over every row
    about twice as slow; PostgreSQL gets a real ILIKE.
    """
    if db.engine.dialect.name == "sqlite":
        return expr.like(pattern, escape="\\")
    return expr.ilike(pattern, escape="\\")


def _text_match(expr, operator: str, value: str) -> ColumnElement[bool]:
    """A positive match of one text expression (no null handling)."""
    if operator == "is":
        return func.lower(expr) == value.lower()
    if operator == "contains":
        return ilike(expr, f"%{escape_like(value)}%")
    if operator == "beginsWith":
        return ilike(expr, f"{escape_like(value)}%")
    raise AssertionError(operator)


class Field:
    operators: frozenset[str] = TEXT_OPERATORS
    value_type: type | tuple[type, ...] = str

    def compile(self, operator: str, value: Any, ctx: FilterContext) -> ColumnElement[bool]:
        raise NotImplementedError


class TextField(Field):
    """One nullable text value per row: a column or a scalar subquery."""

    def __init__(self, expr_factory: Callable[[], Any]):
        self.expr_factory = expr_factory

    def compile(self, operator, value, ctx):
        expr = self.expr_factory()
        if operator == "isNull":
            return expr.is_(None)
        if operator == "isNotNull":
            return expr.is_not(None)
        if operator == "isNot":
            return or_(func.lower(expr) != value.lower(), expr.is_(None))
        return _text_match(expr, operator, value)


class IdField(Field):
    """An integer foreign key (libraryId, seriesId)."""

    operators = ID_OPERATORS
    value_type = int

    def __init__(self, column_factory: Callable[[], Any]):
        self.column_factory = column_factory

    def compile(self, operator, value, ctx):
        column = self.column_factory()
        if operator == "isNull":
            return column.is_(None)
        if operator == "isNotNull":
            return column.is_not(None)
        if operator == "is":
            return column == value
        return or_(column != value, column.is_(None))


class ManyTextField(Field):
    """A text value a row has several of (genres, tags, its books' languages).

    ``ids_matching(predicate)`` answers the ids of the rows that have at
    least one value satisfying ``predicate`` (None: any value at all); it
    must never answer NULL ids, so ``NOT IN`` stays exact.
    """

    def __init__(self, id_factory: Callable[[], Any],
                 ids_matching: Callable[[Callable[[Any], ColumnElement[bool]] | None], Any]):
        self.id_factory = id_factory
        self.ids_matching = ids_matching

    def compile(self, operator, value, ctx):
        row_id = self.id_factory()
        if operator == "isNull":
            return row_id.not_in(self.ids_matching(None))
        if operator == "isNotNull":
            return row_id.in_(self.ids_matching(None))
        if operator == "isNot":
            return row_id.not_in(self.ids_matching(lambda e: _text_match(e, "is", value)))
        return row_id.in_(self.ids_matching(lambda e: _text_match(e, operator, value)))


class BoolField(Field):
    operators = EQUALITY_OPERATORS
    value_type = bool

    def __init__(self, true_clause: Callable[[], ColumnElement[bool]]):
        self.true_clause = true_clause

    def compile(self, operator, value, ctx):
        clause = self.true_clause()
        wanted = value if operator == "is" else not value
        return clause if wanted else not_(clause)


class ReadStatusField(Field):
    """read / unread / in_progress, for the calling user."""

    operators = EQUALITY_OPERATORS

    def __init__(self, clause_for: Callable[[str, int | None], ColumnElement[bool]]):
        self.clause_for = clause_for

    def compile(self, operator, value, ctx):
        if value not in READ_STATUSES:
            raise BadRequest(f"readStatus is one of {', '.join(READ_STATUSES)}, not {value!r}",
                             code="invalid_filter")
        clause = self.clause_for(value, ctx.user_id)
        return clause if operator == "is" else not_(clause)


# -- what books and series are made of ---------------------------------------

PRESENT = Book.state != BOOK_MISSING


def _tag_ids(namespace: str, predicate) -> Any:
    query = select(Tag.id).where(Tag.namespace == namespace)
    return query.where(predicate(Tag.name)) if predicate is not None else query


def _book_ids_with_tag(namespace: str):
    def ids_matching(predicate):
        return select(BookTag.book_id).where(BookTag.tag_id.in_(_tag_ids(namespace, predicate)))
    return ids_matching


def _series_ids_with_tag(namespace: str):
    def ids_matching(predicate):
        return (select(Book.series_id)
                .join(BookTag, BookTag.book_id == Book.id)
                .where(BookTag.tag_id.in_(_tag_ids(namespace, predicate)),
                       Book.series_id.is_not(None), PRESENT))
    return ids_matching


def _series_ids_with_language(predicate):
    query = select(Book.series_id).where(Book.series_id.is_not(None), PRESENT,
                                         Book.language.is_not(None))
    return query.where(predicate(Book.language)) if predicate is not None else query


def series_status():
    """"ended" once the series' issue count is known (ComicInfo ``Count``:
    the publisher says how many issues it has), else "ongoing"."""
    ended = select(Book.series_id).where(Book.count.is_not(None), Book.series_id.is_not(None),
                                         PRESENT)
    return case((Series.id.in_(ended), literal("ended")), else_=literal("ongoing"))


def _publisher_name():
    return (select(Publisher.name).where(Publisher.id == Series.publisher_id)
            .correlate(Series).scalar_subquery())


def _user_progress(user_id: int | None):
    return select(ReadingProgress.book_id).where(ReadingProgress.user_id == (user_id or -1))


def book_read_status(status: str, user_id: int | None) -> ColumnElement[bool]:
    if status == "unread":
        return Book.id.not_in(_user_progress(user_id))
    completed = ReadingProgress.completed.is_(status == "read")
    return Book.id.in_(_user_progress(user_id).where(completed))


def series_read_status(status: str, user_id: int | None) -> ColumnElement[bool]:
    """A series is read when the user completed all its books, unread when
    they opened none of them, in progress in between."""
    touched = (select(Book.series_id)
               .join(ReadingProgress, ReadingProgress.book_id == Book.id)
               .where(ReadingProgress.user_id == (user_id or -1), Book.series_id.is_not(None),
                      PRESENT))
    completed_books = func.sum(case(
        (and_(ReadingProgress.id.is_not(None), ReadingProgress.completed.is_(True)), 1),
        else_=0))
    # Only series the user opened can be fully read: the grouping reads
    # their books alone, not the whole catalogue.
    fully_read = (select(Book.series_id)
                  .outerjoin(ReadingProgress, and_(ReadingProgress.book_id == Book.id,
                                                   ReadingProgress.user_id == (user_id or -1)))
                  .where(Book.series_id.in_(touched), PRESENT)
                  .group_by(Book.series_id)
                  .having(completed_books == func.count(Book.id)))
    if status == "unread":
        return Series.id.not_in(touched)
    if status == "read":
        return Series.id.in_(fully_read)
    return and_(Series.id.in_(touched), Series.id.not_in(fully_read))


SERIES_FIELDS: Mapping[str, Field] = {
    "libraryId": IdField(lambda: Series.library_id),
    "genre": ManyTextField(lambda: Series.id, _series_ids_with_tag("genre")),
    "tag": ManyTextField(lambda: Series.id, _series_ids_with_tag("")),
    "status": TextField(series_status),
    "publisher": TextField(_publisher_name),
    "language": ManyTextField(lambda: Series.id, _series_ids_with_language),
    "name": TextField(lambda: Series.name),
    "readStatus": ReadStatusField(series_read_status),
}

BOOK_FIELDS: Mapping[str, Field] = {
    "libraryId": IdField(lambda: Book.library_id),
    "seriesId": IdField(lambda: Book.series_id),
    "genre": ManyTextField(lambda: Book.id, _book_ids_with_tag("genre")),
    "tag": ManyTextField(lambda: Book.id, _book_ids_with_tag("")),
    "title": TextField(lambda: Book.title),
    "readStatus": ReadStatusField(book_read_status),
    "hasError": BoolField(lambda: Book.state == BOOK_ERROR),
}


# -- the compiler ---------------------------------------------------------------

class _Compiler:
    def __init__(self, fields: Mapping[str, Field], ctx: FilterContext):
        self.fields = fields
        self.ctx = ctx
        self.count = 0

    def fail(self, where: str, message: str) -> BadRequest:
        return BadRequest(f"{where}: {message}", code="invalid_filter")

    def node(self, node: Any, where: str, depth: int) -> ColumnElement[bool]:
        if depth > MAX_DEPTH:
            raise self.fail(where, f"conditions nest at most {MAX_DEPTH} deep")
        if not isinstance(node, dict) or len(node) != 1:
            raise self.fail(
                where, 'expected an object with one key: "allOf", "anyOf" or a field name')
        (key, body), = node.items()
        if key in ("allOf", "anyOf"):
            if not isinstance(body, list):
                raise self.fail(f"{where}.{key}", "expected a list of conditions")
            parts = [self.node(child, f"{where}.{key}[{i}]", depth + 1)
                     for i, child in enumerate(body)]
            if not parts:  # an empty group (a UI's fresh "add group") constrains nothing
                return true()
            return and_(*parts) if key == "allOf" else or_(*parts)
        return self.leaf(key, body, f"{where}.{key}")

    def leaf(self, name: str, body: Any, where: str) -> ColumnElement[bool]:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise self.fail(where, f"at most {MAX_CONDITIONS} conditions per filter")
        field = self.fields.get(name)
        if field is None:
            raise self.fail(where, f"unknown field {name!r}; fields: {', '.join(self.fields)}")
        if not isinstance(body, dict):
            raise self.fail(where, 'expected {"operator": ..., "value": ...}')
        operator = body.get("operator")
        if operator not in OPERATORS:
            raise self.fail(
                where, f"unknown operator {operator!r}; operators: {', '.join(OPERATORS)}")
        if operator not in field.operators:
            allowed = ", ".join(o for o in OPERATORS if o in field.operators)
            raise self.fail(where, f"operator {operator!r} does not apply to {name}; "
                                   f"use one of {allowed}")
        value = body.get("value")
        if operator not in ("isNull", "isNotNull"):
            value = self.value(field, value, where)
        return field.compile(operator, value, self.ctx)

    def value(self, field: Field, value: Any, where: str) -> Any:
        if field.value_type is int:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise self.fail(where, "value must be an integer id")
            try:
                number = int(value)
            except ValueError:
                raise self.fail(where, f"value must be an integer id, not {value!r}") from None
            if not -2**63 <= number < 2**63:
                raise self.fail(where, "value is out of range")
            return number
        if field.value_type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise self.fail(where, "value must be true or false")
        if not isinstance(value, str) or not value:
            raise self.fail(where, "value must be a non-empty string")
        if len(value) > MAX_VALUE_LENGTH:
            raise self.fail(where, f"value is longer than {MAX_VALUE_LENGTH} characters")
        return value


def compile_condition(condition: Any, fields: Mapping[str, Field],
                      ctx: FilterContext | None = None) -> ColumnElement[bool]:
    """The WHERE clause for ``condition`` (None or ``{}``: every row)."""
    if condition is None or condition == {}:
        return true()
    return _Compiler(fields, ctx or FilterContext()).node(condition, "condition", 1)


__all__ = ["BOOK_FIELDS", "OPERATORS", "READ_STATUSES", "SERIES_FIELDS", "FilterContext",
           "compile_condition", "escape_like", "ilike", "series_read_status", "series_status"]
