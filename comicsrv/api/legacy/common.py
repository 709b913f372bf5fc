"""What every ``/api`` view shares: the envelope, paging (the arguments are
``comicsrv.api.pagination.LimitOffsetArgs``), the error renderer and the
security declaration."""
from __future__ import annotations

from typing import Any, Sequence

from flask import Response, jsonify
from marshmallow import Schema, fields

from ..pagination import page_query

LEGACY_SURFACE = "legacy"
SECURITY = [{"LegacyApiKey": []}]


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
    rows, total = page_query(query, args)
    return page([serialize(row) for row in rows], total, args["limit"], args["offset"])


class EnvelopeSchema(Schema):
    """``{"success": true, "data": ...}``; ``data`` is documented per endpoint."""

    success = fields.Boolean(required=True)
    data = fields.Raw()
