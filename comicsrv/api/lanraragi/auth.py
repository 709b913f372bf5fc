"""Who may call the archive API, and the 401s LANraragi clients expect.

Credentials: LANraragi's ``Authorization: Bearer <base64(api key)>``, the
raw key in that header, ``?key=<api key>`` (OPDS readers), and everything
the other surfaces accept (``X-API-Key``, client tokens, login sessions).

Reads (what LANraragi leaves public) need a key unless the admin setting
``library.public_reading`` is on; writes always do, and those that change
what every user sees (metadata, covers, the "new" flag, the server's
categories) need MetadataWrite. A missing key on a read
answers LANraragi's No-Fun Mode 401, on a write its OpenAPI security 401 —
clients only look at the status, but the bodies match.
"""
from __future__ import annotations

import base64
import binascii
from typing import Callable

from flask import request

from ...auth import Principal, current_principal
from ...auth.decorators import NEVER, PUBLIC_READING, Access, declare
from ...auth.principal import principal_for_api_key, principal_for_client_token
from ...lrr.archives import find_archive
from ...lrr.settings import public_reading
from ...models import Book, User
from .common import (
    OPERATION_KEY,
    LrrError,
    current_operation,
    operation_error,
    parse_arcid,
)

_PRINCIPAL_KEY = "comicsrv.lrr.principal"
NOFUN_BODY = {"error": "This API is protected and requires login or an API Key."}
SECURITY_BODY = {"errors": [{"message": "Unauthorized", "path": "/security/0/api_key"}],
                 "status": 401}
# For the OpenAPI document: how LANraragi clients authenticate.
SECURITY = [{"LanraragiKey": []}, {"ApiKeyHeader": []}]


def _from_base64_bearer() -> Principal | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    try:
        key = base64.b64decode(value.strip(), validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not key:
        return None  # LANraragi: an empty key never matches
    return principal_for_api_key(key) or principal_for_client_token(key)


def _from_key_param() -> Principal | None:
    key = (request.args.get("key") or request.form.get("key") or "").strip()
    return principal_for_api_key(key) if key else None


def lrr_principal() -> Principal | None:
    """The caller, resolved once per request."""
    if _PRINCIPAL_KEY not in request.environ:
        request.environ[_PRINCIPAL_KEY] = (current_principal() or _from_base64_bearer()
                                           or _from_key_param())
    return request.environ[_PRINCIPAL_KEY]


def lrr_user() -> User | None:
    principal = lrr_principal()
    return principal.user if principal is not None else None


def _check_permission(principal: Principal, permission: str) -> None:
    if not principal.can(permission):
        raise operation_error(current_operation() or "authorization",
                              f"This API key lacks the {permission} permission.", 403)


def _declare(name: str, permission: str, anonymous: str, check: Callable[[], None]) -> Callable:
    """Declare the route's access (``comicsrv.auth.decorators``); its check
    names LANraragi's operation first, so every error of the route, a 401
    included, carries it."""

    def named_check() -> None:
        request.environ[OPERATION_KEY] = name
        check()

    return declare(Access(permission, anonymous, named_check))


def reader(name: str) -> Callable:
    """A LANraragi public endpoint: open when public reading is on."""

    def check() -> None:
        principal = lrr_principal()
        if principal is None:
            if not public_reading():
                raise LrrError(401, NOFUN_BODY)
            return
        _check_permission(principal, "BooksRead")

    return _declare(name, "BooksRead", PUBLIC_READING, check)


def writer(name: str, permission: str = "MetadataWrite") -> Callable:
    """A LANraragi 🔑 endpoint: always needs a key with ``permission``.

    LANraragi has one user, so its 🔑 edits change what every user sees here:
    by default they need MetadataWrite, which a plain user holds only when an
    admin grants it. A route that touches only the caller's own data names a
    plain user's permission instead."""

    def check() -> None:
        principal = lrr_principal()
        if principal is None:
            raise LrrError(401, SECURITY_BODY)
        _check_permission(principal, permission)

    return _declare(name, permission, NEVER, check)


def progress_writer(name: str) -> Callable:
    """Saving progress: public in LANraragi, but progress here belongs to a
    user, so an anonymous reader gets LANraragi's "authenticated progress"
    401 (``/api/info`` says ``authenticated_progress: true``)."""

    def check() -> None:
        principal = lrr_principal()
        if principal is None:
            if not public_reading():
                raise LrrError(401, NOFUN_BODY)
            raise operation_error(name, "This operation requires authentication.", 401)
        _check_permission(principal, "BooksRead")

    return _declare(name, "BooksRead", NEVER, check)


def archive_or_error(arcid: str) -> Book:
    """The book behind a path's archive id, as the caller may see it, or
    LANraragi's 400 "This ID doesn't exist on the server."."""
    book = find_archive(lrr_user(), parse_arcid(arcid))
    if book is None:
        raise operation_error(current_operation() or "metadata",
                              "This ID doesn't exist on the server.")
    return book
