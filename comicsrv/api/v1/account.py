"""``/api/v1`` account routes: from AutoBangumi, refresh the session token,
change one's own user name or password, and passkeys (WebAuthn
registration, login, list, delete); from Codex, email verification (a
mailed code, used once) and asking for a new code.

A token refresh and a passkey registration need a session (a JWT or the
web UI's cookie, or a password): an API key or client token is a narrower
credential, and must not be traded for a session holding all of the
user's permissions. Changing one's password needs the current password
(throttled like every password check) and ends every other session; the
caller gets a fresh token. Passkey login answers like password login
(Codex's token JSON and the session cookie).
"""
from __future__ import annotations

from types import ModuleType

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import current_principal, require
from ...auth import email_verification
from ...auth.login import password_login
from ...auth.users import update_user
from ...errors import BadRequest, Forbidden
from ..errors_doc import errors, protected_errors
from ..pagination import PageArgs, page_of
from .auth import (
    AUTHENTICATED, MAX_PASSWORD_LENGTH, PUBLIC, TokenSchema, encodable, id_field, log_in,
    new_password_field, plain_text, username_field,
)

blp = Blueprint("v1_account", __name__, url_prefix="/api/v1",
                description="Session refresh, own credentials, passkeys")

# How a caller authenticated that counts as a session of the user.
SESSION_METHODS = ("jwt", "session", "basic")


def _session_user():
    principal = current_principal()
    if principal.method not in SESSION_METHODS:
        raise Forbidden(f"This needs a login session (a JWT, the web UI's cookie or a password), "
                        f"not {principal.method.replace('_', ' ')} credentials",
                        code="session_required")
    return principal.user


# --- schemas ------------------------------------------------------------------------

class CredentialsUpdateSchema(Schema):
    """AutoBangumi's ``{username, password}``, plus the current password."""

    current_password = fields.String(required=True, load_only=True, validate=[
        validate.Length(min=1, max=MAX_PASSWORD_LENGTH), encodable])
    username = username_field()
    password = new_password_field()


class JsonObject(fields.Dict):
    """A JSON object passed through as it is (WebAuthn structures)."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.Raw(allow_none=True), **kwargs)


class RegistrationVerifySchema(Schema):
    name = fields.String(load_default=None, validate=[validate.Length(min=1, max=200), plain_text],
                         metadata={"description": "a name to tell the passkey apart"})
    attestation_response = JsonObject(required=True, metadata={
        "description": "the PublicKeyCredential from navigator.credentials.create(), "
                       "as JSON (id, rawId, type, response.clientDataJSON, "
                       "response.attestationObject, base64url)"})


class AuthOptionsSchema(Schema):
    username = fields.String(load_default=None, allow_none=True,
                             validate=[validate.Length(min=1, max=150), plain_text],
                             metadata={"description": "absent: discoverable passkeys"})


class AuthVerifySchema(AuthOptionsSchema):
    credential = JsonObject(required=True, metadata={
        "description": "the PublicKeyCredential from navigator.credentials.get(), as JSON"})


class PasskeyDeleteSchema(Schema):
    passkey_id = id_field(strict=True, required=True)


class PasskeySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    credential_id = fields.String(metadata={"description": "base64url"})
    aaguid = fields.String(allow_none=True, metadata={"description": "the authenticator model"})
    transports = fields.List(fields.String(), allow_none=True)
    backed_up = fields.Boolean(metadata={"description": "synced by its platform (a passkey)"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)


class PasskeyListSchema(Schema):
    items = fields.List(fields.Nested(PasskeySchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class DeletedIdSchema(Schema):
    deleted = fields.Integer()


class RelyingPartySchema(Schema):
    id = fields.String()
    name = fields.String()


class CredentialDescriptorSchema(Schema):
    id = fields.String(metadata={"description": "base64url"})
    type = fields.String()
    transports = fields.List(fields.String())


class CreationOptionsSchema(Schema):
    """WebAuthn's PublicKeyCredentialCreationOptions, binary fields base64url."""

    challenge = fields.String(required=True)
    rp = fields.Nested(RelyingPartySchema)
    user = fields.Dict(keys=fields.String(), values=fields.String(),
                       metadata={"description": "id (base64url), name, displayName"})
    pubKeyCredParams = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw()))
    timeout = fields.Integer()
    excludeCredentials = fields.List(fields.Nested(CredentialDescriptorSchema))
    authenticatorSelection = fields.Dict(keys=fields.String(), values=fields.Raw())
    attestation = fields.String()
    hints = fields.List(fields.String())


