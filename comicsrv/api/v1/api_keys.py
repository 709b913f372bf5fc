"""``/api/v1/api-keys``: API keys with Codex's permission names.

A user manages their own keys; an admin may name another user with
``user_id``, and reaches any key by its id. The plaintext key is in the
create response only: the server keeps a SHA-256 of it.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import Principal, current_principal, require
from ...auth.permissions import PERMISSIONS
from ...auth.users import issue_api_key, update_api_key
from ...errors import Forbidden, NotFound
from ...extensions import db
from ...models import ApiKey, User
from ..pagination import PageArgs, page_of
from .auth import AUTHENTICATED, MAX_ID, id_field, plain_text

blp = Blueprint("v1_api_keys", __name__, url_prefix="/api/v1",
                description="API keys with permissions")

PERMISSIONS_DESCRIPTION = "Codex's permission names: " + ", ".join(PERMISSIONS)


class UtcDateTime(fields.DateTime):
    """An ISO 8601 time; one with an offset is converted to UTC, one without
    is taken as UTC. Stored naive, like every time in the database."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed: datetime = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed


class ApiKeySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    key_prefix = fields.String(metadata={"description": "the non-secret part, to tell keys apart"})
    permissions = fields.List(fields.String())
    created_at = fields.DateTime()
    user_id = fields.Integer()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(Schema):
    """Codex's create response (its fields first, in its order), plus ours."""

    id = fields.Integer()
    name = fields.String()
    key = fields.String(metadata={"description": "the full key: shown this once only"})
    key_prefix = fields.String()
    permissions = fields.List(fields.String())
    created_at = fields.DateTime()
    user_id = fields.Integer()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class ApiKeyListSchema(Schema):
    items = fields.List(fields.Nested(ApiKeySchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


def _name_field(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=200), plain_text], **kwargs)


def _permissions_field(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(max=64)),
                       validate=validate.Length(max=len(PERMISSIONS) * 2),
                       metadata={"description": PERMISSIONS_DESCRIPTION}, **kwargs)


class ApiKeyCreateSchema(Schema):
    name = _name_field(required=True)
    permissions = _permissions_field(required=True)
    expires_at = UtcDateTime(load_default=None, allow_none=True,
                             metadata={"description": "when the key stops working (UTC); "
                                                      "null = never"})


class ApiKeyUpdateSchema(Schema):
    """Every field optional: only those sent change."""

    name = _name_field()
    permissions = _permissions_field()
    expires_at = UtcDateTime(allow_none=True)


class OwnerArgs(Schema):
    user_id = id_field(metadata={"description": "another user's keys (admin only); "
                                                "default: your own"})


class ApiKeyListArgs(PageArgs, OwnerArgs):
    pass


def owner_for(principal: Principal, user_id: int | None) -> User:
    """Whose keys (or tokens) a request manages: the caller's own, or with
    ``user_id`` another user's, which only an admin may do."""
    if user_id is None or user_id == principal.user.id:
        return principal.user
    if not principal.is_admin:
        raise Forbidden("Only an admin may manage another user's credentials")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


def get_key(principal: Principal, key_id: int) -> ApiKey:
    """A key the caller may manage; any other answers 404 (not 403), so key
    ids of other users are not revealed."""
    row = db.session.get(ApiKey, key_id) if key_id <= MAX_ID else None
    if row is None or (row.user_id != principal.user.id and not principal.is_admin):
        raise NotFound(f"API key {key_id} not found")
    return row


@blp.route("/api-keys")
class ApiKeys(MethodView):
    @require("ApiKeysRead")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(ApiKeyListArgs, location="query")
    @blp.response(200, ApiKeyListSchema)
    def get(self, args):
        """List your API keys, newest first (needs ApiKeysRead); never the keys themselves."""
        owner = owner_for(current_principal(), args.get("user_id"))
        query = db.select(ApiKey).where(ApiKey.user_id == owner.id).order_by(ApiKey.id.desc())
        return page_of(query, args)

    @require("ApiKeysWrite")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(OwnerArgs, location="query")
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    @blp.alt_response(403, description="A permission you do not hold yourself")
    def post(self, owner_args, data):
        """Create an API key (needs ApiKeysWrite). The response holds the full key:
        it is shown this once only. You cannot grant a permission you lack."""
        principal = current_principal()
        owner = owner_for(principal, owner_args.get("user_id"))
        row, key = issue_api_key(owner, data["name"], data["permissions"],
                                 expires_at=data["expires_at"],
                                 granter_permissions=principal.permissions)
        created = {name: getattr(row, name) for name in ApiKeySchema._declared_fields}
        return {**created, "key": key}


@blp.route("/api-keys/<int:key_id>")
class ApiKeyItem(MethodView):
    @require("ApiKeysRead")
    @blp.doc(security=AUTHENTICATED)
    @blp.response(200, ApiKeySchema)
    def get(self, key_id):
        """One API key (needs ApiKeysRead); never the key itself."""
        return get_key(current_principal(), key_id)

    @require("ApiKeysWrite")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(ApiKeyUpdateSchema)
    @blp.response(200, ApiKeySchema)
    def put(self, data, key_id):
        """Rename a key, change its permissions or expiry (needs ApiKeysWrite)."""
        principal = current_principal()
        return update_api_key(get_key(principal, key_id), data,
                              granter_permissions=principal.permissions)

    @require("ApiKeysDelete")
    @blp.doc(security=AUTHENTICATED)
    @blp.response(204)
    def delete(self, key_id):
        """Revoke an API key (needs ApiKeysDelete)."""
        row = get_key(current_principal(), key_id)
        db.session.delete(row)
        db.session.commit()
