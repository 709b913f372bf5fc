"""Users, API keys and client tokens: the rules shared by the CLI and the APIs."""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select, text

from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..extensions import db
from ..models import ApiKey, ClientToken, Library, Setting, User, utcnow
from .hashing import hash_password
from .permissions import ADMIN, GRANTABLE, PERMISSIONS, for_user, is_valid
from .secrets import hash_token, new_api_key, new_token

MIN_PASSWORD_LENGTH = 8
ALLOW_REGISTRATION_SETTING = "auth.allow_registration"

# Serialises first-run set-up inside one process; PostgreSQL also takes an
# advisory lock so two processes cannot both create "the first" admin.
_setup_lock = threading.Lock()
_SETUP_ADVISORY_LOCK = 0x636F6D69  # "comi"


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"The password must have at least {MIN_PASSWORD_LENGTH} characters")


def _check_username_free(username: str, *, except_id: int | None = None) -> None:
    query = select(User.id).where(User.username == username)
    if except_id is not None:
        query = query.where(User.id != except_id)
    if db.session.execute(query).first():
        raise Conflict(f"A user named {username!r} already exists")


def _check_library_ids(library_ids: list[int] | None) -> list[int] | None:
    if library_ids is None:
        return None
    wanted = sorted(set(library_ids))
    found = set(db.session.execute(select(Library.id).where(Library.id.in_(wanted))).scalars()) \
        if wanted else set()
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise BadRequest(f"Unknown library id(s): {', '.join(map(str, unknown))}",
                         details={"library_ids": unknown})
    return wanted


def _check_grants(granted: Iterable[str] | None) -> list[str]:
    """Permissions an admin grants a plain user beyond the defaults, in the
    canonical order; unknown names and ones no plain user may hold (the
    account permissions, SystemAdmin: make the user an admin instead) are a
    ``BadRequest``."""
    wanted = set(granted or ())
    unknown = sorted(p for p in wanted if not is_valid(p))
    if unknown:
        raise BadRequest(f"Unknown permission(s): {', '.join(unknown)}",
                         details={"unknown_permissions": unknown})
    refused = sorted(wanted - GRANTABLE)
    if refused:
        raise BadRequest(f"Permission(s) a plain user cannot be granted: {', '.join(refused)} "
                         "(make the user an admin instead)", details={"permissions": refused})
    return [p for p in PERMISSIONS if p in wanted]


def create_user(username: str, password: str, *, is_admin: bool = False,
                email: str | None = None, is_active: bool = True,
                library_ids: list[int] | None = None,
                granted_permissions: list[str] | None = None) -> User:
    username = (username or "").strip()
    if not username:
        raise BadRequest("A username is required")
    _check_password(password)
    _check_username_free(username)
    user = User(username=username, password_hash=hash_password(password),
                is_admin=is_admin, is_active=is_active, email=email,
                library_ids=_check_library_ids(library_ids), token_generation=0,
                granted_permissions=_check_grants(granted_permissions))
    db.session.add(user)
    db.session.commit()
    return user


def need_setup() -> bool:
    """True until the first user exists."""
    return db.session.execute(select(User.id).limit(1)).first() is None


def create_first_admin(username: str, password: str, email: str | None = None) -> User:
    """First-run set-up: the first user, an admin. ``Conflict`` once any user exists."""
    with _setup_lock:
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _SETUP_ADVISORY_LOCK})
        if not need_setup():
            db.session.rollback()
            raise Conflict("Setup is already complete", code="already_initialized")
        return create_user(username, password, is_admin=True, email=email)


def registration_allowed() -> bool:
    """The admin setting ``auth.allow_registration`` (default off)."""
    row = db.session.get(Setting, ALLOW_REGISTRATION_SETTING)
    return row is not None and row.value is True


def record_login(user: User) -> None:
    user.last_login_at = utcnow()
    db.session.commit()


def _bump_generation(user: User) -> None:
    user.token_generation = (user.token_generation or 0) + 1


def revoke_sessions(user: User) -> None:
    """Invalidate every JWT and session cookie issued to ``user`` so far
    (API keys and client tokens are not sessions and stay valid)."""
    _bump_generation(user)
    db.session.commit()


def _active_admins_besides(user: User) -> int:
    return db.session.execute(select(func.count(User.id)).where(
        User.is_admin.is_(True), User.is_active.is_(True), User.id != user.id)).scalar_one()


def _would_leave_no_admin(user: User, *, is_admin: bool, is_active: bool) -> bool:
    was_active_admin = user.is_admin and user.is_active
    stays_active_admin = is_admin and is_active
    return was_active_admin and not stays_active_admin and _active_admins_besides(user) == 0


