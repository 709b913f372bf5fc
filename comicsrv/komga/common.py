"""What every Komga view shares: the blueprint, the on/off switch, Komga's
paging (0-based ``page``, ``size``, ``unpaged``, ``sort=property,direction``)
and its Spring page envelope, string ids, dates and errors.

Komga's clients (Mihon's Komga extension, Komelia, Paperback) take the
server address and append ``/api/v1/...``: the address to type is
``http(s)://host/komga``. They send HTTP Basic (Mihon only after a 401,
OkHttp's authenticator) or ``X-API-Key``, both resolved by
``comicsrv.auth.principal`` like on every other surface.

Ids are strings in Komga. Ours are integers written as strings; an id that
is not one of ours (not digits, or past a 32-bit column) is simply not found.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable, Iterable, Mapping, Sequence

from flask import Response, json, request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..api.errors_doc import ErrorEnvelope
from ..api.validators import plain_text
from ..errors import NotFound
from ..library.search import MAX_QUERY_LENGTH

KOMGA_SURFACE = "komga"
PREFIX = "/komga"
SECURITY: list[dict[str, list[str]]] = [{"Basic": []}, {"ApiKeyHeader": []}]
DEFAULT_SIZE = 20
MAX_SIZE = 500
# ``unpaged=true``: every row, up to this many (a series' books, a read list).
MAX_UNPAGED = 10_000
MAX_PAGE = 1_000_000
MAX_ID = 2**31 - 1
# The Komga version this surface answers as (clients gate features on it).
KOMGA_VERSION = "1.21.2"

blp = Blueprint("komga", __name__, url_prefix=PREFIX,
                description="Komga-compatible API for Mihon's Komga extension, Komelia and "
                            "Paperback (server address: <host>/komga)")


def check_enabled(endpoint: str | None, values: dict | None) -> None:
    """Before any authentication: a switched-off surface is a plain 404."""
    from ..settings_store import get_setting

    if not get_setting("komga.enabled"):
        raise NotFound("The Komga API is switched off (admin setting komga.enabled)",
                       code="komga_disabled")


blp.url_value_preprocessor(check_enabled)




TEXT: list[Callable[[Any], Any]] = [validate.Length(max=500), plain_text]
# A search: what the library's search service takes.
SEARCH_TEXT: list[Callable[[Any], Any]] = [validate.Length(max=MAX_QUERY_LENGTH), plain_text]


def parse_id(value: str) -> int:
    """Our integer id from a Komga string id; anything else is a 404."""
    if not value.isascii() or not value.isdigit() or len(value) > 10 or int(value) > MAX_ID:
        raise NotFound(f"No such id: {value[:60]!r}")
    return int(value)


def ids_of(values: Iterable[str] | None) -> list[int]:
    """Integer ids from Komga's list arguments (repeated and/or comma-separated);
    values that cannot be ours are dropped (they match nothing)."""
    found = []
    for value in values or ():
        for part in value.split(","):
            part = part.strip()
            if part.isascii() and part.isdigit() and len(part) <= 10 and int(part) <= MAX_ID:
                found.append(int(part))
    return found


def names_of(values: Iterable[str] | None) -> list[str]:
    return [part for value in values or () for part in value.split(",") if part]


def stamp(value: datetime | None) -> str:
    """Komga's date-time: ISO 8601 in UTC with a ``Z`` (naive = UTC)."""
    value = value or datetime(1970, 1, 1)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def komga_json(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


# -- paging -----------------------------------------------------------------------


class PageArgs(Schema):
    """Spring's ``Pageable``: ``page`` from 0, ``size``, ``sort``, and Komga's ``unpaged``."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_PAGE),
                          metadata={"description": "page number, from 0"})
    size = fields.Integer(load_default=DEFAULT_SIZE, validate=validate.Range(min=1, max=MAX_SIZE))
    unpaged = fields.Boolean(load_default=False)
    sort = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list,
                       metadata={"description": "property,asc|desc (repeatable)"})


@dataclass(frozen=True)
class Paging:
    page: int  # from 0
    size: int
    unpaged: bool = False

    @property
    def offset(self) -> int:
        return self.page * self.size

    @classmethod
    def of(cls, args: Mapping[str, Any]) -> "Paging":
        if args.get("unpaged"):
            return cls(0, MAX_UNPAGED, True)
        return cls(args.get("page", 0), args.get("size", DEFAULT_SIZE))

    def opds(self):
        """The same page as ``comicsrv.opds.common.Paging`` (from 1)."""
        from ..opds.common import Paging as OpdsPaging

        return OpdsPaging(self.page + 1, self.size)


def sorts(args: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """``sort=metadata.titleSort,asc`` (repeatable) → [(property, ascending)]."""
    found = []
    for value in args.get("sort") or ():
        prop, _, direction = value.partition(",")
        if prop:
            found.append((prop.strip(), direction.strip().lower() != "desc"))
    return found


def envelope(content: Sequence[Any], total: int, at: Paging,
             sort: Sequence[tuple[str, bool]] = ()) -> dict[str, Any]:
    """Spring Data's ``Page`` as Komga serializes it."""
    sort_info = {"sorted": bool(sort), "unsorted": not sort, "empty": not sort}
    size = max(total, len(content)) if at.unpaged else at.size
    pages = 1 if at.unpaged else math.ceil(total / at.size) if total else 0
    number = 0 if at.unpaged else at.page
    return {
        "content": list(content),
        "pageable": {"sort": sort_info, "offset": 0 if at.unpaged else at.offset,
                     "pageNumber": number, "pageSize": size,
                     "paged": not at.unpaged, "unpaged": at.unpaged},
        "totalElements": total,
        "totalPages": pages,
        "last": number >= pages - 1,
        "size": size,
        "number": number,
        "sort": sort_info,
        "numberOfElements": len(content),
        "first": number == 0,
        "empty": not content,
    }


# -- errors -----------------------------------------------------------------------

REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
           415: "Unsupported Media Type", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


class KomgaErrorSchema(Schema):
    """Spring Boot's error body, as Komga answers it, with our code beside it."""

    timestamp = fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    status = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    error = fields.String(required=True, metadata={"description": "the HTTP reason phrase"})
    code = fields.String(required=True, metadata={"description": "comicsrv's snake-case code",
                                                  "example": "not_found"})
    message = fields.String(required=True)
    path = fields.String(required=True)


KOMGA_ENVELOPE = ErrorEnvelope("KomgaError", KomgaErrorSchema)


def render_error(status: int, code: str, message: str, details: Any) -> Response:
    """Spring Boot's error body, as Komga answers, with our code beside it."""
    response = komga_json({"timestamp": stamp(datetime.now(UTC)), "status": status,
                           "error": REASONS.get(status, code), "code": code,
                           "message": message, "path": request.path}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="comicsrv"'
    return response
