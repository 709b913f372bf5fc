"""``/api/v1/users``: user accounts (admin only, Codex's paths).

``granted_permissions`` are what an admin gives a plain user beyond the
defaults (say MetadataWrite, to edit titles, covers and the server's
categories); the user's API keys may then carry them too.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...auth.permissions import GRANTABLE, PERMISSIONS
from ...auth.users import create_user, delete_user, update_user
from ...errors import NotFound
from ...extensions import db
from ...models import User
from ..pagination import PageArgs, page_of
from .auth import (
    AUTHENTICATED, MAX_ID, UserSchema, email_field, id_field, new_password_field,
    username_field,
)

blp = Blueprint("v1_users", __name__, url_prefix="/api/v1", description="User accounts (admin)")

GRANTS_DESCRIPTION = ("permissions beyond a plain user's defaults; any of: "
                      + ", ".join(p for p in PERMISSIONS if p in GRANTABLE))


def _grants_field(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(sorted(GRANTABLE))),
                       validate=validate.Length(max=len(PERMISSIONS) * 2),
                       metadata={"description": GRANTS_DESCRIPTION}, **kwargs)


class AccountSchema(UserSchema):
    granted_permissions = fields.Function(lambda user: list(user.granted_permissions or []),
                                          metadata={"description": GRANTS_DESCRIPTION})


class UserCreateSchema(Schema):
    username = username_field(required=True)
    password = new_password_field(required=True)
    email = email_field(load_default=None)
    is_admin = fields.Boolean(load_default=False)
    is_active = fields.Boolean(load_default=True)
    library_ids = fields.List(id_field(strict=True), load_default=None, allow_none=True,
                              metadata={"description": "libraries this user sees; null = all"})
    granted_permissions = _grants_field(load_default=list)


class UserUpdateSchema(Schema):
    """Every field optional: only those sent change."""

    username = username_field()
    password = new_password_field()
    email = email_field()
    is_admin = fields.Boolean()
    is_active = fields.Boolean(metadata={"description": "false revokes the user's sessions"})
    library_ids = fields.List(id_field(strict=True), allow_none=True)
    granted_permissions = _grants_field()


class UserListSchema(Schema):
    items = fields.List(fields.Nested(AccountSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id) if user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


@blp.route("/users")
class Users(MethodView):
    @require("UsersRead")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, UserListSchema)
    def get(self, args):
        """List users, by id (needs UsersRead)."""
        return page_of(db.select(User).order_by(User.id), args)

    @require("UsersWrite")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, AccountSchema)
    @blp.alt_response(409, description="The username is taken")
    def post(self, data):
        """Create a user (needs UsersWrite). The password is never returned."""
        return create_user(data.pop("username"), data.pop("password"), **data)


@blp.route("/users/<int:user_id>")
class UserItem(MethodView):
    @require("UsersRead")
    @blp.doc(security=AUTHENTICATED)
    @blp.response(200, AccountSchema)
    def get(self, user_id):
        """One user (needs UsersRead)."""
        return get_user(user_id)

    @require("UsersWrite")
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, AccountSchema)
    @blp.alt_response(409, description="Taken username, or the last active admin "
                                       "would be demoted or deactivated")
    def put(self, data, user_id):
        """Update a user (needs UsersWrite); only the fields sent change.

        A new password or ``is_active: false`` revokes the user's sessions.
        """
        return update_user(get_user(user_id), data)

    @require("UsersDelete")
    @blp.doc(security=AUTHENTICATED)
    @blp.response(204)
    @blp.alt_response(409, description="The last active admin cannot be deleted")
    def delete(self, user_id):
        """Delete a user with their keys, tokens and reading data (needs UsersDelete)."""
        delete_user(get_user(user_id))
