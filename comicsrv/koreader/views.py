"""The four kosync routes, over ``comicsrv.library.reading``."""
from __future__ import annotations

import functools
from typing import Any

from flask import Response, json, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from ..api.errors_doc import ErrorEnvelope
from ..api.validators import plain_text
from ..auth.decorators import NEVER, Access, declare
from ..auth.principal import current_principal, principal_for_api_key
from ..errors import BadRequest, Forbidden, NotFound, Unauthorized
from ..extensions import db
from ..library import reading
from ..library.access import visible_books
from ..models import Book

PREFIX = "/koreader"
SECURITY: list[dict[str, list[str]]] = [{"KoreaderUser": []}, {"ApiKeyHeader": []}, {"Basic": []}]
# kosync's error codes (koreader-sync-server).
CODES = {401: 2001, 403: 2001, 402: 2002, 400: 2003, 404: 2003}
MAX_DOCUMENT = 64

blp = Blueprint("koreader", __name__, url_prefix=PREFIX,
                description="KOReader progress sync (kosync); custom sync server: <host>/koreader")


@blp.url_value_preprocessor
def _check_enabled(endpoint: str | None, values: dict | None) -> None:
    from ..settings_store import get_setting

    if not get_setting("koreader.enabled"):
        raise NotFound("KOReader sync is switched off (admin setting koreader.enabled)",
                       code="koreader_disabled")


def _json(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


class KoreaderErrorSchema(Schema):
    """kosync's error body (koreader-sync-server), with our code beside it."""

    code = fields.Integer(required=True, metadata={
        "description": "kosync's code: 2001 unauthorized, 2002 user exists, 2003 invalid request"})
    message = fields.String(required=True)
    error = fields.String(required=True, metadata={"description": "comicsrv's snake-case code"})


KOREADER_ENVELOPE = ErrorEnvelope("KoreaderError", KoreaderErrorSchema)


def render_error(status: int, code: str, message: str, details: Any) -> Response:
    return _json({"code": CODES.get(status, 2000), "message": message, "error": code}, status)


# -- who is calling -----------------------------------------------------------------

_PRINCIPAL = "comicsrv.principal"


def _principal():
    """KOReader's ``X-Auth-User`` as an API key, else the usual credentials."""
    key = request.headers.get("X-Auth-User", "").strip()
    if key:
        principal = principal_for_api_key(key)
        if principal is not None:
            request.environ[_PRINCIPAL] = principal  # what current_principal() answers
            return principal
    return current_principal()


def _check(permission: str | None) -> None:
    principal = _principal()
    if principal is None:
        raise Unauthorized("Unauthorized: enter a comicsrv API key as the KOReader user name")
    if permission is not None and not principal.can(permission):
        raise Forbidden(f"This API key lacks the {permission} permission")


def kosync(permission: str | None):
    return declare(Access(permission, NEVER, functools.partial(_check, permission)))


# -- schemas ------------------------------------------------------------------------


def _text(low: int, high: int) -> list:
    return [validate.Length(min=low, max=high), plain_text]


class CreateBody(Schema):
    class Meta:
        unknown = EXCLUDE

    username = fields.String(required=True, validate=_text(1, 500),
                             metadata={"description": "a comicsrv API key"})
    password = fields.String(validate=validate.Length(max=500),
                             metadata={"description": "not used"})


class ProgressBody(Schema):
    class Meta:
        unknown = EXCLUDE

    document = fields.String(required=True, validate=_text(1, MAX_DOCUMENT),
                             metadata={"description": "KOReader's partial MD5 of the file"})
    progress = fields.String(required=True, validate=_text(0, 2000),
                             metadata={"description": "the page (from 1) of a comic or PDF"})
    percentage = fields.Float(required=True, allow_nan=False,
                              validate=validate.Range(min=0, max=1))
    device = fields.String(load_default="", validate=_text(0, 200))
    device_id = fields.String(load_default="", validate=_text(0, 200))


ProgressDoc = Schema.from_dict({
    "document": fields.String(), "progress": fields.String(), "percentage": fields.Float(),
    "device": fields.String(), "device_id": fields.String(), "timestamp": fields.Integer(),
}, name="KosyncProgress")


# -- the book of a document ---------------------------------------------------------


def _book(document: str) -> Book:
    principal = current_principal()
    book = db.session.execute(
        select(Book).where(Book.koreader_hash == document.strip().lower()[:MAX_DOCUMENT],
                           visible_books(principal.user), Book.state == "ok")
        .order_by(Book.id).limit(1)).scalar()
    if book is None:
        raise NotFound(f"No book of this server has the document hash {document[:40]!r}")
    return book


def _page(book: Book, body: dict[str, Any]) -> int:
    """The page a KOReader position names: ``progress`` when it is a page
    number, else ``percentage`` of the page count."""
    pages = max(1, book.page_count or 1)
    text = body["progress"].strip()
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return max(1, min(int(text), pages))
    return max(1, min(pages, round(body["percentage"] * pages)))


# -- routes -------------------------------------------------------------------------


@blp.route("/users/create")
class CreateUser(MethodView):
    @blp.arguments(CreateBody)
    @blp.response(201, Schema.from_dict({"username": fields.String()}, name="KosyncUser"))
    def post(self, body: dict[str, Any]):
        """KOReader's "Register": accounts are made in comicsrv, so this only
        checks that the user name is a valid API key (a 401 says what to enter)."""
        principal = principal_for_api_key(body["username"].strip())
        if principal is None:
            raise Unauthorized("Unauthorized: create an API key in comicsrv and enter it as "
                               "the KOReader user name")
        return _json({"username": principal.user.username}, 201)


@blp.route("/users/auth")
class AuthUser(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, Schema.from_dict({"authorized": fields.String()}, name="KosyncAuth"))
    @kosync(None)
    def get(self):
        """KOReader's "Login": 200 while the key is valid."""
        return _json({"authorized": "OK"})


@blp.route("/syncs/progress")
class PutProgress(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ProgressBody)
    @blp.response(200, Schema.from_dict({"document": fields.String(),
                                         "timestamp": fields.Integer()}, name="KosyncSaved"))
    @kosync("BooksWrite")
    def put(self, body: dict[str, Any]):
        """Save the reader's page in the book with this document hash."""
        book = _book(body["document"])
        progress = reading.save_progress(current_principal().user.id, book, reading.ProgressUpdate(
            page=_page(book, body), device_id=body["device_id"] or None,
            device_name=body["device"] or None))
        return _json({"document": body["document"], "timestamp": _timestamp(progress)})


def _timestamp(progress) -> int:
    from datetime import UTC

    return int(progress.updated_at.replace(tzinfo=UTC).timestamp())


@blp.route("/syncs/progress/<document>")
class GetProgress(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ProgressDoc)
    @kosync("BooksRead")
    def get(self, document: str):
        """The reader's position in the book with this document hash (``{}``: none)."""
        if len(document) > MAX_DOCUMENT:
            raise BadRequest("document is a KOReader partial MD5 (32 hex digits)")
        book = _book(document)
        progress = reading.get_progress(current_principal().user.id, book.id)
        if progress is None:
            return _json({})
        pages = max(1, book.page_count or 1)
        page = max(1, min(progress.page or 1, pages))
        return _json({"document": document, "progress": str(page),
                      "percentage": round(page / pages, 4),
                      "device": progress.device_name or "", "device_id": progress.device_id or "",
                      "timestamp": _timestamp(progress)})
