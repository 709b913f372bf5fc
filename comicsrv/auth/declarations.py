"""What a view declares about itself, read before the view runs.

``@changes_state_on_get`` marks a GET (or HEAD) view that changes state: a
contract we must speak gives it that method (Mylar's ``/api?cmd=addProvider``,
which Prowlarr calls). A browser sends the session cookie with any GET a
hostile page makes it send, and no CSRF token comes with a GET, so the cookie
never authorizes such a view (``comicsrv.auth.principal``): it answers 403 in
its surface's envelope, and the caller must send an API key (or another
credential a browser never adds on its own).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, current_app, has_request_context, request

CHANGES_STATE_ON_GET = "changes_state_on_get"


def changes_state_on_get(view: Callable) -> Callable:
    """Declare that this GET view changes state. Stack it anywhere among the
    view's decorators (they keep the attribute with ``functools.wraps``)."""
    setattr(view, CHANGES_STATE_ON_GET, True)
    return view


def view_method(app: Flask, endpoint: str | None, method: str) -> Callable | None:
    """The function that handles ``method`` at ``endpoint``: a MethodView's
    method, or the plain view function."""
    view = app.view_functions.get(endpoint) if endpoint else None
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    # Flask answers HEAD with the GET method when there is no head().
    name = method.lower()
    return getattr(view_class, name, None) or (
        getattr(view_class, "get", None) if name == "head" else None)


def declares_state_change_on_get(app: Flask, endpoint: str | None, method: str = "GET") -> bool:
    return bool(getattr(view_method(app, endpoint, method), CHANGES_STATE_ON_GET, False))


def changes_state_on_get_here() -> bool:
    """Whether the view of the current request is declared so."""
    if not has_request_context():
        return False
    return declares_state_change_on_get(current_app, request.endpoint, request.method)


def declared_views(app: Flask) -> list[tuple[Any, str]]:
    """``(rule, method)`` of every GET view declared to change state."""
    return [(rule, "GET") for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or ()) and declares_state_change_on_get(app, rule.endpoint)]
