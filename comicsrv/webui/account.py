"""Signing in and out, first-run set-up, and the theme switch.

The login form checks the same users, scrypt hashes and throttle as
``/api/v1/auth/login`` and sets the same session cookie, so the pages and
the reader's ``/api/v1`` calls share one session.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import settings_store
from ..auth.decorators import NEVER, Access
from ..auth.login import password_login
from ..auth.permissions import ADMIN
from ..auth.users import create_first_admin, need_setup
from ..auth.web_session import end_session, start_session
from ..errors import BadRequest, DomainError, Forbidden, TooManyRequests, Unauthorized
from ..extensions import db
from ..library.libraries import create_library, library_roots
from ..library.scans import request_scan
from ..models import Library
from . import blp
from .shell import login_required, principal, safe_next, setup_done

MAX_USERNAME = 150
MAX_PASSWORD = 1024


def _same_origin() -> None:
    """Refuse a form post that another site made the browser send.

    Login and the first admin are created before any session exists, so
    there is no CSRF token to check yet; the browser's own ``Origin`` and
    ``Sec-Fetch-Site`` headers still tell a cross-site post apart (login
    CSRF: signing a victim in to an attacker's account).
    """
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise Forbidden("This form was sent from another site and was refused.")
    if request.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
        raise Forbidden("This form was sent from another site and was refused.")


def _credentials() -> tuple[str, str]:
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    if not username or not password:
        raise BadRequest("Enter your username and password.")
    if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD or "\x00" in username:
        raise Unauthorized("Wrong username or password.")
    return username, password


@blp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in page; ``?next=`` (a path on this site) is where it leads."""
    if not setup_done():
        return redirect(url_for("web.setup"))
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if principal() is not None:
            return redirect(target)
        return render_template("web/login.html", next=target)
    username = request.form.get("username", "")
    try:
        _same_origin()
        user = password_login(*_credentials())
    except TooManyRequests as exc:
        response = _login_failed(429, f"Too many failed sign-ins. Try again in "
                                      f"{exc.retry_after} seconds.", username, target)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthorized:
        return _login_failed(401, "Wrong username or password.", username, target)
    except DomainError as exc:
        return _login_failed(exc.status, exc.message, username, target)
    return start_session(redirect(target, 303), user)


def _login_failed(status: int, message: str, username: str, target: str) -> Response:
    html = render_template("web/login.html", next=target, error=message,
                           username=username[:MAX_USERNAME])
    return Response(html, status, mimetype="text/html")


@blp.post("/logout")
@login_required()
def logout():
    return end_session(redirect(url_for("web.login"), 303))


# --- first run ----------------------------------------------------------------------

@blp.route("/setup", methods=["GET", "POST"])
def setup():
    """First run: the admin account, then the first library and its scan.

    While no user exists anyone may create the first admin (the server was
    just installed; ``create_first_admin`` makes sure only one wins). After
    that the page belongs to admins: it offers the first library until one
    exists, then leads to the libraries.
    """
    if need_setup():
        if request.method == "GET":
            return render_template("web/setup_admin.html")
        return _create_admin()
    who = principal()
    if who is None:
        return redirect(url_for("web.login", next=url_for("web.setup")))
    if not who.is_admin:
        raise Forbidden("Only an admin can set up the server.")
    if db.session.execute(select(Library.id).limit(1)).first() is not None \
            and request.method == "GET":
        return redirect(url_for("web.libraries"))
    if request.method == "GET":
        return render_template("web/setup_library.html", name="Comics", path="",
                               roots=library_roots())
    return _add_first_library(who)


# Once any user exists the page is an admin's (the view enforces it; before
# that, anyone may create the first admin).
setup.access = Access(ADMIN, NEVER)


def _create_admin() -> Response:
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    try:
        _same_origin()
        if password != (request.form.get("confirm") or ""):
            raise BadRequest("The two passwords differ.")
        if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            raise BadRequest(f"A username has at most {MAX_USERNAME} characters.")
        user = create_first_admin(username, password)
    except DomainError as exc:
        html = render_template("web/setup_admin.html", error=exc.message, username=username)
        return Response(html, exc.status, mimetype="text/html")
    current_app.extensions["comicsrv.web.setup_done"] = True
    return start_session(redirect(url_for("web.setup"), 303), user)


def _add_first_library(who) -> Response:
    name = (request.form.get("name") or "").strip()
    path = (request.form.get("path") or "").strip()
    try:
        library = create_library(name, path)
    except DomainError as exc:
        html = render_template("web/setup_library.html", error=exc.message, name=name, path=path,
                               roots=library_roots())
        return Response(html, exc.status, mimetype="text/html")
    request_scan(library, user_id=who.user.id)  # in its default mode
    return redirect(url_for("web.scan_page", library_id=library.id, first_run=1), 303)


# --- theme ----------------------------------------------------------------------------

@blp.post("/preferences/theme")
@login_required()
def set_theme():
    """Save the theme (system, light, dark); the page applied it already."""
    settings_store.set_preference(principal().user.id, "theme", request.form.get("theme"))
    if request.headers.get("HX-Request") == "true":
        return Response(status=204)
    return redirect(safe_next(request.form.get("next")), 303)
