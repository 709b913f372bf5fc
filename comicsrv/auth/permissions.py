"""Codex's permission names, plus ``MetadataWrite``. ``SystemAdmin`` implies
every other one, and an admin user holds ``SystemAdmin``.

What a plain user holds is ``USER_PERMISSIONS``: reading, their own reading
state (``BooksWrite`` on ``/api/v1`` is progress and read marks, nothing
another user sees) and their own credentials. Anything that changes what
every user sees, or shows what only an admin should (other users' jobs,
server metrics), is outside it; an admin may grant a user some of it
(``GRANTABLE``), and the user's keys may then carry it too.
"""
from __future__ import annotations

from typing import Iterable

PERMISSIONS = (
    "LibrariesRead", "LibrariesWrite", "LibrariesDelete",
    "SeriesRead", "SeriesWrite", "SeriesDelete",
    "BooksRead", "BooksWrite", "BooksDelete",
    # Shared metadata: titles, tags, covers, the "new" flag and the server's
    # categories, which every user sees (LANraragi's 🔑 edits).
    "MetadataWrite",
    "PagesRead",
    "UsersRead", "UsersWrite", "UsersDelete",
    "ApiKeysRead", "ApiKeysWrite", "ApiKeysDelete",
    "TasksRead", "TasksWrite",
    "SystemHealth", "SystemAdmin",
)

# What a plain (non-admin) user may do; keys of such a user are capped to it
# plus what an admin granted the user.
USER_PERMISSIONS = frozenset({
    "LibrariesRead", "SeriesRead", "BooksRead", "BooksWrite", "PagesRead",
    "ApiKeysRead", "ApiKeysWrite", "ApiKeysDelete", "TasksRead",
})
ADMIN = "SystemAdmin"

# What an admin may grant a plain user beyond USER_PERMISSIONS. Not the
# account permissions: whoever may change users may make themselves an admin,
# so that is done by making them one (``is_admin``).
GRANTABLE = frozenset(PERMISSIONS) - {ADMIN, "UsersRead", "UsersWrite", "UsersDelete"}


def is_valid(name: str) -> bool:
    return name in PERMISSIONS


def for_user(is_admin: bool, granted: Iterable[str] | None) -> frozenset[str]:
    """Everything a user holds: all of it for an admin, else the plain user's
    defaults and the grants an admin gave them (unknown or ungrantable names,
    left from an older release, count for nothing)."""
    if is_admin:
        return frozenset(PERMISSIONS)
    return USER_PERMISSIONS | (frozenset(granted or ()) & GRANTABLE)
