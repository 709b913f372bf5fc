"""The error bodies of each surface, as OpenAPI schemas, and a decorator
that documents the errors a route can answer.

A route's success schema says what a client gets when all goes well; its
refusals (bad input, no credentials, a missing row) come from the surface's
one error handler (``comicsrv.api.surfaces``) in the surface's envelope.
``errors(blp, 400, 404)`` documents those answers with that envelope, so a
client generator (and schemathesis' response checks) knows their shape too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Callable

from marshmallow import Schema, fields

if TYPE_CHECKING:
    from flask import Flask
    from flask_smorest import Api

DESCRIPTIONS = {
    400: "Invalid request: the message names each bad field",
    401: "No valid credentials",
    403: "The credentials lack the permission this needs",
    404: "No such object",
    409: "Conflicts with the current state (a taken name, a finished step)",
    405: "The path does not take this method",
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


@cache
def _shared(schema: type[Schema]) -> Schema:
    """One instance of an error schema for every view that documents it
    (given the class, flask-smorest would make one per status per view)."""
    return schema()


def errors(blp, *statuses: int, schema: type[Schema] = V1ErrorSchema) -> Callable:
    """Document ``statuses`` (plus 401 and 403, which every protected route
    can answer) as error answers in ``schema``."""
    def decorate(view: Callable) -> Callable:
        for status in sorted(set(statuses)):
            view = blp.alt_response(status, schema=_shared(schema),
                                    description=DESCRIPTIONS.get(status, "Error"))(view)
        return view

    return decorate


def protected_errors(blp, *statuses: int, schema: type[Schema] = V1ErrorSchema) -> Callable:
    """``errors`` for a route that needs credentials: 401 and 403 too."""
    return errors(blp, 401, 403, *statuses, schema=schema)


class OpdsProblemSchema(Schema):
    """OPDS 2's error body: an RFC 9457 problem (``application/problem+json``)."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"description": "a snake-case code"})
    status = fields.Integer(required=True)
    detail = fields.String(required=True)


@dataclass(frozen=True)
class ErrorEnvelope:
    """How one surface's error handler answers, for the OpenAPI document:
    the body's schema (under its component name) and media type, and the
    statuses answered otherwise (OPDS 2 answers a 401 with its
    authentication document)."""

    name: str
    schema: type[Schema]
    media_type: str = "application/json"
    # status -> (media type, JSON schema)
    special: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def response(self, status: int | str) -> dict[str, Any]:
        special = self.special.get(status) if isinstance(status, int) else None
        media_type, schema = special or (
            self.media_type, {"$ref": f"#/components/schemas/{self.name}"})
        description = (DESCRIPTIONS.get(status, "Error") if isinstance(status, int) else
                       "Any other refusal, in this surface's error envelope")
        return {"description": description, "content": {media_type: {"schema": schema}}}


V1_ENVELOPE = ErrorEnvelope("V1Error", V1ErrorSchema)
LEGACY_ENVELOPE = ErrorEnvelope("LegacyError", LegacyErrorSchema)
OPDS2_ENVELOPE = ErrorEnvelope("OpdsProblem", OpdsProblemSchema, "application/problem+json", special={
    401: ("application/opds-authentication+json", {
        "type": "object", "description": "The OPDS authentication document",
        "required": ["id", "title", "authentication"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                       "authentication": {"type": "array", "items": {"type": "object"}}}})})
ENVELOPES = (V1_ENVELOPE, LEGACY_ENVELOPE, OPDS2_ENVELOPE)

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
WRITES = ("put", "post", "delete", "patch")
# flask-smorest documents its own error body (``Error``) under "default" and
# a 422 for every ``@blp.arguments``; neither is what this server answers
# (bad input is a 400 in the surface's envelope, see surfaces._http_exception).
SMOREST_ERRORS = ("#/components/responses/DEFAULT_ERROR",
                  "#/components/responses/UNPROCESSABLE_ENTITY")


def register_error_schemas(api: "Api") -> None:
    """Name the envelopes' schemas once, before any route refers to them, so
    ``errors(...)`` on a view and ``document_surface_errors`` share them."""
    for envelope in ENVELOPES:
        api.spec.components.schema(envelope.name, schema=envelope.schema)


def document_surface_errors(api: "Api", app: "Flask") -> None:
    """Document every operation's refusals in its surface's envelope.

    Run once, after every surface has registered its routes. Each operation
    of a surface that declares an ``error_envelope`` gets 400 (bad input),
    404, 401 and 403 where it takes credentials, 409 where it writes, and a
    ``default`` for the rarer refusals (405, 413, 415, 429, 503...), all in
    that surface's shape; flask-smorest's own ``Error``/422 go, since the
    server never answers them. A surface without an envelope here (the
    LANraragi archive API) documents its errors on its views.
    """
    from .surfaces import surface_for_path

    secured_by_default = bool(api.spec.options.get("security"))
    for path, operations in api.spec._paths.items():  # apispec has no public walk
        surface = surface_for_path(app, path)
        envelope = surface.error_envelope if surface else V1_ENVELOPE
        if envelope is None:
            continue
        if envelope.name not in api.spec.components.schemas:  # a surface's own (Komga...)
            api.spec.components.schema(envelope.name, schema=envelope.schema)
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                if isinstance(response, dict) and response.get("$ref") in SMOREST_ERRORS:
                    del responses[status]
            security = operation.get("security")
            secured = bool(security if security is not None else secured_by_default) and {} not in (
                security or [])
            statuses = [400, 404] + ([401, 403] if secured else []) + (
                [409] if method in WRITES else [])
            for status in statuses:
                responses.setdefault(str(status), envelope.response(status))
            responses["default"] = envelope.response("default")
            _optional_empty_body(api, operation)


def _optional_empty_body(api: "Api", operation: dict[str, Any]) -> None:
    """flask-smorest marks every JSON body required, but webargs reads a
    missing body as ``{}``: where no field is required, the server accepts
    the request without one, so the document says so."""
    body = operation.get("requestBody")
    if not body or not body.get("required"):
        return
    content = body.get("content", {}).get("application/json")
    ref = ((content or {}).get("schema") or {}).get("$ref", "")
    schema = api.spec.components.schemas.get(ref.rsplit("/", 1)[-1]) if ref else None
    if content and schema is not None and not schema.get("required"):
        body["required"] = False
