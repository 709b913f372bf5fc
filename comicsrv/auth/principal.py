"""Who is calling: resolve a request's credentials to a principal.

Accepted: ``X-API-Key``; ``Authorization: Bearer`` with an API key, a client
token or a JWT from ``/api/v1/auth/login`` (tried in that order); HTTP Basic;
and the web UI's ``comicsrv_session`` cookie (the same JWT). Each kind is one
function in ``RESOLVERS``.
"""
from __future__ import annotations

import base64
import binascii
import time
from datetime import datetime, timedelta
from typing import Callable

from flask import request
from sqlalchemy import update
from sqlalchemy.orm import joinedload

from ..errors import DomainError, Forbidden, Unauthorized
from ..extensions import db
from ..models import ApiKey, ClientToken, User, utcnow
from . import principal_cache
from .csrf import SAFE_METHODS, check_cookie_request
from .declarations import changes_state_on_get_here
from .login import password_login
from .permissions import ADMIN, PERMISSIONS, for_user
from .secrets import hash_token
from .tokens import SESSION_COOKIE, user_and_expiry_for_token


class Principal:
    """Who is calling: the user, how they proved it (``method``: api_key |
    basic | session | jwt | client_token), what they may do, and the API
    key used, if any.

    A principal from the cache (``comicsrv.auth.principal_cache``) makes
    its ``user`` object only when a view asks for it; ``user_id`` and
    ``library_ids`` (the user's library scope, None for all) are there
    without it, which is all a page or cover request needs."""

    __slots__ = ("method", "permissions", "api_key_id", "user_id", "library_ids", "_user",
                 "_entry")

    def __init__(self, user: User, method: str, permissions: frozenset[str] = frozenset(),
                 api_key_id: int | None = None) -> None:
        self.method = method
        self.permissions = permissions
        self.api_key_id = api_key_id
        self.user_id = user.id
        self.library_ids = user.library_ids
        self._user: User | None = user
        self._entry: principal_cache.Entry | None = None

    @classmethod
    def remembered(cls, entry: principal_cache.Entry) -> Principal:
        principal = cls.__new__(cls)
        principal.method = entry.method
        principal.permissions = entry.permissions
        principal.api_key_id = entry.api_key_id
        principal.user_id = entry.user_id
        principal.library_ids = entry.user["library_ids"]
        principal._user = None
        principal._entry = entry
        return principal

    @property
    def user(self) -> User:
        if self._user is None:
            self._user = principal_cache.user_for(self._entry, db.session)
        return self._user

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.permissions

    def can(self, permission: str) -> bool:
        return self.is_admin or permission in self.permissions

    def __repr__(self) -> str:
        return f"<Principal user={self.user_id} method={self.method}>"


def user_permissions(user: User) -> frozenset[str]:
    return for_user(user.is_admin, user.granted_permissions)


# ``last_used_at`` is for people ("used today?"); writing it at most once a
# minute spares a reader app's burst of page requests a write each.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _stamp_last_used(row: ApiKey | ClientToken, now: datetime) -> None:
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.session.commit()


def _from_cache(key: tuple[str, str]) -> Principal | None:
    """A principal resolved a moment ago for the same credential
    (``comicsrv.auth.principal_cache``): no query, unless ``last_used_at``
    is due (one UPDATE a minute)."""
    principals = principal_cache.cache()
    entry = principals.get(key) if principals is not None and principals.enabled else None
    if entry is None:
        return None
    if entry.used_row is not None:
        clock = time.monotonic()
        if clock - entry.stamped >= LAST_USED_RESOLUTION.total_seconds():
            entry.stamped = clock
            model, row_id = entry.used_row
            db.session.execute(update(model).where(model.id == row_id)
                               .values(last_used_at=utcnow()))
            db.session.commit()
    return Principal.remembered(entry)


def _remember(key: tuple[str, str], principal: Principal, *,
              used_row: tuple[type, int] | None = None,
              expires_at: datetime | None = None) -> None:
    principals = principal_cache.cache()
    if principals is None or not principals.enabled:
        return
    valid_for = None
    if expires_at is not None:
        valid_for = (expires_at - utcnow()).total_seconds()
    principals.put(key, principal.user, principal.method, principal.permissions,
                   api_key_id=principal.api_key_id, used_row=used_row, valid_for=valid_for)


