"""Users and their credentials: passwords, API keys, client tokens, preferences.

Secrets are stored hashed and never returned again after creation.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin, utcnow


class User(TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
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
