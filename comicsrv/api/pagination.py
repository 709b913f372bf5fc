"""CLU's list envelope, used by every list endpoint of ``/api/v1``:
``{"items", "total", "page", "page_size", "total_pages", "has_more"}``."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from marshmallow import Schema, fields, pre_load

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Far past any real library, and small enough that page * page_size stays a
# 64-bit OFFSET on every database.
MAX_PAGE = 1_000_000


class PageArgs(Schema):
    """``page`` is 1-indexed; out-of-range or garbled values fall back to the
    defaults, as CLU does, rather than failing a reader app's request."""

    page = fields.Integer(load_default=1, metadata={"description": "1-indexed page"})
    page_size = fields.Integer(load_default=DEFAULT_PAGE_SIZE,
                               metadata={"description": f"items per page, max {MAX_PAGE_SIZE}"})

    @pre_load
    def clamp(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data  # marshmallow rejects a non-object with a 400
        data = dict(data)
        try:
            page = int(data.get("page", 1))
        except (TypeError, ValueError):
            page = 1
        try:
            size = int(data.get("page_size", DEFAULT_PAGE_SIZE))
        except (TypeError, ValueError):
            size = DEFAULT_PAGE_SIZE
        data["page"] = min(MAX_PAGE, max(1, page))
        data["page_size"] = min(MAX_PAGE_SIZE, max(1, size))
        return data


def envelope(items: Sequence[Any], total: int, page: int, page_size: int,
             **extra: Any) -> dict[str, Any]:
    total_pages = math.ceil(total / page_size) if total else 0
    return {"items": list(items), "total": total, "page": page, "page_size": page_size,
            "total_pages": total_pages, "has_more": page < total_pages, **extra}


def paginate_query(select, page: int, page_size: int, session) -> tuple[list[Any], int]:
    """Run a SELECT for one page and its total count."""
    from sqlalchemy import func, select as sa_select

    total = session.execute(sa_select(func.count()).select_from(select.order_by(None).subquery())).scalar_one()
    rows = session.execute(select.limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return rows, total
