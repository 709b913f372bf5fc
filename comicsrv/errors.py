"""Domain exceptions. Each API surface maps them to its own error envelope in
one handler (``comicsrv.api.surfaces``); the domain code never builds HTTP
responses for errors itself."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class BadRequest(DomainError):
    status, code = 400, "bad_request"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class TooManyRequests(DomainError):
    """Refused for now; the surfaces send ``retry_after`` (whole seconds) as
    the ``Retry-After`` header."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None,
                 details: Any = None):
        super().__init__(message, code=code, details=details)
        self.retry_after = max(1, int(retry_after))


class Unavailable(DomainError):
    status, code = 503, "unavailable"


class Busy(Unavailable):
    """Too much work already waiting (a 503, not a growing queue): the
    surfaces send ``retry_after`` (whole seconds) as ``Retry-After``."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 1, details: Any = None):
        super().__init__(message, details=details)
        self.retry_after = max(1, int(retry_after))
