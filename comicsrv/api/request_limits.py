"""What a request may send: the size of its body, the shape of its JSON, the
ids in its path. A hostile client gets a 4xx in the surface's envelope at
the edge, before any of it costs memory or reaches a view or the database.

- **Body size.** ``MAX_REQUEST_BYTES`` (JSON and forms; Flask's
  ``MAX_CONTENT_LENGTH``) unless the view declares a larger limit with
  :func:`accepts_upload` (LANraragi's archive upload, which streams to disk:
  ``MAX_UPLOAD_BYTES``). A Content-Length above the limit is refused with
  413 before a byte of the body is read, whoever the caller is; a chunked
  body without one is cut off with 413 once it passes the limit (werkzeug's
  ``LimitedStream``), so no body bigger than the limit is ever held.
- **JSON.** Every JSON body is vetted here by :func:`loads` before a view
  parses it: UTF-8 only, nesting at most ``MAX_JSON_DEPTH`` deep (the
  json module recurses once per level, and so do the schemas and filters
  after it), integers within 64 bits (Python refuses to convert 4300+
  digits and the databases refuse anything wider) and finite numbers. A
  JSON view that receives a body of another type answers 415 instead of
  silently ignoring it. (Text that no database can store, NUL and lone
  surrogates, is refused by each field's validator, with the error code
  its surface documents, e.g. CLU's ``invalid_path``.)
- **Paths.** No NUL: it cannot name a row, a file or a route.
- **Ids in paths.** ``<int:...>`` matches 1 to 10 ASCII digits up to
  2**31-1, the range of the primary keys (32-bit ``integer`` columns on
  PostgreSQL); anything longer or larger is a 404 like any other unknown
  row, never an overflow in the database.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

from flask import Flask, current_app, request
from flask_smorest import abort
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.routing import IntegerConverter

MAX_JSON_DEPTH = 32
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
MAX_ROW_ID = 2**31 - 1  # primary keys are 32-bit integer columns on PostgreSQL
# An upload limit of 0 means none; werkzeug needs a number.
UNLIMITED = 2**62
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_BRACKETS_AND_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class InvalidJson(ValueError):
    """A JSON body this server will not read, and why."""


# -- JSON ---------------------------------------------------------------------------

def _too_deep(text: str) -> bool:
    """Whether brackets outside strings nest deeper than ``MAX_JSON_DEPTH``
    (found without parsing, so a million ``[`` never reach the parser)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for token in _BRACKETS_AND_STRINGS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _parse_int(digits: str) -> int:
    # The length test first: int() of 4300+ digits raises, and is slow below that.
    if len(digits.lstrip("-")) > 19 or not INT64_MIN <= (value := int(digits)) <= INT64_MAX:
        raise InvalidJson(f"the integer {digits[:24]}{'...' if len(digits) > 24 else ''} "
                          "does not fit in 64 bits")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"the number {text[:24]} is out of range")
    return value


def _parse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON value")


def loads(data: bytes | str) -> Any:
    """Parse a request's JSON within the bounds above; ``InvalidJson`` (a
    ``ValueError``, as Flask expects of a JSON loader) says what is wrong."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJson(f"the body is not UTF-8 (byte {exc.start})") from None
    else:
        text = data
    if _too_deep(text):
        raise InvalidJson(f"arrays and objects nest more than {MAX_JSON_DEPTH} deep")
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_parse_constant)
    except InvalidJson:
        raise
    except ValueError as exc:  # json.JSONDecodeError
        raise InvalidJson(str(exc)) from None
    return value


# -- body size ----------------------------------------------------------------------

def accepts_upload(view: Callable) -> Callable:
    """Let this view receive a body up to ``MAX_UPLOAD_BYTES`` rather than
    ``MAX_REQUEST_BYTES``: for a file upload that streams to disk."""
    view.body_limit_setting = "MAX_UPLOAD_BYTES"
    return view


def _view_method(app: Flask) -> Callable | None:
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    view_class = getattr(view, "view_class", None)
    return getattr(view_class, request.method.lower(), None) if view_class is not None else view


def body_limit(app: Flask) -> int:
    """The most bytes this request's view accepts."""
    setting = getattr(_view_method(app), "body_limit_setting", "MAX_REQUEST_BYTES")
    return int(app.config[setting]) or UNLIMITED


def _refuse_large_bodies() -> None:
    """Before anything else, credentials included: a declared length above
    the limit is refused unread; reading a chunked body stops at it."""
    limit = body_limit(current_app)
    request.max_content_length = limit
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(_too_large(limit))


def _too_large(limit: int) -> str:
    return f"The request body is larger than this endpoint accepts ({limit} bytes)."


# -- JSON bodies and paths -------------------------------------------------------------

def _declares_json_body(app: Flask) -> bool:
    """Whether the view reads a JSON body (flask-smorest's ``arguments``
    with the default location)."""
    apidoc = getattr(_view_method(app), "_apidoc", None) or {}
    parameters = apidoc.get("arguments", {}).get("parameters", [])
    return any(p.get("in") == "json" for p in parameters if isinstance(p, dict))


def _check_body() -> None:
    """Vet a JSON body with :func:`loads`, whoever parses it afterwards (the
    view's schema, a plugin's ``request.get_json()``: both read the same
    cached bytes, now known to be harmless), and refuse a body of another
    type where the view only reads JSON."""
    if request.method not in BODY_METHODS:
        return
    if request.is_json:
        data = request.get_data(cache=True)
        if request.content_length is None and len(data) >= request.max_content_length:
            # A streamed body: werkzeug stops reading at the limit without
            # saying whether more was coming, and the rest is never read.
            raise RequestEntityTooLarge(_too_large(request.max_content_length))
        if data:
            try:
                loads(data)
            except InvalidJson as exc:
                abort(400, messages={"json": [f"Invalid JSON body: {exc}"]})
    elif _has_body() and _declares_json_body(current_app):
        raise UnsupportedMediaType(f"This endpoint reads a JSON body: send it with "
                                   f"Content-Type: application/json "
                                   f"(not {request.mimetype or 'no Content-Type'}).")


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", "").lower()


def _refuse_nul_in_path() -> None:
    if "\x00" in request.path:
        abort(400, messages={"path": ["NUL characters are not allowed."]})


class RowIdConverter(IntegerConverter):
    """``<int:...>`` for row ids: ASCII digits, at most ``MAX_ROW_ID``."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ROW_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def install_request_limits(app: Flask) -> None:
    """Before any blueprint is registered: the converter applies to the
    rules as they are added, and the size check must run first of all
    ``before_request`` hooks (the credential check reads forms)."""
    app.url_map.converters["int"] = RowIdConverter
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(0, _refuse_large_bodies)
    app.before_request(_refuse_nul_in_path)


def install_body_checks(app: Flask) -> None:
    """After the credential check, so a caller without credentials learns
    nothing from a 400 about the body."""
    app.before_request(_check_body)
