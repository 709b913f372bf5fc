"""Session tokens: the JWT that ``/api/v1/auth/login`` hands out.

HS256, signed with the app's ``SECRET_KEY``. Claims: ``sub`` (the user id, a
string as RFC 7519 wants), ``iat``, ``exp`` and ``gen``, the user's
``token_generation`` when the token was made. Bumping that column revokes
every token issued before, without a table of sessions to keep.

The same token travels as ``Authorization: Bearer`` (API clients) and in the
HttpOnly ``comicsrv_session`` cookie (the web UI).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app

from ..extensions import db
from ..models import User, utcnow

ALGORITHM = "HS256"
SESSION_COOKIE = "comicsrv_session"
DEFAULT_TTL_SECONDS = 24 * 3600  # Codex's expires_in
# A JWT we issue is ~200 bytes; refuse to parse anything absurdly long.
MAX_TOKEN_LENGTH = 4096


def token_ttl() -> int:
    """Lifetime of a new token in seconds (setting ``SESSION_TTL_SECONDS``)."""
    return int(current_app.config.get("SESSION_TTL_SECONDS") or DEFAULT_TTL_SECONDS)


def issue_token(user: User, *, ttl: int | None = None) -> tuple[str, int]:
    """``(token, expires_in)`` for ``user``."""
    ttl = token_ttl() if ttl is None else ttl
    now = utcnow()
    claims = {"sub": str(user.id), "iat": now, "exp": now + timedelta(seconds=ttl),
              "gen": user.token_generation or 0}
    import jwt  # here, not at the top: PyJWT loads cryptography (~9 MB) with it

    # PyJWT reads naive datetimes as UTC, which is what utcnow() gives.
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=ALGORITHM), ttl


def user_for_token(token: str) -> User | None:
    """The active user a token was issued to, or None when the token is
    badly signed, expired, malformed or revoked (stale ``gen``)."""
    found = user_and_expiry_for_token(token)
    return found[0] if found is not None else None


def user_and_expiry_for_token(token: str) -> tuple[User, datetime] | None:
    """As ``user_for_token``, with the token's expiry (naive UTC)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    import jwt  # as in issue_token

    try:
        claims = jwt.decode(token, current_app.config["SECRET_KEY"], algorithms=[ALGORITHM],
                            options={"require": ["sub", "iat", "exp", "gen"]})
        user_id = int(claims["sub"])
        generation = int(claims["gen"])
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC).replace(tzinfo=None)
    except (jwt.InvalidTokenError, TypeError, ValueError, OverflowError, OSError):
        return None
    if not 0 < user_id < 2**31:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or (user.token_generation or 0) != generation:
        return None
    return user, expires