def update_user(user: User, changes: dict[str, Any]) -> User:
    """Apply a partial update. Changing the password or deactivating the user
    revokes their sessions; the last active admin cannot be demoted or
    deactivated (``Conflict``). Everything is checked before anything changes."""
    changes = dict(changes)
    if "username" in changes:
        changes["username"] = (changes["username"] or "").strip()
        if not changes["username"]:
            raise BadRequest("A username is required")
        _check_username_free(changes["username"], except_id=user.id)
    if "password" in changes:
        _check_password(changes["password"])
    if "library_ids" in changes:
        changes["library_ids"] = _check_library_ids(changes["library_ids"])
    if "granted_permissions" in changes:
        changes["granted_permissions"] = _check_grants(changes["granted_permissions"])
    if _would_leave_no_admin(user, is_admin=changes.get("is_admin", user.is_admin),
                             is_active=changes.get("is_active", user.is_active)):
        raise Conflict("This is the last active admin: make another admin first",
                       code="last_admin")

    if "password" in changes:
        user.password_hash = hash_password(changes.pop("password"))
        _bump_generation(user)
    if user.is_active and changes.get("is_active") is False:
        _bump_generation(user)
    if "email" in changes and (changes["email"] or None) != (user.email or None):
        user.email_verified_at = None  # a new address is not proven by the old one's code
    for name in ("username", "email", "is_admin", "is_active", "library_ids",
                 "granted_permissions"):
        if name in changes:
            setattr(user, name, changes[name])
    db.session.commit()
    return user


def delete_user(user: User) -> None:
    if _would_leave_no_admin(user, is_admin=False, is_active=False):
        raise Conflict("This is the last active admin: make another admin first",
                       code="last_admin")
    db.session.delete(user)  # keys, tokens, progress... go with it (ON DELETE CASCADE)
    db.session.commit()


# --- API keys -------------------------------------------------------------------

def check_permissions(requested: Iterable[str], *, owner: User,
                      granter_permissions: frozenset[str] | None = None) -> list[str]:
    """Validate the permission names of a key; return them de-duplicated in
    the canonical order.

    Unknown names → ``BadRequest``; names beyond what the granter holds →
    ``Forbidden``; names the owner could never use → ``BadRequest`` (a key is
    capped by its owner at use time, and storing more would silently widen it
    if the owner were promoted later).
    """
    requested = list(requested)
    unknown = sorted({p for p in requested if not is_valid(p)})
    if unknown:
        raise BadRequest(f"Unknown permission(s): {', '.join(unknown)}",
                         details={"unknown_permissions": unknown})
    wanted = set(requested)
    if granter_permissions is not None and ADMIN not in granter_permissions:
        lacking = sorted(wanted - granter_permissions)
        if lacking:
            raise Forbidden(f"You cannot grant permission(s) you lack: {', '.join(lacking)}",
                            details={"permissions": lacking})
    if not owner.is_admin:
        beyond = sorted(wanted - for_user(False, owner.granted_permissions))
        if beyond:
            raise BadRequest(f"User {owner.username!r} cannot hold permission(s): "
                             f"{', '.join(beyond)}", details={"permissions": beyond})
    return [p for p in PERMISSIONS if p in wanted]


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is not None and expires_at <= utcnow():
        raise BadRequest("expires_at must be in the future")
    return expires_at


def issue_api_key(owner: User, name: str, permissions: list[str], *,
                  expires_at: datetime | None = None,
                  granter_permissions: frozenset[str] | None = None) -> tuple[ApiKey, str]:
    """Return the row and the plaintext key, which is never available again.
    ``expires_at`` is naive UTC."""
    checked = check_permissions(permissions, owner=owner, granter_permissions=granter_permissions)
    key, prefix = new_api_key()
    row = ApiKey(user_id=owner.id, name=name, key_prefix=prefix, key_hash=hash_token(key),
                 permissions=checked, expires_at=_check_expiry(expires_at))
    db.session.add(row)
    db.session.commit()
    return row, key


def update_api_key(row: ApiKey, changes: dict[str, Any], *,
                   granter_permissions: frozenset[str] | None = None) -> ApiKey:
    changes = dict(changes)
    if "permissions" in changes:
        changes["permissions"] = check_permissions(changes["permissions"], owner=row.user,
                                                   granter_permissions=granter_permissions)
    if "expires_at" in changes:
        _check_expiry(changes["expires_at"])
    for name in ("name", "permissions", "expires_at"):
        if name in changes:
            setattr(row, name, changes[name])
    db.session.commit()
    return row


def create_api_key(username: str, name: str = "default",
                   permissions: list[str] | None = None) -> tuple[ApiKey, str]:
    """A key for ``username`` (the CLI's way in): by default with everything
    the user may hold."""
    user = db.session.execute(select(User).where(User.username == username)).scalar()
    if user is None:
        raise NotFound(f"No user named {username!r}")
    if permissions is None:
        permissions = sorted(for_user(user.is_admin, user.granted_permissions))
    return issue_api_key(user, name, permissions)


# --- client tokens --------------------------------------------------------------

def create_client_token(user: User, name: str = "reader") -> tuple[ClientToken, str]:
    """A CLU client token for a reader app; the plaintext is returned once."""
    token = new_token()
    row = ClientToken(user_id=user.id, name=name, token_hash=hash_token(token))
    db.session.add(row)
    db.session.commit()
    return row, token
