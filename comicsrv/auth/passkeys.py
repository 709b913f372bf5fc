"""Passkeys: WebAuthn registration and login (AutoBangumi's), with
py_webauthn doing the cryptography.

A logged-in user asks for registration options, their authenticator makes
a credential, and ``finish_registration`` verifies it and keeps its public
key. Logging in is the same dance with authentication options and an
assertion; with a user name the options list that user's credentials, and
without one the authenticator offers its discoverable credentials (the
passkey names the user).

Every challenge is a database row used at most once and only for what it
was issued for (registration by that user, or a login) within
``CHALLENGE_TTL``; several processes may share the database, so the one
that verifies need not be the one that asked. The relying party id and the
origin come from ``WEBAUTHN_RP_ID``/``WEBAUTHN_ORIGIN`` when set, else
from the URL the request reached (through a trusted proxy's
X-Forwarded-Host/Proto): set them behind a proxy that rewrites the host.
The sign counter is checked by py_webauthn, so a cloned authenticator whose
counter goes backwards is refused.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from sqlalchemy import delete, select
from webauthn import (
    generate_authentication_options, generate_registration_options, options_to_json,
    verify_authentication_response, verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria, AuthenticatorTransport, PublicKeyCredentialDescriptor,
    ResidentKeyRequirement, UserVerificationRequirement,
)

from ..errors import BadRequest, Conflict, NotFound, Unauthorized
from ..extensions import db
from ..models import Passkey, User, WebAuthnChallenge, utcnow

CHALLENGE_TTL = timedelta(minutes=5)
TIMEOUT_MS = 300_000
RP_NAME = "comicsrv"
REGISTER, LOGIN = "register", "login"
MAX_PASSKEYS = 50


class PasskeyRefused(Unauthorized):
    code = "passkey_refused"


class InvalidCredential(BadRequest):
    code = "invalid_credential"


def relying_party() -> tuple[str, str]:
    """``(rp_id, origin)``: the configured ones, else from this request's URL."""
    origin = (current_app.config.get("WEBAUTHN_ORIGIN") or "").rstrip("/")
    if not origin:
        origin = request.host_url.rstrip("/")
    rp_id = current_app.config.get("WEBAUTHN_RP_ID") or urlsplit(origin).hostname or "localhost"
    return rp_id, origin


def _transports(values: list[str] | None) -> list[AuthenticatorTransport] | None:
    known = {t.value: t for t in AuthenticatorTransport}
    found = [known[v] for v in values or [] if v in known]
    return found or None


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id),
                                         transports=_transports(passkey.transports))


def _prune() -> None:
    db.session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < utcnow()))


def _remember(challenge: bytes, purpose: str, user_id: int | None, rp_id: str, origin: str) -> None:
    _prune()
    db.session.add(WebAuthnChallenge(challenge=bytes_to_base64url(challenge), purpose=purpose,
                                     user_id=user_id, rp_id=rp_id, origin=origin,
                                     expires_at=utcnow() + CHALLENGE_TTL))
    db.session.commit()


def _client_challenge(credential: dict[str, Any]) -> str:
    """The challenge the browser signed, from the credential's clientDataJSON."""
    try:
        raw = base64url_to_bytes(credential["response"]["clientDataJSON"])
        challenge = json.loads(raw)["challenge"]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidCredential(f"credential: no readable clientDataJSON ({type(exc).__name__})") \
            from None
    if not isinstance(challenge, str) or len(challenge) > 128:
        raise InvalidCredential("credential: the challenge is not one this server issued")
    return challenge


def _consume(credential: dict[str, Any], purpose: str) -> WebAuthnChallenge:
    """The challenge row the credential answers, removed so it never serves
    twice; whoever removes it first is the one verifying."""
    challenge = _client_challenge(credential)
    row = db.session.get(WebAuthnChallenge, challenge)
    if row is None or row.purpose != purpose or row.expires_at < utcnow():
        db.session.rollback()
        raise PasskeyRefused("The challenge is unknown, used or expired: ask for new options")
    found = (row.challenge, row.purpose, row.user_id, row.rp_id, row.origin)
    taken = db.session.execute(delete(WebAuthnChallenge).where(
        WebAuthnChallenge.challenge == challenge)).rowcount
    db.session.commit()
    if taken != 1:
        raise PasskeyRefused("The challenge was used already: ask for new options")
    return WebAuthnChallenge(challenge=found[0], purpose=found[1], user_id=found[2],
                             rp_id=found[3], origin=found[4])


