"""Making and checking secrets. Only hashes are stored.

Passwords use scrypt (Werkzeug's default: memory-hard, no extra dependency).
API keys and tokens are long random strings, so one SHA-256 is enough to make
the stored value useless to a thief, and it keeps each authenticated request
to one indexed look-up.
"""
from __future__ import annotations

import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

API_KEY_PREFIX = "csrv"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_password(stored_hash: str, password: str) -> bool:
    return bool(stored_hash) and check_password_hash(stored_hash, password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """``(key, prefix)``: ``csrv_<8 hex>_<secret>``; the prefix is shown in lists."""
    prefix = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def new_token() -> str:
    return secrets.token_urlsafe(32)
