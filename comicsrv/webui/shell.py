"""What every page shares: who is looking, the navigation, the first-run and
login redirects, safe ``?next=`` targets, and errors as pages.

The navigation is a list of ``NavItem`` so the *arr pages (Series,
Wanted, Activity, Settings, System) join it by calling ``add_nav`` with the
permission that shows them; nothing in the layout names them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import (
    Response, current_app, g, make_response, redirect, render_template, request, url_for,
)
from werkzeug.exceptions import HTTPException

from ..auth import Principal, current_principal
from ..auth.csrf import csrf_token
from ..auth.decorators import NEVER, Access
from ..auth.users import need_setup
from ..errors import DomainError, Forbidden
from ..settings_store import get_preference
from . import blp

# Endpoints a visitor without a session may open.
PUBLIC_ENDPOINTS = frozenset({"web.login", "web.setup"})
_SETUP_DONE = "comicsrv.web.setup_done"


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    # Shown only to a principal holding this permission (None: everyone).
    permission: str | None = None
    # Endpoints that light this item up besides its own.
    section: tuple[str, ...] = ()
    # ... and endpoints starting with one of these (a section of many pages).
    prefixes: tuple[str, ...] = ()

    def active(self, endpoint: str | None) -> bool:
        return endpoint == self.endpoint or endpoint in self.section or (
            endpoint is not None and endpoint.startswith(self.prefixes or (" ",)))


NAV: list[NavItem] = [
    NavItem("Library", "web.index", "SeriesRead",
            ("web.series_grid", "web.series_page", "web.book_page", "web.publishers",
             "web.folders", "web.arcs", "web.arc_page")),
    NavItem("Reading", "web.reading", "BooksRead"),
    NavItem("Libraries", "web.libraries", "LibrariesWrite", ("web.scan_page",)),
]


def add_nav(item: NavItem, *, before: str | None = None) -> None:
    """Add a page to the navigation (before the item with endpoint ``before``)."""
    position = next((i for i, n in enumerate(NAV) if n.endpoint == before), len(NAV))
    NAV.insert(position, item)


def setup_done() -> bool:
    """True once any user exists; remembered per process once true (a
    server never goes back to having no users)."""
    if current_app.extensions.get(_SETUP_DONE):
        return True
    done = not need_setup()
    if done:
        current_app.extensions[_SETUP_DONE] = True
    return done


def principal() -> Principal | None:
    """The signed-in principal; resolving it also enforces the CSRF check
    on a state-changing request that the session cookie authenticates."""
    return current_principal()


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(target: str | None, default: str | None = None) -> str:
    """``target`` when it is a path on this site, else ``default`` (home).

    Only a single leading slash is local: ``//host`` and ``/\\host`` are
    scheme-relative in browsers, and anything with a scheme or host leaves
    the site.
    """
    fallback = default or url_for("web.index")
    if not target or any(ch in target for ch in "\\\r\n\t\x00"):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def _here() -> str:
    """The current path and query, relative to the URL base, for ``?next=``."""
    path = request.script_root + request.path
    return path + ("?" + request.query_string.decode("latin-1") if request.query_string else "")


def _redirect(location: str) -> Response:
    """A redirect that htmx follows with a full page load."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303 if request.method != "GET" else 302)


def login_required(permission: str | None = None) -> Callable:
    """Sign-in (and ``permission``) for a page; also marks the view so the
    blueprint guard knows it is covered."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = principal()
            if who is None:
                return _redirect(url_for("web.login", next=_here()))
            if permission is not None and not who.can(permission):
                raise Forbidden("You do not have permission to open this page "
                                f"(it needs {permission}).")
            return view(*args, **kwargs)

        wrapper.web_permission = permission
        # The same declaration every API route carries, so the auth matrix
        # reads it; the wrapper itself enforces it (a sign-in redirect, not 401).
        wrapper.access = Access(permission, NEVER)
        return wrapper

    return decorate


@blp.before_request
def _first_run_and_sign_in() -> Response | None:
    """No user yet: every page leads to the set-up page."""
    if request.endpoint not in PUBLIC_ENDPOINTS and not setup_done():
        return _redirect(url_for("web.setup"))
    return None


@blp.after_request
def _no_store_for_pages(response: Response) -> Response:
    """Pages show per-user state (progress, read marks): never from a cache,
    so Back after marking a book read does not show it unread. Images and
    assets keep their own cache headers."""
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@blp.app_context_processor
def _layout_context() -> dict[str, Any]:
    """What ``base.html`` needs on every page."""
    if not request.blueprint == "web":
        return {}
    return {"nav_items": _visible_nav, "web_user": _web_user, "csrf_token": csrf_token,
            "theme": _theme}


def _visible_nav() -> list[NavItem]:
    who = _quiet_principal()
    if who is None:
        return []
    return [item for item in NAV if item.permission is None or who.can(item.permission)]


def _quiet_principal() -> Principal | None:
    """The principal for rendering; on an error page after a refused CSRF
    check the resolution raises again, and the layout then shows no user."""
    try:
        return principal()
    except DomainError:
        return None


def _web_user():
    who = _quiet_principal()
    return who.user if who is not None else None


def _theme() -> str:
    """The signed-in user's theme preference (system, light or dark)."""
    if "web_theme" not in g:
        user = _web_user()
        g.web_theme = get_preference(user.id, "theme") if user is not None else "system"
    return g.web_theme


# --- errors as pages --------------------------------------------------------------

def error_page(status: int, message: str) -> Response:
    template = "web/_error_fragment.html" if is_htmx() else "web/error.html"
    response = make_response(render_template(template, status=status, message=message), status)
    if is_htmx():
        # htmx does not swap 4xx answers unless told: show the message where
        # the request's result would have gone.
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


@blp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    return error_page(exc.status, exc.message)


@blp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    if exc.code and exc.code < 400:
        return exc  # type: ignore[return-value]
    return error_page(exc.code or 500, exc.description or exc.name)
