"""Who is calling: resolve a request's credentials to a principal.

Accepted here: ``X-API-Key``, ``Authorization: Bearer <api key or client
token>`` and HTTP Basic. Other credential kinds (session cookie, JWT) plug
into ``RESOLVERS``.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Callable

from flask import request

from ..extensions import db
from ..models import ApiKey, ClientToken, User, utcnow
from .permissions import ADMIN, PERMISSIONS, USER_PERMISSIONS
from .secrets import check_password, hash_token


@dataclass
class Principal:
    user: User
    # How the caller proved who it is: api_key | basic | session | jwt | client_token
    method: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    api_key_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.permissions

    def can(self, permission: str) -> bool:
        return self.is_admin or permission in self.permissions


def user_permissions(user: User) -> frozenset[str]:
    return frozenset(PERMISSIONS) if user.is_admin else USER_PERMISSIONS


def principal_for_api_key(key: str) -> Principal | None:
    row = db.session.execute(
        db.select(ApiKey).where(ApiKey.key_hash == hash_token(key))
    ).scalar()
    if row is None or not row.user.is_active:
        return None
    if row.expires_at is not None and row.expires_at < utcnow():
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    # A key never grants more than its owner has.
    granted = frozenset(row.permissions or ()) & user_permissions(row.user)
    if ADMIN in granted:
        granted = frozenset(PERMISSIONS)
    return Principal(row.user, "api_key", granted, row.id)


def principal_for_client_token(token: str) -> Principal | None:
    """CLU's "Client API Access" token, as reader apps send it (Bearer)."""
    row = db.session.execute(
        db.select(ClientToken).where(ClientToken.token_hash == hash_token(token))
    ).scalar()
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return Principal(user, "client_token", user_permissions(user))


def principal_for_password(username: str, password: str) -> Principal | None:
    user = db.session.execute(db.select(User).where(User.username == username)).scalar()
    if user is None or not user.is_active or not check_password(user.password_hash, password):
        return None
    return Principal(user, "basic", user_permissions(user))


def _from_api_key_header() -> Principal | None:
    key = request.headers.get("X-API-Key")
    return principal_for_api_key(key) if key else None


def _from_authorization() -> Principal | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        return principal_for_api_key(value) or principal_for_client_token(value)
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        return principal_for_password(username, password) if sep else None
    return None


# Tried in order; the first that recognises the credentials wins.
RESOLVERS: list[Callable[[], Principal | None]] = [_from_api_key_header, _from_authorization]


_CACHE_KEY = "comicsrv.principal"


def current_principal() -> Principal | None:
    """The caller of this request, resolved once per request.

    Cached in the WSGI environ rather than on ``g``: ``g`` belongs to the
    app context, which can outlive a request (a CLI command or test that
    keeps one open would otherwise see the first caller everywhere).
    """
    if _CACHE_KEY not in request.environ:
        principal = None
        for resolve in RESOLVERS:
            principal = resolve()
            if principal is not None:
                break
        request.environ[_CACHE_KEY] = principal
    return request.environ[_CACHE_KEY]
