"""One error handler per API surface.

Each surface (``/api/v1``, the LANraragi archive API, the legacy ``/api``)
owns a URL prefix and a function that renders an error in its envelope. The
app-level handlers below pick the surface by the longest matching prefix, so
a 404 for an unknown path, a 405, a webargs validation error, a domain
exception and an unexpected crash all come out in the shape that surface's
clients parse.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from ..redact import mask_text
# The registry itself is shared with auth (the ?apikey= rule); re-exported for the surfaces.
from ..surface_registry import ErrorRenderer, Surface, register_surface, surface_for_path

__all__ = ["ErrorRenderer", "Surface", "register_surface", "surface_for_path", "default_error",
           "render_error", "install_error_handlers", "HTTP_CODES"]

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 410: "gone",
    411: "length_required", 413: "payload_too_large", 415: "unsupported_media_type",
    416: "range_not_satisfiable", 417: "expectation_failed", 422: "validation_error",
    429: "too_many_requests", 500: "internal_error", 501: "not_implemented",
    503: "unavailable",
}


def default_error(status: int, code: str, message: str, details: Any) -> Response:
    """The ``/api/v1`` shape (Codex's, with CLU's snake-case codes)."""
    response = jsonify({"error": code, "message": message, "details": details})
    response.status_code = status
    return response


def render_error(status: int, code: str, message: str, details: Any = None) -> Response:
    from flask import current_app

    surface = surface_for_path(current_app, request.path)
    renderer = surface.render_error if surface else default_error
    return renderer(status, code, message, details)


def _http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    details = None
    # webargs/flask-smorest put the field messages here on a 422.
    data = getattr(exc, "data", None) or {}
    if "messages" in data:
        details = data["messages"]
        status = 400  # both seeds answer bad input with 400
        message = "Invalid request: " + _summarise(details)
        code = "validation_error"
    else:
        message = exc.description or exc.name
        code = HTTP_CODES.get(status, exc.name.lower().replace(" ", "_"))
    response = render_error(status, code, message, details)
    if status == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    for name, value in (exc.get_headers() if hasattr(exc, "get_headers") else []):
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def _summarise(messages: Any) -> str:
    """``{"json": {"page": ["Not a valid integer."]}}`` → ``page: Not a valid integer.``"""
    parts = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                label = prefix if key in ("json", "query", "form", "headers", "files",
                                          "view_args", "path", "cookies") else (
                    f"{prefix}.{key}" if prefix else str(key))
                walk(label, value)
        elif isinstance(node, list) and all(isinstance(x, str) for x in node):
            parts.append(f"{prefix or 'body'}: {' '.join(node)}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(f"{prefix}[{index}]", value)
        else:
            parts.append(f"{prefix}: {node}")

    walk("", messages)
    return "; ".join(parts) or "invalid input"


def _domain_error(exc: DomainError) -> Response:
    # A plugin's message may name the URL it failed on, apikey= and all.
    response = render_error(exc.status, exc.code, mask_text(exc.message), exc.details)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(500, "internal_error", "Internal server error; see the server log", None)


def install_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's own handler, so these win.
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(Exception, _unexpected)
