"""``@require("BooksRead")``: the one way a view states what it needs.

The decorator both declares the permission (``required_permission`` on the
view) and checks it. ``install_permission_guard`` checks the same
declaration in a ``before_request`` hook, so credentials are verified before
flask-smorest parses arguments or body, whatever order the decorators were
stacked in: a caller without credentials gets a 401, never a 400 that hints
at the shape of a request it may not make.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from flask import Flask, current_app, request

from ..errors import Forbidden, Unauthorized
from .declarations import view_method
from .principal import current_principal

_UNSET = object()


def _check(permission: str | None) -> None:
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Authentication required")
    if permission is not None and not principal.can(permission):
        raise Forbidden(f"This needs the {permission} permission")


def require(permission: str | None = None) -> Callable:
    """Require credentials, and ``permission`` when given.

    No or bad credentials → ``Unauthorized`` (401); a principal without the
    permission → ``Forbidden`` (403). The surface's error handler renders both.
    """

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _check(permission)
            return view(*args, **kwargs)

        wrapper.required_permission = permission
        return wrapper

    return decorate


def declared_permission(app: Flask, endpoint: str | None, method: str) -> Any:
    """What the view behind ``endpoint`` declares for ``method``: a permission
    name, None (any authenticated caller), or ``_UNSET`` (no declaration)."""
    return getattr(view_method(app, endpoint, method), "required_permission", _UNSET)


def is_declared(value: Any) -> bool:
    return value is not _UNSET


def install_permission_guard(app: Flask) -> None:
    @app.before_request
    def _guard_declared_permission() -> None:
        if request.method == "OPTIONS":
            return
        permission = declared_permission(current_app, request.endpoint, request.method)
        if is_declared(permission):
            _check(permission)
