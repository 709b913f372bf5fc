"""Cross-site request forgery protection for the session cookie.

A browser attaches the ``comicsrv_session`` cookie to every request to this
host, including the ones a hostile page makes it send. So a request that the
cookie alone authenticates may only read. A state-changing request (any
method but GET, HEAD and OPTIONS) must also

- not come from another origin (``Origin``), nor from another site or another
  origin of this site (``Sec-Fetch-Site``: another app on the same NAS is
  "same-site"), and
- carry the CSRF token, which only our own pages and the login response
  know: in the ``X-CSRF-Token`` header (the web UI's htmx requests and reader
  module send it) or a ``csrf_token`` form field (plain HTML forms).

The token is an HMAC of the session token under ``SECRET_KEY``: stateless,
bound to that one session, and worthless once the session ends. API keys,
Bearer tokens and HTTP Basic are never sent by a browser on its own, so
requests that use them need no token.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from flask import current_app, request

from ..errors import Forbidden
from .tokens import SESSION_COOKIE

HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sec-Fetch-Site values a browser sends for requests our own pages make
# ("none": typed into the address bar, a bookmark).
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def token_for_session(session_token: str) -> str:
    """The CSRF token that goes with one session token."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"csrf\0" + session_token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_token() -> str | None:
    """The token for the session cookie of the current request, if any."""
    session_token = request.cookies.get(SESSION_COOKIE)
    return token_for_session(session_token) if session_token else None


def _sent_token() -> str:
    sent = request.headers.get(HEADER)
    if not sent and request.mimetype in ("application/x-www-form-urlencoded",
                                         "multipart/form-data"):
        sent = request.form.get(FORM_FIELD)
    return sent or ""


def check_cookie_request(session_token: str) -> None:
    """Refuse (403) a state-changing request authenticated by the session
    cookie unless it comes from our own pages. Safe methods pass."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        raise Forbidden("Cross-origin requests cannot use the session cookie",
                        code="csrf_failed")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site and fetch_site not in _OWN_FETCH_SITES:
        raise Forbidden("Cross-site requests cannot use the session cookie", code="csrf_failed")
    if not hmac.compare_digest(_sent_token(), token_for_session(session_token)):
        raise Forbidden(f"The CSRF token is missing or wrong: send the {HEADER} header "
                        f"(or an API key instead of the session cookie)", code="csrf_failed")