# --- registration ---------------------------------------------------------------

def registration_options(user: User) -> dict[str, Any]:
    """Options for ``navigator.credentials.create()``; the user's passkeys
    are excluded so one authenticator is not registered twice."""
    rp_id, origin = relying_party()
    existing = list(db.session.execute(select(Passkey).where(Passkey.user_id == user.id))
                    .scalars())
    if len(existing) >= MAX_PASSKEYS:
        raise Conflict(f"At most {MAX_PASSKEYS} passkeys per user: delete one first")
    options = generate_registration_options(
        rp_id=rp_id, rp_name=RP_NAME, user_name=user.username, user_display_name=user.username,
        user_id=str(user.id).encode(), timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[_descriptor(p) for p in existing])
    _remember(options.challenge, REGISTER, user.id, rp_id, origin)
    return json.loads(options_to_json(options))


def finish_registration(user: User, credential: dict[str, Any], name: str | None) -> Passkey:
    issued = _consume(credential, REGISTER)
    if issued.user_id != user.id:
        raise PasskeyRefused("These registration options were issued to another user")
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(issued.challenge),
            expected_rp_id=issued.rp_id, expected_origin=issued.origin)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise InvalidCredential(f"The passkey could not be verified: {exc}") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.execute(select(Passkey.id).where(
            Passkey.credential_id == credential_id)).first():
        raise Conflict("This passkey is registered already")
    transports = (credential.get("response") or {}).get("transports")
    passkey = Passkey(
        user_id=user.id, name=(name or "Passkey").strip()[:200] or "Passkey",
        credential_id=credential_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t for t in transports if isinstance(t, str)][:10]
        if isinstance(transports, list) else None,
        aaguid=verified.aaguid, backed_up=bool(verified.credential_backed_up))
    db.session.add(passkey)
    db.session.commit()
    return passkey


# --- login ----------------------------------------------------------------------

def authentication_options(username: str | None) -> dict[str, Any]:
    """Options for ``navigator.credentials.get()``. With a user name, that
    user's passkeys; a name that is unknown or has none gets the same 400,
    so this cannot tell which accounts exist."""
    rp_id, origin = relying_party()
    allowed = None
    if username:
        user = db.session.execute(select(User).where(User.username == username)).scalar()
        passkeys = list(db.session.execute(select(Passkey).where(
            Passkey.user_id == user.id)).scalars()) if user is not None and user.is_active else []
        if not passkeys:
            raise BadRequest("No passkeys available for this username", code="no_passkeys")
        allowed = [_descriptor(p) for p in passkeys]
    options = generate_authentication_options(
        rp_id=rp_id, timeout=TIMEOUT_MS, allow_credentials=allowed,
        user_verification=UserVerificationRequirement.PREFERRED)
    _remember(options.challenge, LOGIN, None, rp_id, origin)
    return json.loads(options_to_json(options))


def finish_login(credential: dict[str, Any], username: str | None = None) -> User:
    """The active user whose passkey signed the challenge; ``Unauthorized``
    for anything else (and the counter and last use recorded)."""
    issued = _consume(credential, LOGIN)
    raw_id = credential.get("rawId") or credential.get("id")
    if not isinstance(raw_id, str) or len(raw_id) > 1400:
        raise InvalidCredential("credential: id missing")
    passkey = db.session.execute(select(Passkey).where(Passkey.credential_id == raw_id)).scalar()
    user = db.session.get(User, passkey.user_id) if passkey is not None else None
    if user is None or not user.is_active or (username and user.username != username):
        raise PasskeyRefused("This passkey does not belong to an active user here")
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(issued.challenge),
            expected_rp_id=issued.rp_id, expected_origin=issued.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(f"The passkey's signature was refused: {exc}") from None
    passkey.sign_count, passkey.last_used_at = verified.new_sign_count, utcnow()
    passkey.backed_up = bool(verified.credential_backed_up)
    db.session.commit()
    return user


# --- management -----------------------------------------------------------------

def passkeys_query(user_id: int):
    return select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at,
                                                                      Passkey.id)


def delete_passkey(user_id: int, passkey_id: int) -> None:
    """A user deletes one of their own passkeys (another's is "not found")."""
    passkey = db.session.get(Passkey, passkey_id) if 0 < passkey_id < 2**31 else None
    if passkey is None or passkey.user_id != user_id:
        raise NotFound(f"No passkey {passkey_id}")
    db.session.delete(passkey)
    db.session.commit()
