"""The two requests reader apps make most, answered in front of Flask.

A reader turning pages asks for ``/api/v1/books/<id>/pages/<n>``, and a
grid of covers for ``/api/v1/books/<id>/thumbnail``, hundreds of times a
minute with the same credentials. Through Flask, flask-smorest and webargs
such a request cost five times what the gevent server itself spends
answering a trivial request with the same bytes (``bench/bench_http.py``):
request and app contexts, URL matching, an argument schema, hooks, response
objects. Here, in front of Flask, the common case of each is answered
directly, by the same functions the views call: the caller's principal
from ``comicsrv.auth.principal_cache``, the one indexed query of
``comicsrv.library.access.book_file_query``, the validators and 304s of
``comicsrv.api.media``, the page's byte range or the cover's cache file as
a ``FileBody`` the server sends with ``sendfile``.

Only the plain case is taken: a GET or HEAD whose query has nothing but
``v`` (pages) or ``size`` (covers), from a caller the principal cache holds
(an API key, a Bearer token, the session cookie) with the permission the
view declares, for a page stored uncompressed or a cover already made.
Everything else goes to Flask untouched: a resize or another format, a
caller the cache does not hold (the first request of a key, HTTP Basic, a
revoked or unknown key), a key whose ``last_used_at`` is due, a page that
must be unpacked, a cover not made yet, a book out of scope, a missing or
changed file. So every refusal, error envelope and side effect is the
view's own, and the two answer alike header for header
(``tests/api/test_hotpath.py``).

A book's row (``BookFile``) is kept for ``BOOK_TTL`` seconds per caller
scope: a reader turns a book's pages one request after another, and the
query was two thirds of a page request, nearly all of it SQLAlchemy's
checkout, execution and result set-up around SQLite's few microseconds.
It is still safe: the file itself is checked against the row on every
page (``MediaService._stored_page_file``: open and fstat, as before), and
every write this process makes to ``books`` or ``libraries`` (ORM or Core,
at its execution and at its commit) drops every kept row. A write by
another process (several workers on PostgreSQL) is seen within
``BOOK_TTL``: a book hidden or removed there may be served for that long,
as it would be to a request already past its query.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import http_date, parse_cookie, parse_date, parse_etags, quote_etag

from .. import images, services
from ..auth.declarations import declares_state_change_on_get
from ..auth.decorators import NEVER, declared_access
from ..auth.permissions import ADMIN
from ..auth.principal import LAST_USED_RESOLUTION
from ..auth.principal_cache import EXTENSION as PRINCIPALS, Entry
from ..auth.secrets import hash_token
from ..auth.tokens import SESSION_COOKIE
from ..errors import DomainError
from ..extensions import db
from ..filebody import FileBody
from ..library.access import BookFile, book_file_query
from ..library.media import SNIFF_BYTES, book_version
from .media import IMMUTABLE, REVALIDATE, THUMBNAIL_CACHE
from .v1.schemas import THUMBNAIL_EDGE

log = logging.getLogger(__name__)

PAGE_PATH = "/api/v1/books/1/pages/1"
COVER_PATH = "/api/v1/books/1/thumbnail"
_PAGE = re.compile(r"/api/v1/books/([0-9]{1,10})/pages/([0-9]{1,10})\Z")
_COVER = re.compile(r"/api/v1/books/([0-9]{1,10})/thumbnail\Z")
_MAX_ID = 2**31 - 1
# What a query value may be for the hot path to read it as the view would.
_VERSION = re.compile(r"[0-9A-Za-z]{1,64}\Z")
_DIGITS = re.compile(r"[0-9]{1,6}\Z")
#: A hot path answer: status, headers, body, endpoint for the metrics.
Answer = tuple[str, list[tuple[str, str]], Iterable[bytes], str]
#: Seconds a book's row is reused without asking the database (see above).
BOOK_TTL = 2.0
#: Books kept at most (the oldest go first): ~300 bytes each.
BOOK_CACHE_SIZE = 2048
#: Tables whose change may change a ``BookFile`` or who may see it.
_BOOK_TABLES = ("books", "libraries")


class _Route:
    """A view the hot path may answer for: its endpoint and permission."""

    def __init__(self, endpoint: str, permission: str) -> None:
        self.endpoint = endpoint
        self.permission = permission


class HotPath:
    """WSGI in front of Flask's own ``wsgi_app`` (inside ``UrlBase`` and
    the proxy fix, so paths and addresses are already the app's)."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.next = wsgi_app
        self._ready = False
        self._lock = threading.Lock()
        # Off: every request goes to Flask (the tests compare the two).
        self.enabled = True
        self.page: _Route | None = None
        self.cover: _Route | None = None
        # (library ids or None, book id) -> (expiry, generation, row)
        self._books: dict[tuple, tuple[float, int, BookFile]] = {}
        self._generation = 0

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if ((method == "GET" or method == "HEAD") and path.startswith("/api/v1/books/")
                and self.enabled):
            started = time.perf_counter()
            if not self._ready:
                self._prepare()
            try:
                answer = self._answer(environ, method, path)
            except (DomainError, OSError, SQLAlchemyError, ValueError) as exc:
                # The view meets the same trouble and answers it properly.
                log.debug("hot path: %s %s left to Flask: %s", method, path, exc)
                answer = None
            if answer is not None:
                status, headers, body, endpoint = answer
                start_response(status, headers)
                if self.observe is not None:
                    self.observe(method, endpoint, int(status[:3]),
                                 time.perf_counter() - started)
                return body
        return self.next(environ, start_response)

    # -- set-up --------------------------------------------------------------------

    def _prepare(self) -> None:
        """At the first request, once every route is registered: find the
        views and what they declare; a view that is not a plain
        permission check (an anonymous rule, a GET that changes state) is
        left to Flask entirely."""
        with self._lock:
            if self._ready:
                return
            with self.app.app_context():
                self.engine = db.engine
            self._watch_book_writes()
            self.principals = self.app.extensions[PRINCIPALS]
            self.media = services.media(self.app)
            self.observe = self.app.extensions.get("comicsrv.metrics.observe")
            self.page = self._route(PAGE_PATH)
            self.cover = self._route(COVER_PATH)
            self._ready = True

    def _watch_book_writes(self) -> None:
        """Drop the kept books on every statement of this process that may
        write ``books`` or ``libraries``, and again when its transaction
        ends: a request that read the old row between the two must not
        keep it."""
        def executed(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if statement[:6].upper() != "SELECT" and any(
                    table in statement for table in _BOOK_TABLES):
                conn.info["comicsrv.books_written"] = True
                self._forget_books()

        def ended(conn: Any) -> None:
            if conn.info.pop("comicsrv.books_written", False):
                self._forget_books()

        event.listen(self.engine, "after_cursor_execute", executed)
        event.listen(self.engine, "commit", ended)
        event.listen(self.engine, "rollback", ended)

    def _forget_books(self) -> None:
        self._generation += 1
        self._books.clear()

    def _route(self, sample_path: str) -> _Route | None:
        try:
            endpoint, _ = self.app.url_map.bind("localhost").match(sample_path, method="GET")
        except Exception:  # the route is gone: nothing to answer for
            return None
        access = declared_access(self.app, endpoint, "GET")
        if (access is None or access.permission is None or access.anonymous != NEVER
                or declares_state_change_on_get(self.app, endpoint, "GET")):
            return None
        return _Route(endpoint, access.permission)

    # -- answering -----------------------------------------------------------------

    def _answer(self, environ: dict, method: str, path: str) -> Answer | None:
        match = _PAGE.match(path)
        if match is not None and self.page is not None:
            query = _query(environ, ("v",))
            if query is None or not _VERSION.match(query.get("v", "0")):
                return None
            book = self._book(environ, self.page, int(match.group(1)))
            if book is None:
                return None
            return self._page(environ, method, book, int(match.group(2)), query.get("v"))
        match = _COVER.match(path)
        if match is not None and self.cover is not None:
            query = _query(environ, ("size",))
            if query is None or not _DIGITS.match(query.get("size", "0")):
                return None
            book = self._book(environ, self.cover, int(match.group(1)))
            if book is None:
                return None
            return self._cover(environ, method, book, query.get("size"))
        return None

    def _book(self, environ: dict, route: _Route, book_id: int) -> BookFile | None:
        entry = self._caller(environ)
        if entry is None or not (ADMIN in entry.permissions
                                 or route.permission in entry.permissions):
            return None
        if not 0 < book_id <= _MAX_ID:
            return None
        library_ids = entry.user["library_ids"]
        key = (tuple(library_ids) if library_ids is not None else None, book_id)
        now = time.monotonic()
        kept = self._books.get(key)
        if kept is not None and kept[0] > now and kept[1] == self._generation:
            return kept[2]
        generation = self._generation
        statement, params = book_file_query(library_ids, book_id)
        with self.engine.connect() as connection:
            row = connection.execute(statement, params).first()
        if row is None:
            return None
        book = BookFile(*row)
        if generation == self._generation:  # no write to books since the query began
            if len(self._books) >= BOOK_CACHE_SIZE:
                del self._books[next(iter(self._books))]
            self._books[key] = (now + BOOK_TTL, generation, book)
        return book

    def _caller(self, environ: dict) -> Entry | None:
        """The cached principal of the request's credentials, looked for in
        the order ``comicsrv.auth.principal.RESOLVERS`` tries them; None
        (Flask resolves it) for anything the cache does not answer."""
        key = environ.get("HTTP_X_API_KEY")
        if key:
            return self._remembered("api_key", key)
        authorization = environ.get("HTTP_AUTHORIZATION")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            value = value.strip()
            if scheme.lower() != "bearer" or not value:
                return None  # HTTP Basic and the like: every request is checked
            if "." in value:
                return self._remembered("jwt", value)
            return self._remembered("api_key", value) or \
                self._remembered("client_token", value)
        cookies = environ.get("HTTP_COOKIE")
        if cookies:
            token = parse_cookie(cookies).get(SESSION_COOKIE)
            if token:
                return self._remembered("session", token)
        return None

    def _remembered(self, kind: str, credential: str) -> Entry | None:
        entry = self.principals.get((kind, hash_token(credential)))
        if entry is None:
            return None
        if (entry.used_row is not None and time.monotonic() - entry.stamped
                >= LAST_USED_RESOLUTION.total_seconds()):
            return None  # last_used_at is due: the view writes it
        return entry

    def _page(self, environ: dict, method: str, book: BookFile, number: int,
              asked_version: str | None) -> Answer | None:
        if not 1 <= number <= book.page_count:
            return None
        version = book_version(book)
        cache_control = IMMUTABLE if asked_version == version else REVALIDATE
        etag = f"{version}-{number}-0x0-orig"
        endpoint = self.page.endpoint
        if _not_modified(environ, etag, book.mtime):
            return _answer_304(etag, cache_control, book.mtime, endpoint)
        body = self.media._stored_page_file(book, number - 1)
        if body is None:
            return None
        try:
            mime = images.mime_type(images.sniff(body.head(SNIFF_BYTES)))
        except BaseException:
            body.close()
            raise
        return _answer_200(method, body, mime, etag, cache_control, book.mtime, endpoint)

    def _cover(self, environ: dict, method: str, book: BookFile,
               size: str | None) -> Answer | None:
        edge = max(images.MIN_EDGE, min(images.MAX_EDGE, int(size or THUMBNAIL_EDGE)))
        key = self.media.cover_key(book, edge)
        cache_control = THUMBNAIL_CACHE
        endpoint = self.cover.endpoint
        if _not_modified(environ, key, None):
            return _answer_304(key, cache_control, None, endpoint)
        try:
            body = FileBody.open(self.media.cover_path(key))
        except FileNotFoundError:
            return None  # not made yet: the view makes it
        try:
            modified = os.fstat(body.fd).st_mtime
            if _not_modified(environ, key, modified):
                body.close()
                return _answer_304(key, cache_control, modified, endpoint)
        except BaseException:
            body.close()
            raise
        return _answer_200(method, body, "image/jpeg", key, cache_control, modified, endpoint)


def _query(environ: dict, allowed: tuple[str, ...]) -> dict[str, str] | None:
    """The query as a dict when it names nothing but ``allowed``, each at
    most once; else None."""
    raw = environ.get("QUERY_STRING", "")
    if not raw:
        return {}
    pairs = parse_qsl(raw, keep_blank_values=True)
    query = dict(pairs)
    if len(query) != len(pairs) or any(name not in allowed for name in query):
        return None
    return query


def _not_modified(environ: dict, etag: str, last_modified: float | None) -> bool:
    """As ``comicsrv.api.media.not_modified`` decides, from the environ."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return parse_etags(if_none_match).contains(etag)
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since and last_modified is not None:
        when = parse_date(since)
        return when is not None and int(last_modified) <= when.timestamp()
    return False


def _validators(etag: str, cache_control: str, last_modified: float | None) -> list:
    headers = [("ETag", quote_etag(etag))]
    if last_modified is not None:
        headers.append(("Last-Modified", http_date(int(last_modified))))
    headers.append(("Cache-Control", cache_control))
    return headers


def _answer_304(etag: str, cache_control: str, last_modified: float | None,
                endpoint: str) -> Answer:
    # Without Last-Modified, as Werkzeug sends a 304 (RFC 9110 15.4.5 asks
    # only for the ETag and Cache-Control a 200 would carry).
    return "304 NOT MODIFIED", _validators(etag, cache_control, None), [], endpoint


def _answer_200(method: str, body: FileBody, mime: str, etag: str, cache_control: str,
                last_modified: float | None, endpoint: str) -> Answer:
    headers = [("Content-Type", mime), ("Content-Length", str(body.length)),
               *_validators(etag, cache_control, last_modified)]
    if method == "HEAD":
        body.close()
        return "200 OK", headers, [], endpoint
    return "200 OK", headers, body, endpoint


def install(app: Flask) -> None:
    """Put the hot path in front of Flask's own request handling: call
    before any WSGI middleware wraps ``app.wsgi_app``."""
    app.wsgi_app = app.extensions["comicsrv.hotpath"] = HotPath(app, app.wsgi_app)
