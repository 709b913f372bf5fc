"""``@require("BooksRead")``: the one way a view states what it needs."""
from __future__ import annotations

import functools
from typing import Any, Callable

from ..errors import Forbidden, Unauthorized
from .principal import current_principal


def require(permission: str | None = None) -> Callable:
    """Require credentials, and ``permission`` when given.

    No or bad credentials → ``Unauthorized`` (401); a principal without the
    permission → ``Forbidden`` (403). The surface's error handler renders both.
    """

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                raise Unauthorized("Authentication required")
            if permission is not None and not principal.can(permission):
                raise Forbidden(f"This needs the {permission} permission")
            return view(*args, **kwargs)

        wrapper.required_permission = permission  # read by the auth matrix test
        return wrapper

    return decorate
