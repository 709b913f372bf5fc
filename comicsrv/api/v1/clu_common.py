"""What CLU's client endpoints share: the blueprint guard, browse-mode
resolution, CLU's error codes and time format, and the common schemas.

CLU's reader apps parse the ``error`` field of an error body, and for some
errors CLU puts a sentence there (``"Missing 'publisher' parameter"``), so
those sentences are the error codes here. Our envelope adds ``message`` and
``details`` beside it.

This module defines no ``blp``: ``clu_library``, ``clu_issues`` and
``clu_progress`` each make theirs with :func:`clu_blueprint`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import exists, or_, select

from ... import settings_store
from ...auth import current_principal
from ...auth.decorators import Access, declare_blueprint
from ...errors import BadRequest, Forbidden, Unauthorized, Unavailable
from ...extensions import db
from ...models import ApiKey, ClientToken, User
# Every credential kind the guard accepts (a client token is a Bearer token);
# the CLU resources import it from here.
from .security import SECURITY  # noqa: F401

READ_PERMISSION = "BooksRead"
MODES = ("metadata", "filesystem")
BROWSE_MODE_PREFERENCE = "api_browse_mode"
MAX_INT = 2**31 - 1  # integer columns are 32-bit on PostgreSQL
MAX_PATH = 4096  # the length of path columns
API_DISABLED_MESSAGE = (
    "No client token or API key exists yet, so the client API is disabled. Create a client "
    "token in Settings → Client API Access (POST /api/v1/client-tokens), or an API key with: "
    "comicsrv apikey create <username>")


def clu_blueprint(name: str, description: str) -> Blueprint:
    """A blueprint under ``/api/v1`` whose every route follows CLU's auth rules."""
    blueprint = Blueprint(name, __name__, url_prefix="/api/v1", description=(
        f"{description}. Every route needs a client token or API key (Authorization: Bearer, "
        "or X-API-Key): 401 without, 503 api_disabled while none exists on the server."))
    blueprint.before_request(_guard)
    declare_blueprint(blueprint, Access(READ_PERMISSION))  # what _guard enforces
    return blueprint


def api_enabled() -> bool:
    """CLU's switch: the client API answers once any client token or API key exists."""
    return db.session.execute(
        select(or_(exists(select(ClientToken.id)), exists(select(ApiKey.id))))).scalar()


def _guard() -> None:
    """503 while the API is disabled, then 401 without valid credentials (CLU's
    order), then 403 for credentials that may not read books (a metrics key)."""
    if request.method == "OPTIONS":
        return
    if not api_enabled():
        raise Unavailable(API_DISABLED_MESSAGE, code="api_disabled")
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Send a client token or API key: Authorization: Bearer <token>")
    if not principal.can(READ_PERMISSION):
        raise Forbidden(f"This needs the {READ_PERMISSION} permission")


def current_user() -> User:
    """The caller; the guard has made sure there is one."""
    return current_principal().user


def saved_browse_mode(user: User) -> str:
    return settings_store.get_preference(user.id, BROWSE_MODE_PREFERENCE)


def resolve_mode(requested: str | None, user: User) -> str:
    """``?mode=`` when given (any case), else the user's saved browse mode."""
    mode = (requested or saved_browse_mode(user)).lower()
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}, not {requested!r}",
                         code="invalid_mode")
    return mode


def missing(parameter_text: str) -> BadRequest:
    """CLU's 400 for a missing parameter, its sentence as the error code."""
    sentence = f"Missing {parameter_text}"
    return BadRequest(sentence, code=sentence)


def clu_time(value: datetime | None) -> str | None:
    """CLU's timestamps: ``"YYYY-MM-DD HH:MM:SS"`` (UTC, as stored)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def clean_text(value: str) -> None:
    """No NUL and nothing without a UTF-8 encoding: neither can name a file,
    and both make the database drivers fail."""
    if "\x00" in value:
        raise ValidationError("NUL characters are not allowed.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Not valid Unicode text.") from None


class CluSchema(Schema):
    """A request schema whose validation errors come out as CLU's 400s.

    Unknown fields are ignored (reader apps send extras). ``clu_error`` picks
    the error code for the failed fields; without one the usual
    ``validation_error`` applies.
    """

    class Meta:
        unknown = EXCLUDE

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        return None

    def handle_error(self, error: ValidationError, data: Any, *, many: bool, **kwargs) -> None:
        messages = error.messages
        if not isinstance(messages, dict):
            messages = {"_schema": messages}
        code = self.clu_error(messages, data if isinstance(data, dict) else {})
        if code is not None:
            summary = "; ".join(f"{name}: {' '.join(map(str, problems))}"
                                if isinstance(problems, list) else f"{name}: {problems}"
                                for name, problems in messages.items())
            raise BadRequest(f"{code} ({summary})", code=code, details=messages)


class PathField(fields.String):
    """A file or folder path as clients send it (required: not empty either)."""

    def __init__(self, *, required: bool = False, **kwargs: Any):
        length = validate.Length(min=1 if required else 0, max=MAX_PATH)
        super().__init__(required=required, validate=[clean_text, length], **kwargs)


class PageSchema(Schema):
    """CLU's list envelope; subclasses declare ``items`` and their extra keys."""

    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()
