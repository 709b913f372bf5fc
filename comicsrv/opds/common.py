"""What every OPDS view shares: links, paging, the on/off switch and errors.

Links are absolute (some apps resolve relative links against the wrong
base) and carry the caller's URL key when the request came with one
(``comicsrv.opds.keys``). Paging is 1-based ``?page=``; bad values fall back
to the first page rather than failing an app that built the URL itself.

Errors: OPDS apps show a plain message at best, so OPDS 1.2 answers plain
text; OPDS 2 answers a JSON problem (RFC 9457), and its 401 is the OPDS
Authentication Document that tells the app to ask for a user name and
password. Every 401 carries ``WWW-Authenticate: Basic realm="comicsrv"``,
which is what makes Panels, Chunky or Thorium prompt.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from flask import Response, jsonify, request

from ..api.pagination import DEFAULT_PAGE_SIZE, Paging, lenient_paging
from ..errors import NotFound
from .keys import LINK_KEY

OPDS_SURFACE = "opds"
V1_PREFIX = "/opds/v1.2"
V2_PREFIX = "/opds/v2.0"
REALM = 'Basic realm="comicsrv"'

ATOM_NAVIGATION = "application/atom+xml;profile=opds-catalog;kind=navigation"
ATOM_ACQUISITION = "application/atom+xml;profile=opds-catalog;kind=acquisition"
ATOM_ENTRY = "application/atom+xml;type=entry;profile=opds-catalog"
OPENSEARCH = "application/opensearchdescription+xml"
OPDS_JSON = "application/opds+json"
OPDS_PUBLICATION_JSON = "application/opds-publication+json"
OPDS_AUTHENTICATION_JSON = "application/opds-authentication+json"
DIVINA_JSON = "application/divina+json"
PROGRESSION_JSON = "application/vnd.readium.progression+json"
REL_PROGRESSION = "http://www.cantook.com/api/progression"

# What a comic file downloads as (CLU's types, plus CB7 and CBT).
FILE_TYPES = {"cbz": "application/vnd.comicbook+zip", "cbr": "application/vnd.comicbook-rar",
              "cb7": "application/x-cb7", "cbt": "application/x-cbt", "pdf": "application/pdf"}


def file_type(fmt: str | None) -> str:
    return FILE_TYPES.get(fmt or "", "application/octet-stream")


# -- links ------------------------------------------------------------------------


def base(prefix: str) -> str:
    """The absolute URL of a catalogue version, with the caller's URL key."""
    key = request.environ.get(LINK_KEY)
    root = request.url_root.rstrip("/") + prefix
    return f"{root}/key/{quote(key, safe='')}" if key else root


def link(prefix: str, path: str, query: Mapping[str, Any] | None = None) -> str:
    """``prefix`` + ``path`` (which starts with ``/``) + the non-empty query values."""
    href = base(prefix) + path
    params = {name: value for name, value in (query or {}).items()
              if value is not None and value != ""}
    return f"{href}?{urlencode(params)}" if params else href


def iso(value: datetime | None) -> str:
    """RFC 3339 in UTC with a ``Z``, as Atom and OPDS 2 want (naive = UTC)."""
    value = value or datetime.now(UTC)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


# -- paging -----------------------------------------------------------------------


def paging(args: Mapping[str, Any] | None = None) -> Paging:
    return lenient_paging(request.args if args is None else args)


@dataclass(frozen=True)
class PageLinks:
    """``first``/``previous``/``next``/``last`` of a paged feed (None: no such page)."""

    first: str
    previous: str | None
    next: str | None
    last: str
    total: int
    page: Paging

    @property
    def pages(self) -> int:
        return self.page.pages(self.total)


def page_links(prefix: str, path: str, query: Mapping[str, Any], at: Paging,
               total: int) -> PageLinks:
    last = at.pages(total)
    size = at.size if at.size != DEFAULT_PAGE_SIZE else None

    def href(number: int) -> str:
        return link(prefix, path, {**query, "page": number if number > 1 else None,
                                   "page_size": size})

    return PageLinks(first=href(1), previous=href(min(at.page - 1, last)) if at.page > 1 else None,
                     next=href(at.page + 1) if at.page < last else None, last=href(last),
                     total=total, page=at)


# -- the switch -------------------------------------------------------------------


def check_enabled(endpoint: str | None, values: dict | None) -> None:
    """``url_value_preprocessor`` of every OPDS blueprint: it runs before any
    ``before_request`` hook, so a switched-off catalogue is a 404 without an
    authentication prompt first."""
    from ..settings_store import get_setting

    if not get_setting("opds.enabled"):
        raise NotFound("The OPDS catalogue is switched off (admin setting opds.enabled)",
                       code="opds_disabled")


# -- errors -----------------------------------------------------------------------


def authentication_document() -> dict[str, Any]:
    """OPDS Authentication 1.0: Basic, with the labels an app shows."""
    return {
        "id": link(V2_PREFIX, "/auth"),
        "title": "comicsrv",
        "description": "Sign in with your comicsrv user name and password.",
        "authentication": [{"type": "http://opds-spec.org/auth/basic",
                            "labels": {"login": "User name", "password": "Password"}}],
        "links": [{"rel": "start", "href": link(V2_PREFIX, "/catalog"), "type": OPDS_JSON}],
    }


def render_error(status: int, code: str, message: str, details: Any) -> Response:
    if request.path.startswith(V2_PREFIX + "/") or request.path == V2_PREFIX:
        if status == 401:
            response = jsonify(authentication_document())
            response.mimetype = OPDS_AUTHENTICATION_JSON
        else:
            response = jsonify({"type": "about:blank", "title": code, "status": status,
                                "detail": message})
            response.mimetype = "application/problem+json"
    else:
        response = Response(message + "\n", mimetype="text/plain")
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response
