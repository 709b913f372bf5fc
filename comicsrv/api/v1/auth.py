"""``/api/v1`` first-run setup and sessions (Codex's paths).

Login answers Codex's JSON (``access_token``, ``token_type``, ``expires_in``,
``user``) and also sets the web UI's HttpOnly session cookie carrying the same
JWT (AutoBangumi's way). The schemas and validators shared by the account
resources (users, API keys, client tokens) live here too.
"""
from __future__ import annotations

from flask import Response, after_this_request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import current_principal, require
from ...auth.csrf import HEADER as CSRF_HEADER, csrf_token
from ...auth.email_verification import send_for_new_user
from ...auth.permissions import PERMISSIONS
from ...auth.login import end_session, log_in, password_login
from ...auth.users import (
    MIN_PASSWORD_LENGTH, create_first_admin, create_user, need_setup,
    registration_allowed, revoke_sessions,
)
from ...errors import Forbidden
from ..validators import encodable, plain_text
from .security import PUBLIC, SECURITY

blp = Blueprint("v1_auth", __name__, url_prefix="/api/v1",
                description="First-run setup, login, logout, the current user")

# Every credential kind a protected route accepts (the account resources
# import it from here under this name).
AUTHENTICATED = SECURITY

MAX_ID = 2**31 - 1  # ids are 32-bit integer columns
MAX_PASSWORD_LENGTH = 1024


# --- validators and fields shared by the account resources ----------------------

def username_field(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=150), plain_text], **kwargs)


def new_password_field(**kwargs) -> fields.String:
    return fields.String(load_only=True, validate=[
        validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH), encodable],
        metadata={"description": f"at least {MIN_PASSWORD_LENGTH} characters; never returned"},
        **kwargs)


def email_field(**kwargs) -> fields.Email:
    return fields.Email(allow_none=True, validate=[validate.Length(max=320), plain_text], **kwargs)


def id_field(*, strict: bool = False, **kwargs) -> fields.Integer:
    """A row id; ``strict`` (for JSON bodies) refuses ``"3"`` and ``3.5``."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    email = fields.String(allow_none=True)
    email_verified_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the address was proven with a mailed code; null: not yet"})
    is_admin = fields.Boolean()
    is_active = fields.Boolean()
    library_ids = fields.List(fields.Integer(), allow_none=True,
                              metadata={"description": "libraries this user sees; null = all"})
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)


# --- schemas of this module -----------------------------------------------------

class SetupStatusSchema(Schema):
    need_setup = fields.Boolean(metadata={"description": "true while no user exists"})


class SetupSchema(Schema):
    username = username_field(required=True)
    password = new_password_field(required=True)
    email = email_field(load_default=None)


class LoginSchema(Schema):
    username = username_field(required=True)
    password = fields.String(required=True, load_only=True,
                             validate=[validate.Length(min=1, max=MAX_PASSWORD_LENGTH), encodable])


class LoginUserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    email = fields.String(allow_none=True)
    is_admin = fields.Boolean()


class TokenSchema(Schema):
    access_token = fields.String(
        metadata={"description": "a JWT; send it as Authorization: Bearer"})
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "seconds until the token expires"})
    user = fields.Nested(LoginUserSchema)


class LogoutArgs(Schema):
    all = fields.Boolean(load_default=False, metadata={
        "description": "also revoke every other session and JWT of this user"})


class MeSchema(UserSchema):
    permissions = fields.List(fields.String(), metadata={
        "description": "what the current credentials allow (Codex's names)"})
    auth_method = fields.String(metadata={
        "description": "api_key | client_token | jwt | session | basic"})


# --- routes ---------------------------------------------------------------------

@blp.route("/setup/status")
class SetupStatus(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.response(200, SetupStatusSchema)
    def get(self):
        """Whether first-run setup is needed (public): true while no user exists."""
        return {"need_setup": need_setup()}


@blp.route("/setup/initialize")
class SetupInitialize(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(SetupSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(409, description="Setup is already complete")
    def post(self, data):
        """Create the first admin and log them in (public, once; then 409)."""
        user = create_first_admin(data["username"], data["password"], data["email"])
        return log_in(user)


@blp.route("/auth/login")
class Login(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="Wrong username or password")
    @blp.alt_response(429, description="Too many failed passwords for this username from this "
                                       "address, or from this address; see Retry-After")
    def post(self, data):
        """Log in with a password: a JWT in the body and the session cookie.

        Throttled like every password check, HTTP Basic included: 5 failures
        within 5 minutes for one username from one address, or 20 from one
        address for any usernames, answer 429 (even to the right password)
        until the lock-out has passed, counted across all server processes.
        """
        return log_in(password_login(data["username"], data["password"]))


@blp.route("/auth/register")
class Register(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(SetupSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(403, description="Registration is turned off "
                                       "(setting auth.allow_registration)")
    @blp.alt_response(409, description="The username is taken")
    def post(self, data):
        """Create a plain user account and log in (public, only when the admin
        setting ``auth.allow_registration`` is on)."""
        if not registration_allowed():
            raise Forbidden("Registration is disabled on this server", code="registration_disabled")
        user = create_user(data["username"], data["password"], email=data["email"])
        send_for_new_user(user)  # Codex's verification mail, when the admin turned it on
        return log_in(user)


@blp.route("/auth/logout")
class Logout(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(LogoutArgs, location="query")
    @blp.response(204)
    def post(self, args):
        """Clear the session cookie; with ``?all=true`` also revoke every JWT and
        session of the user (API keys and client tokens stay valid)."""
        if args["all"]:
            revoke_sessions(current_principal().user)
        end_session()


@blp.route("/auth/me")
class Me(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.response(200, MeSchema)
    def get(self):
        """The current user, what the credentials allow, and how they were given."""
        principal = current_principal()
        me = {name: getattr(principal.user, name) for name in UserSchema._declared_fields}
        me["permissions"] = [p for p in PERMISSIONS if principal.can(p)]
        me["auth_method"] = principal.method
        if principal.method == "session":
            token = csrf_token()

            @after_this_request
            def send_csrf_token(response: Response) -> Response:
                response.headers[CSRF_HEADER] = token
                return response
        return me
