"""``/api/v1/client-tokens``: CLU's "Client API Access" tokens for reader apps.

A reader app sends its token as ``Authorization: Bearer``. Users manage their
own tokens; an admin names another user with ``user_id``, and may revoke any
token by id. The plaintext is in the create response only.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import current_principal, require
from ...auth.users import create_client_token
from ...errors import NotFound
from ...extensions import db
from ...models import ClientToken
from ..pagination import PageArgs, page_of
from .api_keys import OwnerArgs, owner_for
from .auth import AUTHENTICATED, MAX_ID, plain_text

blp = Blueprint("v1_client_tokens", __name__, url_prefix="/api/v1",
                description="Client API tokens for reader apps (CLU)")


class ClientTokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    user_id = fields.Integer()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)


class ClientTokenCreatedSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    token = fields.String(metadata={"description": "send as Authorization: Bearer; "
                                                   "shown this once only"})
    created_at = fields.DateTime()
    user_id = fields.Integer()


class ClientTokenCreateSchema(Schema):
    name = fields.String(load_default="reader",
                         validate=[validate.Length(min=1, max=200), plain_text],
                         metadata={"description": "which app or device the token is for"})


class ClientTokenListSchema(Schema):
    items = fields.List(fields.Nested(ClientTokenSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class ClientTokenListArgs(PageArgs, OwnerArgs):
    pass


@blp.route("/client-tokens")
class ClientTokens(MethodView):
    @require("ApiKeysRead")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(ClientTokenListArgs, location="query")
    @blp.response(200, ClientTokenListSchema)
    def get(self, args):
        """List your client tokens, newest first (needs ApiKeysRead); never the tokens."""
        owner = owner_for(current_principal(), args.get("user_id"))
        query = (db.select(ClientToken).where(ClientToken.user_id == owner.id)
                 .order_by(ClientToken.id.desc()))
        return page_of(query, args)

    @require("ApiKeysWrite")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(OwnerArgs, location="query")
    @blp.arguments(ClientTokenCreateSchema)
    @blp.response(201, ClientTokenCreatedSchema)
    def post(self, owner_args, data):
        """Create a client token (needs ApiKeysWrite): shown this once only."""
        owner = owner_for(current_principal(), owner_args.get("user_id"))
        row, token = create_client_token(owner, data["name"])
        return {"id": row.id, "name": row.name, "token": token, "created_at": row.created_at,
                "user_id": row.user_id}


@blp.route("/client-tokens/<int:token_id>")
class ClientTokenItem(MethodView):
    @require("ApiKeysDelete")
    @blp.doc(security=AUTHENTICATED)
    @blp.response(204)
    def delete(self, token_id):
        """Revoke a client token (needs ApiKeysDelete). Another user's token is
        404 unless you are an admin."""
        principal = current_principal()
        row = db.session.get(ClientToken, token_id) if token_id <= MAX_ID else None
        if row is None or (row.user_id != principal.user.id and not principal.is_admin):
            raise NotFound(f"Client token {token_id} not found")
        db.session.delete(row)
        db.session.commit()
