"""The error bodies of each surface, as OpenAPI schemas, and a decorator
that documents the errors a route can answer.

A route's success schema says what a client gets when all goes well; its
refusals (bad input, no credentials, a missing row) come from the surface's
one error handler (``comicsrv.api.surfaces``) in the surface's envelope.
``errors(blp, 400, 404)`` documents those answers with that envelope, so a
client generator (and schemathesis' response checks) knows their shape too.
"""
from __future__ import annotations

from typing import Callable

from marshmallow import Schema, fields

DESCRIPTIONS = {
    400: "Invalid request: the message names each bad field",
    401: "No valid credentials",
    403: "The credentials lack the permission this needs",
    404: "No such object",
    409: "Conflicts with the current state (a taken name, a finished step)",
    413: "The request body is too large",
    415: "Unsupported media type",
    429: "Too many attempts; see Retry-After",
    502: "The remote service answered with an error",
    503: "The remote service or a needed component is unavailable",
}


class V1ErrorSchema(Schema):
    """``/api/v1``'s error body (Codex's shape, CLU's snake-case codes)."""

    error = fields.String(required=True, metadata={"description": "a snake-case code",
                                                    "example": "not_found"})
    message = fields.String(required=True)
    details = fields.Raw(allow_none=True, metadata={
        "description": "per-field messages for bad input; else null or extra facts"})


class LegacyErrorDetailSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    message = fields.String(required=True)


class LegacyErrorSchema(Schema):
    """The legacy ``/api``'s error body (Comicarr's envelope)."""

    success = fields.Boolean(required=True, metadata={"example": False})
    error = fields.Nested(LegacyErrorDetailSchema, required=True)


def errors(blp, *statuses: int, schema: type[Schema] = V1ErrorSchema) -> Callable:
    """Document ``statuses`` (plus 401 and 403, which every protected route
    can answer) as error answers in ``schema``."""
    def decorate(view: Callable) -> Callable:
        for status in sorted(set(statuses)):
            view = blp.alt_response(status, schema=schema,
                                    description=DESCRIPTIONS.get(status, "Error"))(view)
        return view

    return decorate


def protected_errors(blp, *statuses: int, schema: type[Schema] = V1ErrorSchema) -> Callable:
    """``errors`` for a route that needs credentials: 401 and 403 too."""
    return errors(blp, 401, 403, *statuses, schema=schema)
