"""Email verification (Codex's verify-email and resend-verification).

While the admin has it on (``email.verification_enabled``, SMTP set up), a
new account with an address is mailed a one-time code, and a user may ask
for another. Using the code marks the address verified
(``User.email_verified_at``); changing the address un-verifies it. Only the
code's hash is stored, with the address it was sent to, so an old code
cannot verify a newer address. Codes last ``TOKEN_TTL``; a user gets at most
one mail per ``RESEND_INTERVAL``.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select

from ..errors import BadRequest, Conflict, TooManyRequests
from ..extensions import db
from ..mail import MailNotSent, configured, send_mail
from ..models import EmailToken, User, utcnow
from .secrets import hash_token, new_token

log = logging.getLogger(__name__)

PURPOSE = "verify"
TOKEN_TTL = timedelta(hours=48)
RESEND_INTERVAL = timedelta(seconds=60)


class InvalidToken(BadRequest):
    code = "invalid_token"


def enabled() -> bool:
    from ..settings_store import get_setting

    return bool(get_setting("email.verification_enabled")) and configured()


def _message(user: User, code: str) -> tuple[str, str]:
    subject = "Verify your email address for comicsrv"
    body = (f"Hello {user.username},\n\n"
            f"Your comicsrv verification code is:\n\n    {code}\n\n"
            "Enter it where you were asked for it, or send it to the server with\n"
            "POST /api/v1/auth/verify-email {\"token\": \"<the code>\"}.\n"
            f"It works for {int(TOKEN_TTL.total_seconds() // 3600)} hours, once.\n\n"
            "If you did not create an account, ignore this message.\n")
    return subject, body


def send_verification(user: User) -> dict:
    """Mail a fresh code to the user's address (older codes stop working)."""
    if not enabled():
        raise Conflict("Email verification is not turned on on this server "
                       "(settings email.verification_enabled and email.smtp_*)",
                       code="verification_disabled")
    if not user.email:
        raise BadRequest("Your account has no email address to verify", code="no_email")
    if user.email_verified_at is not None:
        raise Conflict("Your email address is verified already", code="already_verified")
    now = utcnow()
    last = db.session.execute(select(EmailToken.created_at).where(
        EmailToken.user_id == user.id, EmailToken.purpose == PURPOSE)
        .order_by(EmailToken.created_at.desc()).limit(1)).scalar()
    if last is not None and now - last < RESEND_INTERVAL:
        wait = int((RESEND_INTERVAL - (now - last)).total_seconds()) + 1
        raise TooManyRequests(f"A code was sent moments ago; ask again in {wait} s",
                              retry_after=wait)
    code = new_token()
    db.session.execute(delete(EmailToken).where(EmailToken.user_id == user.id,
                                                EmailToken.purpose == PURPOSE))
    db.session.add(EmailToken(user_id=user.id, purpose=PURPOSE, email=user.email,
                              token_hash=hash_token(code), created_at=now,
                              expires_at=now + TOKEN_TTL))
    db.session.commit()
    subject, body = _message(user, code)
    send_mail(user.email, subject, body)
    return {"sent_to": user.email, "expires_in": int(TOKEN_TTL.total_seconds())}


def send_for_new_user(user: User) -> bool:
    """After a registration: mail the code when verification is on. A mail
    that cannot be sent is logged, not an error of the registration (the
    user asks again with resend-verification)."""
    if not user.email or not enabled():
        return False
    try:
        send_verification(user)
    except MailNotSent as exc:
        log.warning("verification mail to user %s not sent: %s", user.username, exc.message)
        return False
    return True


def verify(code: str) -> User:
    """Mark the address a code was mailed to as verified; the code is used up."""
    if not code or len(code) > 200:
        raise InvalidToken("The verification code is not valid")
    row = db.session.execute(select(EmailToken).where(
        EmailToken.token_hash == hash_token(code.strip()),
        EmailToken.purpose == PURPOSE)).scalar()
    if row is None or row.expires_at < utcnow():
        raise InvalidToken("The verification code is not valid or has expired; ask for a new one")
    user = db.session.get(User, row.user_id)
    db.session.delete(row)
    if user is None or (user.email or "").lower() != row.email.lower():
        db.session.commit()
        raise InvalidToken("The code was sent to an address this account no longer has")
    user.email_verified_at = utcnow()
    db.session.commit()
    return user
