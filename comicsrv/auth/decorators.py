"""Who may call a view, declared on the view: ``@require("BooksRead")``.

Every protected view carries an :class:`Access` (``view.access``): the
permission an authenticated caller needs, whether an anonymous caller may
come in, and the check that enforces both in the view's surface's terms
(LANraragi's 401 bodies on the archive API, for instance). ``require`` is
the declaration of ``/api/v1`` and the legacy ``/api``; the archive API's
``reader``/``writer`` (``comicsrv.api.lanraragi.auth``) declare the same way.
A blueprint whose every route follows one rule (CLU's) declares it on the
blueprint.

``install_permission_guard`` runs the declared check in a ``before_request``
hook, so credentials are verified before flask-smorest parses arguments or
body, whatever order the decorators were stacked in: a caller without
credentials gets a 401, never a 400 that hints at the shape of a request it
may not make. The auth-matrix test reads the same declarations to decide
what every kind of caller must get from every route.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, current_app, request

from ..errors import Forbidden, Unauthorized
from .declarations import view_method
from .principal import current_principal

# Whether a caller without (valid) credentials may come in.
NEVER = "never"
# LANraragi's public reads: open while the admin setting
# ``library.public_reading`` is on (LANraragi's No-Fun Mode off).
PUBLIC_READING = "public_reading"
ANONYMOUS_RULES = (NEVER, PUBLIC_READING)

_UNSET = object()
# The declaration the guard has enforced for the current request.
_CHECKED = "comicsrv.access_checked"


@dataclass(frozen=True)
class Access:
    """A view's declaration: ``permission`` is what an authenticated caller
    needs (None: any authenticated caller); ``anonymous`` one of
    ``ANONYMOUS_RULES``; ``check`` raises the surface's 401 or 403 (None when
    a blueprint hook enforces the rule)."""

    permission: str | None
    anonymous: str = NEVER
    check: Callable[[], None] | None = field(default=None, compare=False, repr=False)


def _check(permission: str | None) -> None:
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Authentication required")
    if permission is not None and not principal.can(permission):
        raise Forbidden(f"This needs the {permission} permission")


def declare(access: Access) -> Callable:
    """Attach ``access`` to a view and enforce it when the view runs, unless
    the guard already did for this request (before argument parsing)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if access.check is not None and request.environ.get(_CHECKED) is not access:
                access.check()
            return view(*args, **kwargs)

        wrapper.access = access
        wrapper.required_permission = access.permission
        return wrapper

    return decorate


def require(permission: str | None = None) -> Callable:
    """Require credentials, and ``permission`` when given.

    No or bad credentials → ``Unauthorized`` (401); a principal without the
    permission → ``Forbidden`` (403). The surface's error handler renders both.
    """
    return declare(Access(permission, NEVER, functools.partial(_check, permission)))


def declare_blueprint(blueprint: Any, access: Access) -> None:
    """Declare ``access`` for every route of ``blueprint``; the blueprint's
    own ``before_request`` hook enforces it."""
    blueprint.access = access


def _view_access(app: Flask, endpoint: str | None, method: str) -> Access | None:
    # HEAD is answered by GET's view, so it carries GET's declaration.
    return getattr(view_method(app, endpoint, method), "access", None)


def declared_access(app: Flask, endpoint: str | None, method: str) -> Access | None:
    """The declaration of the view behind ``endpoint`` for ``method`` (its
    own, else its blueprint's), or None when nothing is declared."""
    found = _view_access(app, endpoint, method)
    if found is None and endpoint and "." in endpoint:
        blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
        found = getattr(blueprint, "access", None)
    return found


def declared_permission(app: Flask, endpoint: str | None, method: str) -> Any:
    """The permission of ``declared_access``, or ``_UNSET`` when undeclared."""
    access = declared_access(app, endpoint, method)
    return _UNSET if access is None else access.permission


def is_declared(value: Any) -> bool:
    return value is not _UNSET


def install_permission_guard(app: Flask) -> None:
    @app.before_request
    def _guard_declared_permission() -> None:
        if request.method == "OPTIONS":
            return
        access = _view_access(current_app, request.endpoint, request.method)
        if access is not None and access.check is not None:
            access.check()
            request.environ[_CHECKED] = access
