"""The one way to log in with a user name and password.

Every password check goes through ``password_login``: the login forms
(``/api/v1/auth/login``, the legacy ``/api/auth/login``, the web UI's login
page), HTTP Basic on every surface (``comicsrv.auth.principal``), and any
surface added later (OPDS, Komga, KOReader). So each of them is throttled
by the same counts (``comicsrv.auth.throttle``) and hashes on the same small
pool (``comicsrv.auth.hashing``).
"""
from __future__ import annotations

import functools

from flask import Response, after_this_request, has_request_context, request

from ..errors import Unauthorized
from ..extensions import db
from ..models import User
from . import throttle
from .csrf import HEADER as CSRF_HEADER, token_for_session
from .hashing import check_password, hash_password
from .secrets import new_token
from .tokens import SESSION_COOKIE, issue_token
from .users import record_login


def password_login(username: str, password: str, *, address: str | None = None) -> User:
    """The active user with this user name and password, or a domain error.

    Raises ``TooManyRequests`` (429, with ``retry_after`` seconds) while
    this user name from this client address, or this address as a whole,
    is locked out; the password is then not even checked, so the right one
    is refused too. Raises ``Unauthorized`` (401) for a wrong user name or
    password and for a deactivated user, with the same message and after the
    same hash, so neither the answer nor its timing tells which user names
    exist.

    ``address`` is the client's address; by default the current request's
    ``remote_addr`` (honouring ``X-Forwarded-For`` only from
    ``TRUSTED_PROXIES``). The caller decides what a login gives (a session
    cookie, a JWT, or just this request's principal): this function records
    nothing but the throttle counts. It commits the session (the counts must
    reach the other processes before the hash runs), so call it before
    making changes of your own.
    """
    if address is None and has_request_context():
        address = request.remote_addr
    attempt = throttle.begin(username, address)
    try:
        user = _user_for_password(username, password)
    except BaseException:
        # Anything but a verified password counts, an error half-way included.
        db.session.rollback()
        throttle.failed(attempt)
        raise
    if user is None:
        throttle.failed(attempt)
        raise Unauthorized("Invalid username or password")
    throttle.succeeded(attempt)
    return user


def log_in(user: User) -> dict:
    """Start a session for a user who has just proved who they are: stamp
    the login, issue a JWT, and set it as the session cookie too (with the
    CSRF token a script that keeps the cookie sends on state changes). The
    answer is Codex's token shape; every surface's login route uses it."""
    record_login(user)
    token, ttl = issue_token(user)

    @after_this_request
    def set_cookie(response: Response) -> Response:
        response.set_cookie(SESSION_COOKIE, token, max_age=ttl, **cookie_options())
        response.headers[CSRF_HEADER] = token_for_session(token)
        return response

    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "user": user}


def end_session() -> None:
    """Clear the session cookie on the response to this request."""
    @after_this_request
    def clear_cookie(response: Response) -> Response:
        response.delete_cookie(SESSION_COOKIE, **cookie_options())
        return response


def cookie_options() -> dict:
    return {"path": request.script_root or "/", "secure": request.is_secure,
            "httponly": True, "samesite": "Lax"}


def _user_for_password(username: str, password: str) -> User | None:
    """The password check itself, unthrottled: callers use ``password_login``.

    An unknown user name costs the same hash as a known one, so response
    times do not tell a guesser which user names exist.
    """
    user = None
    if username and "\x00" not in username and _encodable(username):
        user = db.session.execute(db.select(User).where(User.username == username)).scalar()
    stored = user.password_hash if user is not None else None
    active = user is not None and user.is_active
    if not _encodable(password):
        # No stored password holds a lone surrogate; hash something anyway.
        password, active = "", False
    # Give the connection back while the hash runs: otherwise a burst of
    # logins, each waiting for its hash, holds every connection of the pool
    # and a reader's page request waits for one.
    db.session.commit()
    if not check_password(stored or _dummy_hash(), password) or not active:
        return None
    return user


def _encodable(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form (a JSON body may carry a lone
    surrogate, which neither the database drivers nor scrypt accept)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, made once per process."""
    return hash_password(new_token())
