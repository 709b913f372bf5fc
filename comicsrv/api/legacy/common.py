"""What every ``/api`` view shares: the envelope, paging arguments, the
error renderer and the security declaration."""
from __future__ import annotations

from typing import Any, Sequence

from flask import Response, jsonify
from marshmallow import Schema, fields, validate

LEGACY_SURFACE = "legacy"
SECURITY = [{"LegacyApiKey": []}]
DEFAULT_LIMIT, MAX_LIMIT = 25, 500


def render_error(status: int, code: str, message: str, details: Any = None) -> Response:
    """``{"success": false, "error": {"code": 404, "message": "Comic not found"}}``
    with the HTTP status equal to ``error.code``."""
    response = jsonify({"success": False, "error": {"code": status, "message": message}})
    response.status_code = status
    return response


def ok(data: Any) -> dict[str, Any]:
    """One object (or any non-list answer) in the envelope."""
    return {"success": True, "data": data}


def page(results: Sequence[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """A list in the envelope; ``results`` is already the requested slice."""
    return ok({"results": list(results), "total": total, "limit": limit, "offset": offset,
               "has_more": offset + len(results) < total})


def page_of_query(query, args: dict[str, int], serialize) -> dict[str, Any]:
    """Count and slice a SQLAlchemy select by ``limit``/``offset``."""
    from sqlalchemy import func, select

    from ...extensions import db

    limit, offset = args["limit"], args["offset"]
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.limit(limit).offset(offset)).scalars().all()
    return page([serialize(row) for row in rows], total, limit, offset)


class LimitOffsetArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))


class EnvelopeSchema(Schema):
    """``{"success": true, "data": ...}``; ``data`` is documented per endpoint."""

    success = fields.Boolean(required=True)
    data = fields.Raw()
