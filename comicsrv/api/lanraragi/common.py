"""What every LANraragi route shares: parameters, ids, error bodies.

Errors come out exactly as LANraragi's clients parse them:

- ``{"operation": ..., "error": ..., "success": 0, "successMessage": ""}``
  (LANraragi's ``render_api_response``) from a route that names its
  operation, for domain errors too (a ``NotFound`` from a service);
- ``{"errors": [{"message": ..., "path": "/id"}], "status": 400}`` (the
  OpenAPI validator in front of LANraragi) for malformed parameters;
- the OperationResponse shape for unknown routes and wrong methods too (the
  error's code as the operation), which is what clients parse;
- the two 401 bodies of ``comicsrv.api.lanraragi.auth``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from ...errors import DomainError
from ...lrr.archives import ARCID
from ..surfaces import default_error

ARCHIVE_SURFACE = "archives"
OPERATION_KEY = "comicsrv.lrr.operation"
# Largest value an INTEGER column holds on PostgreSQL: numbers from a request
# are kept below it so no query overflows.
MAX_INT = 2**31 - 1


class LrrParser(FlaskParser):
    """LANraragi reads every parameter with Mojolicious' ``param``, which
    merges the query string and the form body: LRReader sends metadata and
    upload fields in the query, Python clients as form fields. "query"
    arguments here are read from both (the query string wins)."""

    def load_querystring(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.args, req.form]), schema)


class LrrBlueprint(Blueprint):
    ARGUMENTS_PARSER = LrrParser()


@dataclass(frozen=True)
class LrrBody:
    """An error body to send exactly as it is."""

    body: dict[str, Any]


class LrrError(DomainError):
    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(str(body.get("error") or body), details=LrrBody(body))
        self.status = status


def operation_body(operation: str, *, error: str = "", success_message: str = "",
                   **extra: Any) -> dict[str, Any]:
    return {"operation": operation, "error": error, "success": 0 if error else 1,
            "successMessage": success_message, **extra}


def operation_error(operation: str, message: str, status: int = 400, **extra: Any) -> LrrError:
    return LrrError(status, operation_body(operation, error=message, **extra))


def validation_error(message: str, path: str, status: int = 400) -> LrrError:
    return LrrError(status, {"errors": [{"message": message, "path": path}], "status": status})


def json_response(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def current_operation() -> str | None:
    return request.environ.get(OPERATION_KEY)


def parse_arcid(value: str) -> str:
    """A path's archive id, lower-cased, or the validator's 400."""
    arcid = (value or "").strip().lower()
    if len(arcid) < 40:
        raise validation_error(f"String is too short: {len(arcid)}/40.", "/id")
    if len(arcid) > 40:
        raise validation_error(f"String is too long: {len(arcid)}/40.", "/id")
    if not ARCID.match(arcid):
        raise validation_error("String does not match ^[0-9a-f]{40}$.", "/id")
    return arcid


def flag(value: Any) -> bool:
    """LANraragi's booleans: the string "true" (and, leniently, "1")."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"true", "1"}


def script_root() -> str:
    return request.script_root.rstrip("/")


# -- the surface's error renderer ---------------------------------------------

# LANraragi's own paths under /api/search; the legacy /api surface owns the rest.
SEARCH_PATHS = frozenset({"/api/search", "/api/search/random", "/api/search/ids",
                          "/api/search/cache"})


def _validation_errors(messages: Any) -> list[dict[str, str]]:
    """webargs' ``{"query": {"start": ["Not a valid integer."]}}`` as the
    OpenAPI validator's ``[{"message": ..., "path": "/start"}]``."""
    errors: list[dict[str, str]] = []

    def walk(path: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{path}/{key}", value)
        elif isinstance(node, list) and all(isinstance(item, str) for item in node):
            errors.extend({"message": item, "path": path or "/"} for item in node)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(f"{path}/{index}", item)
        else:
            errors.append({"message": str(node), "path": path or "/"})

    # The top level names where the parameter was read from (query, json...).
    for value in (messages.values() if isinstance(messages, dict) else [messages]):
        walk("", value)
    return errors or [{"message": "Invalid request", "path": "/"}]


def render_error(status: int, code: str, message: str, details: Any) -> Response:
    if isinstance(details, LrrBody):
        return json_response(details.body, status)
    if code == "validation_error":
        return json_response({"errors": _validation_errors(details), "status": status}, status)
    # A route's own operation, or for an unknown path or method the error's
    # code ("not_found", "method_not_allowed"): LANraragi's error shape.
    return json_response(operation_body(current_operation() or code or "error",
                                        error=message or "Error"), status)


def render_search_error(status: int, code: str, message: str, details: Any) -> Response:
    """``/api/search`` is shared: LANraragi's paths answer in its shape, the
    legacy surface's ``/api/search/*`` paths in that surface's."""
    if request.path.rstrip("/") in SEARCH_PATHS:
        return render_error(status, code, message, details)
    fallback = None
    for surface in current_app.extensions.get("comicsrv.surfaces", []):
        if surface.name != ARCHIVE_SURFACE and (
                request.path == surface.prefix
                or request.path.startswith(surface.prefix.rstrip("/") + "/")) and (
                fallback is None or len(surface.prefix) > len(fallback.prefix)):
            fallback = surface
    renderer = fallback.render_error if fallback else default_error
    return renderer(status, code, message, details)