class RequestOptionsSchema(Schema):
    """WebAuthn's PublicKeyCredentialRequestOptions, binary fields base64url."""

    challenge = fields.String(required=True)
    timeout = fields.Integer()
    rpId = fields.String()
    allowCredentials = fields.List(fields.Nested(CredentialDescriptorSchema))
    userVerification = fields.String()


# --- session and credentials ----------------------------------------------------------

@blp.route("/auth/refresh_token")
class RefreshToken(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.response(200, TokenSchema)
    @protected_errors(blp)
    def get(self):
        """A new token (and session cookie) for the current session, before
        the old one expires (AutoBangumi's refresh_token)."""
        return log_in(_session_user())


@blp.route("/auth/update")
class UpdateCredentials(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(CredentialsUpdateSchema)
    @blp.response(200, TokenSchema)
    @protected_errors(blp, 400, 409, 429)
    def post(self, data):
        """Change your own user name and/or password (AutoBangumi's
        auth/update). The current password is checked, throttled like a
        login; a new password ends every other session and token."""
        user = current_principal().user
        password_login(user.username, data.pop("current_password"))
        if not data:
            raise BadRequest("Nothing to change: send username and/or password")
        update_user(user, data)
        return log_in(user)


# --- email verification ----------------------------------------------------------------

class VerifyEmailSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "the code the verification mail gave"})


class VerifiedSchema(Schema):
    verified = fields.Boolean()
    username = fields.String()
    email = fields.String()


class VerificationSentSchema(Schema):
    sent_to = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds the code works"})


@blp.route("/auth/verify-email")
class VerifyEmail(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(VerifyEmailSchema)
    @blp.response(200, VerifiedSchema)
    @errors(blp, 400)
    def post(self, data):
        """Prove an address with the mailed code (public: the code is the
        credential, good once)."""
        user = email_verification.verify(data["token"])
        return {"verified": True, "username": user.username, "email": user.email}


@blp.route("/auth/resend-verification")
class ResendVerification(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.response(202, VerificationSentSchema)
    @protected_errors(blp, 400, 409, 429, 503)
    def post(self):
        """Mail a new code to your address (older codes stop working); at most
        one a minute. 409 while verification is off or the address verified."""
        return email_verification.send_verification(current_principal().user)


# --- passkeys --------------------------------------------------------------------------

def _passkeys() -> ModuleType:
    """``comicsrv.auth.passkeys``, imported by the first passkey request:
    py_webauthn and the cryptography under it are ~15 MB that a server
    whose users never use a passkey would carry all its life."""
    from ...auth import passkeys

    return passkeys


@blp.route("/passkey/register/options")
class PasskeyRegisterOptions(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.response(200, CreationOptionsSchema)
    @protected_errors(blp, 409)
    def post(self):
        """Options for ``navigator.credentials.create()`` (valid 5 minutes)."""
        return _passkeys().registration_options(_session_user())


@blp.route("/passkey/register/verify")
class PasskeyRegisterVerify(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(RegistrationVerifySchema)
    @blp.response(201, PasskeySchema)
    @protected_errors(blp, 400, 409)
    def post(self, data):
        """Verify the authenticator's new credential and keep it."""
        return _passkeys().finish_registration(_session_user(),
                                               data["attestation_response"], data["name"])


@blp.route("/passkey/auth/options")
class PasskeyAuthOptions(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(AuthOptionsSchema)
    @blp.response(200, RequestOptionsSchema)
    @errors(blp, 400)
    def post(self, data):
        """Options for ``navigator.credentials.get()`` (public). With a user
        name, that user's passkeys; without, any discoverable passkey."""
        return _passkeys().authentication_options(data["username"])


@blp.route("/passkey/auth/verify")
class PasskeyAuthVerify(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(AuthVerifySchema)
    @blp.response(200, TokenSchema)
    @errors(blp, 400, 401)
    def post(self, data):
        """Log in with a passkey (public): the token JSON and the session
        cookie, as a password login gives."""
        return log_in(_passkeys().finish_login(data["credential"], data["username"]))


@blp.route("/passkey/list")
class PasskeyList(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PasskeyListSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """Your passkeys, oldest first."""
        return page_of(_passkeys().passkeys_query(current_principal().user.id), args)


@blp.route("/passkey/delete")
class PasskeyDelete(MethodView):
    @require()
    @blp.doc(security=AUTHENTICATED)
    @blp.arguments(PasskeyDeleteSchema)
    @blp.response(200, DeletedIdSchema)
    @protected_errors(blp, 400, 404)
    def post(self, data):
        """Delete one of your passkeys."""
        _passkeys().delete_passkey(current_principal().user.id, data["passkey_id"])
        return {"deleted": data["passkey_id"]}