def principal_for_api_key(key: str) -> Principal | None:
    cache_key = ("api_key", hash_token(key))
    cached = _from_cache(cache_key)
    if cached is not None:
        return cached
    row = db.session.execute(
        db.select(ApiKey).options(joinedload(ApiKey.user)).where(ApiKey.key_hash == cache_key[1])
    ).scalar()
    if row is None or not row.user.is_active:
        return None
    now = utcnow()
    if row.expires_at is not None and row.expires_at < now:
        return None
    # A key never grants more than its owner has.
    granted = frozenset(row.permissions or ()) & user_permissions(row.user)
    if ADMIN in granted:
        granted = frozenset(PERMISSIONS)
    principal = Principal(row.user, "api_key", granted, row.id)
    _remember(cache_key, principal, used_row=(ApiKey, row.id), expires_at=row.expires_at)
    _stamp_last_used(row, now)
    return principal


def principal_for_client_token(token: str) -> Principal | None:
    """CLU's "Client API Access" token, as reader apps send it (Bearer)."""
    cache_key = ("client_token", hash_token(token))
    cached = _from_cache(cache_key)
    if cached is not None:
        return cached
    row = db.session.execute(
        db.select(ClientToken).where(ClientToken.token_hash == cache_key[1])
    ).scalar()
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    principal = Principal(user, "client_token", user_permissions(user))
    _remember(cache_key, principal, used_row=(ClientToken, row.id))
    _stamp_last_used(row, utcnow())
    return principal


def principal_for_password(username: str, password: str) -> Principal | None:
    """HTTP Basic: throttled like every password check (``password_login``).
    A wrong password is no principal (the request goes on unauthenticated and
    the view answers 401); a lock-out raises ``TooManyRequests`` (429)."""
    try:
        user = password_login(username, password)
    except Unauthorized:
        return None
    return Principal(user, "basic", user_permissions(user))


def principal_for_jwt(token: str, method: str = "jwt") -> Principal | None:
    cache_key = (method, hash_token(token))
    cached = _from_cache(cache_key)
    if cached is not None:
        return cached
    found = user_and_expiry_for_token(token)
    if found is None:
        return None
    user, expires_at = found
    principal = Principal(user, method, user_permissions(user))
    _remember(cache_key, principal, expires_at=expires_at)
    return principal


def _from_api_key_header() -> Principal | None:
    key = request.headers.get("X-API-Key")
    return principal_for_api_key(key) if key else None


def _from_authorization() -> Principal | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        # API keys and client tokens never contain a dot and a JWT always
        # does: skip the two hash look-ups that cannot match.
        if "." not in value:
            return principal_for_api_key(value) or principal_for_client_token(value)
        return principal_for_jwt(value)
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        return principal_for_password(username, password) if sep else None
    return None


def _from_apikey_query() -> Principal | None:
    """``?apikey=`` as Mylar-style tools (and Prowlarr's Mylar sync) send it;
    only on the legacy ``/api`` surface, so keys stay out of other URLs."""
    key = request.args.get("apikey")
    if not key:
        return None
    from flask import current_app

    from ..surface_registry import surface_for_path

    surface = surface_for_path(current_app, request.path)
    return principal_for_api_key(key) if surface and surface.api_key_in_query else None


def _from_session_cookie() -> Principal | None:
    """The web UI's cookie. A state-changing request it authenticates must
    come from our own pages (``comicsrv.auth.csrf``); otherwise 403. A GET
    declared ``@changes_state_on_get`` never counts it: a hostile page can
    make the browser send a GET with the cookie (a link, a redirect), and no
    CSRF token comes with a GET."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    principal = principal_for_jwt(token, "session")
    if principal is None:
        return None
    if request.method in SAFE_METHODS and changes_state_on_get_here():
        raise Forbidden(f"{request.method} {request.path} changes state, so the session cookie "
                        f"cannot authorize it: send an API key", code="api_key_required")
    check_cookie_request(token)
    return principal


# Tried in order; the first that recognises the credentials wins. Explicit
# headers come before the cookie a browser sends on its own.
RESOLVERS: list[Callable[[], Principal | None]] = [
    _from_api_key_header, _from_authorization, _from_apikey_query, _from_session_cookie,
]


_CACHE_KEY = "comicsrv.principal"


def current_principal() -> Principal | None:
    """The caller of this request, resolved once per request.

    Cached in the WSGI environ rather than on ``g``: ``g`` belongs to the
    app context, which can outlive a request (a CLI command or test that
    keeps one open would otherwise see the first caller everywhere).
    """
    if _CACHE_KEY not in request.environ:
        principal = None
        try:
            for resolve in RESOLVERS:
                principal = resolve()
                if principal is not None:
                    break
        except DomainError as refusal:
            # A lock-out or a refused cookie: the same answer every time it
            # is asked for this request, and Basic is counted only once.
            request.environ[_CACHE_KEY] = refusal
            raise
        request.environ[_CACHE_KEY] = principal
    cached = request.environ[_CACHE_KEY]
    if isinstance(cached, DomainError):
        raise cached
    return cached
