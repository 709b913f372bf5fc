"""The session cookie as a browser page sets and clears it.

``/api/v1/auth/login`` and the web UI's login form issue the same cookie
(the JWT of ``comicsrv.auth.tokens``) with the same options, so a person who
logs in through one is logged in to both.
"""
from __future__ import annotations

from flask import Response, request

from ..models import User
from .tokens import SESSION_COOKIE, issue_token
from .users import record_login


def cookie_options() -> dict:
    """HttpOnly, SameSite=Lax, Secure behind HTTPS, scoped to the URL base."""
    return {"path": request.script_root or "/", "secure": request.is_secure,
            "httponly": True, "samesite": "Lax"}


def start_session(response: Response, user: User) -> Response:
    """Stamp the login and set the session cookie on ``response``."""
    record_login(user)
    token, ttl = issue_token(user)
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, **cookie_options())
    return response


def end_session(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, **cookie_options())
    return response
