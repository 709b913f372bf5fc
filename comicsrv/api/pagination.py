"""Paging, one way for every list endpoint.

Arguments:

- ``PageArgs`` (query string) and ``PageBodyArgs`` (JSON body): ``page``
  from 1 and ``page_size`` up to 200, for ``/api/v1``. Numbers out of range
  are clamped as CLU documents (a reader app asking for page 0 or 500 items
  gets page 1 or 200 items, and the envelope says which it got); anything
  that is not an integer is a 400 naming the field.
- ``CluPageArgs``: the same for CLU's own reader-app endpoints, where CLU
  also documents that a value that is not a number becomes the default.
- ``LimitOffsetArgs``: Comicarr's ``limit``/``offset`` for the legacy
  ``/api``; out of range is a 400 naming the field.

Slicing, for either kind of arguments: :func:`page_query` runs a SELECT for
one page and its total, :func:`page_list` slices a list already in memory.
Answers: :func:`envelope` is CLU's list envelope, ``{"items", "total",
"page", "page_size", "total_pages", "has_more"}``; :func:`page_of` and
:func:`page_of_list` page and wrap in one call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate
from sqlalchemy import func, select

from ..extensions import db

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Far past any real library, and small enough that page * page_size stays a
# 64-bit OFFSET on every database.
MAX_PAGE = 1_000_000
DEFAULT_LIMIT, MAX_LIMIT = 25, 500
MAX_OFFSET = 2**31 - 1


class PageArgs(Schema):
    """``page`` (from 1) and ``page_size`` in a query string."""

    page = fields.Integer(load_default=1, metadata={
        "description": "1-indexed page; a number below 1 counts as 1 (as in CLU)"})
    page_size = fields.Integer(load_default=DEFAULT_PAGE_SIZE, metadata={
        "description": f"items per page, 1-{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}; a "
                       f"number outside is clamped to that range (as in CLU)"})

    @post_load
    def clamp(self, data: dict, **kwargs: Any) -> dict:
        data["page"] = min(MAX_PAGE, max(1, data["page"]))
        data["page_size"] = min(MAX_PAGE_SIZE, max(1, data["page_size"]))
        return data


class CluPageArgs(PageArgs):
    """CLU's paging, exactly: as ``PageArgs``, and a value that is not an
    integer becomes the default rather than a 400 (reader apps rely on it)."""

    page = fields.Integer(load_default=1, metadata={
        "description": "1-indexed page; below 1, or not a number, counts as 1 (CLU)"})
    page_size = fields.Integer(load_default=DEFAULT_PAGE_SIZE, metadata={
        "description": f"items per page, 1-{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}; a "
                       f"number outside is clamped to that range, anything else counts as "
                       f"{DEFAULT_PAGE_SIZE} (CLU)"})

    @pre_load
    def lenient(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        garbled = {}
        for name, default in (("page", 1), ("page_size", DEFAULT_PAGE_SIZE)):
            try:
                int(data.get(name, default))
            except (TypeError, ValueError):
                garbled[name] = default
        # A query string's proxy reads its first values; CLU's schemas have no lists.
        return {**{key: data[key] for key in data}, **garbled} if garbled else data


class PageBodyArgs(PageArgs):
    """Paging in a JSON body: ``page`` and ``page_size``, or Codex's
    ``pageSize``; clamped as in query strings."""

    @pre_load
    def codex_page_size(self, data: Any, **kwargs: Any) -> dict:
        if not isinstance(data, Mapping):
            raise ValidationError("Expected a JSON object.")
        data = dict(data)
        if "pageSize" in data:
            data.setdefault("page_size", data["pageSize"])
            del data["pageSize"]
        return data


class LimitOffsetArgs(Schema):
    """Comicarr's ``limit`` and ``offset`` (the legacy ``/api``)."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"items per page, default {DEFAULT_LIMIT}"})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET),
                            metadata={"description": "items to skip"})


def window(args: Mapping[str, int]) -> tuple[int, int]:
    """``(offset, limit)`` of the page ``args`` asks for, from either
    ``page``/``page_size`` or ``limit``/``offset``."""
    if "page_size" in args:
        return (args["page"] - 1) * args["page_size"], args["page_size"]
    return args["offset"], args["limit"]


def page_query(query, args: Mapping[str, int], *, count_query=None, window_total: bool = False,
               scalars: bool = True) -> tuple[list, int]:
    """One page of ``query`` and the total number of matches.

    ``scalars`` answers the first column of each row (the entity), else
    whole rows. ``count_query`` (default ``query``) is what is counted: the
    filtered rows without the joins only sorting needs. ``window_total``
    counts with ``count(*) OVER ()`` in the page's own statement, for
    queries that must visit every match anyway (an aggregate or relevance
    sort); that saves running them twice. A query whose index order lets
    the database stop after one page must not use it. A page past the end
    costs only the count.
    """
    offset, limit = window(args)
    if window_total:
        rows = db.session.execute(query.add_columns(func.count().over().label("matches"))
                                  .limit(limit).offset(offset)).all()
        if rows:
            total = rows[0][-1]
            return [row[0] if scalars else tuple(row[:-1]) for row in rows], total
        if offset == 0:
            return [], 0
    counted = (count_query if count_query is not None else query).order_by(None)
    total = db.session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    if total <= offset:
        return [], total
    result = db.session.execute(query.limit(limit).offset(offset))
    return (list(result.scalars()) if scalars else list(result.all())), total


def page_list(items: Sequence[Any], args: Mapping[str, int]) -> list[Any]:
    """The page ``args`` asks for of a list already in memory."""
    offset, limit = window(args)
    return list(items[offset:offset + limit])


def envelope(items: Sequence[Any], total: int, page: int, page_size: int,
             **extra: Any) -> dict[str, Any]:
    total_pages = math.ceil(total / page_size) if total else 0
    return {"items": list(items), "total": total, "page": page, "page_size": page_size,
            "total_pages": total_pages, "has_more": page < total_pages, **extra}


def page_of(query, args: Mapping[str, int], **extra: Any) -> dict[str, Any]:
    """One page of ``query``'s entities in the list envelope."""
    rows, total = page_query(query, args)
    return envelope(rows, total, args["page"], args["page_size"], **extra)


def page_of_list(items: Sequence[Any], args: Mapping[str, int], **extra: Any) -> dict[str, Any]:
    """One page of a list already in memory, in the list envelope."""
    return envelope(page_list(items, args), len(items), args["page"], args["page_size"], **extra)


# -- lenient paging: HTML pages and feeds (the web UI, OPDS) -------------------------

@dataclass(frozen=True)
class Paging:
    """A page number (from 1) and a page size."""

    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def pages(self, total: int) -> int:
        """How many pages ``total`` items fill (at least one)."""
        return max(1, math.ceil(total / self.size))


def _lenient_int(value: Any, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return min(high, max(low, number))


def lenient_paging(args: Mapping[str, Any], *, size: int | None = None,
                   default_size: int = DEFAULT_PAGE_SIZE) -> Paging:
    """``page`` (and ``page_size``, unless the caller fixes ``size``) for a
    page a person or a feed reader follows links to: a garbled or
    out-of-range value falls back or is clamped instead of a 400."""
    page = _lenient_int(args.get("page"), 1, 1, MAX_PAGE)
    if size is None:
        size = _lenient_int(args.get("page_size"), default_size, 1, MAX_PAGE_SIZE)
    return Paging(page, size)
