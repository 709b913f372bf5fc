"""Users and their credentials: passwords, API keys, client tokens, preferences.

Secrets are stored hashed and never returned again after creation.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin, utcnow


class User(TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    # When the address in ``email`` was proven (a verification link used);
    # None: never, or the address changed since.
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Bumped to revoke every session and JWT issued before.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    # None: every library; else the ids this user may see.
    library_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # Permissions an admin granted this (non-admin) user beyond the plain
    # user's defaults (``comicsrv.auth.permissions.GRANTABLE``); None: none.
    granted_permissions: Mapped[list[str] | None] = mapped_column(JSON)

    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="user", passive_deletes=True, cascade="all, delete-orphan"
    )


class ApiKey(db.Model):
    """An API key with Codex's permission names (``LibrariesRead``, ...)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The non-secret part shown in lists, so a user can tell keys apart.
    key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="api_keys")


class ClientToken(db.Model):
    """CLU's "Client API Access" token for offline reader apps."""

    __tablename__ = "client_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class UserPreference(db.Model):
    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class LoginThrottleEntry(db.Model):
    """Failed password logins counted for one (user name, client address)
    pair or one address (``comicsrv.auth.throttle``). In the database so
    every process of a deployment counts into the same rows."""

    __tablename__ = "login_throttle"

    # HMAC of the scope, address and user name under SECRET_KEY: fixed size,
    # and a password typed into the user name field is not stored readable.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Failures in the current window, attempts still being checked included.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # The row means nothing after this (expired rows are pruned).
    window_ends_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class EmailToken(db.Model):
    """A one-time token mailed to a user (Codex's email verification): only
    its hash is kept, with the address it was sent to, so a token proves
    that address and no later one."""

    __tablename__ = "email_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32), default="verify")
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Passkey(db.Model):
    """A WebAuthn credential (a passkey) a user registered to log in with."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # base64url of the credential id (at most 1023 bytes).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    # The COSE public key, as the authenticator gave it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list | None] = mapped_column(JSON)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebAuthnChallenge(db.Model):
    """A challenge handed out with registration or login options, used once.
    In the database, so the process that verifies need not be the one that
    asked (several processes share PostgreSQL)."""

    __tablename__ = "webauthn_challenges"

    # base64url of the random challenge bytes.
    challenge: Mapped[str] = mapped_column(String(128), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # register | login
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rp_id: Mapped[str] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
