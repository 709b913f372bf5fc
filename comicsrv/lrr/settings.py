"""The admin settings the archive API obeys, read straight from the settings
table: a key never set reads as its default."""
from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import Setting

PUBLIC_READING = "library.public_reading"
UPLOAD_LIBRARY = "lrr.upload_library_id"
ARCHIVES_PER_PAGE = "lrr.archives_per_page"

DEFAULT_ARCHIVES_PER_PAGE = 100  # LANraragi's default page size
MAX_ARCHIVES_PER_PAGE = 1000


def _value(key: str) -> Any:
    row = db.session.get(Setting, key)
    return None if row is None else row.value


def public_reading() -> bool:
    """Whether read endpoints answer without an API key (LANraragi with
    No-Fun Mode off). Off unless an admin turned it on."""
    value = _value(PUBLIC_READING)
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return value is True


def upload_library_id() -> int | None:
    value = _value(UPLOAD_LIBRARY)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    try:
        return int(value) or None
    except ValueError:
        return None


def archives_per_page() -> int:
    value = _value(ARCHIVES_PER_PAGE)
    if isinstance(value, bool) or not isinstance(value, int):
        return DEFAULT_ARCHIVES_PER_PAGE
    return max(1, min(MAX_ARCHIVES_PER_PAGE, value))
