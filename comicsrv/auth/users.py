"""Creating users and API keys: shared by the CLI and the APIs."""
from __future__ import annotations

from ..errors import BadRequest, Conflict, NotFound
from ..extensions import db
from ..models import ApiKey, ClientToken, User
from .permissions import PERMISSIONS, USER_PERMISSIONS, is_valid
from .secrets import hash_password, hash_token, new_api_key, new_token

MIN_PASSWORD_LENGTH = 8


def create_user(username: str, password: str, *, is_admin: bool = False,
                email: str | None = None) -> User:
    username = (username or "").strip()
    if not username:
        raise BadRequest("A username is required")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"The password must have at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.execute(db.select(User.id).where(User.username == username)).first():
        raise Conflict(f"A user named {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password),
                is_admin=is_admin, email=email)
    db.session.add(user)
    db.session.commit()
    return user


def create_api_key(username: str, name: str = "default",
                   permissions: list[str] | None = None) -> tuple[ApiKey, str]:
    """Return the row and the plaintext key, which is never available again."""
    user = db.session.execute(db.select(User).where(User.username == username)).scalar()
    if user is None:
        raise NotFound(f"No user named {username!r}")
    allowed = PERMISSIONS if user.is_admin else tuple(sorted(USER_PERMISSIONS))
    if permissions is None:
        permissions = list(allowed)
    unknown = [p for p in permissions if not is_valid(p)]
    if unknown:
        raise BadRequest(f"Unknown permission(s): {', '.join(unknown)}")
    key, prefix = new_api_key()
    row = ApiKey(user_id=user.id, name=name, key_prefix=prefix, key_hash=hash_token(key),
                 permissions=list(permissions))
    db.session.add(row)
    db.session.commit()
    return row, key


def create_client_token(user: User, name: str = "reader") -> tuple[ClientToken, str]:
    """A CLU client token for a reader app; the plaintext is returned once."""
    token = new_token()
    row = ClientToken(user_id=user.id, name=name, token_hash=hash_token(token))
    db.session.add(row)
    db.session.commit()
    return row, token
