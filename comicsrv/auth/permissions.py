"""Codex's permission names. ``SystemAdmin`` implies every other one, and an
admin user holds ``SystemAdmin``."""
from __future__ import annotations

PERMISSIONS = (
    "LibrariesRead", "LibrariesWrite", "LibrariesDelete",
    "SeriesRead", "SeriesWrite", "SeriesDelete",
    "BooksRead", "BooksWrite", "BooksDelete",
    "PagesRead",
    "UsersRead", "UsersWrite", "UsersDelete",
    "ApiKeysRead", "ApiKeysWrite", "ApiKeysDelete",
    "TasksRead", "TasksWrite",
    "SystemHealth", "SystemAdmin",
)

# What a plain (non-admin) user may do; keys of such a user are capped to it.
USER_PERMISSIONS = frozenset({
    "LibrariesRead", "SeriesRead", "BooksRead", "BooksWrite", "PagesRead",
    "ApiKeysRead", "ApiKeysWrite", "ApiKeysDelete", "TasksRead", "SystemHealth",
})
ADMIN = "SystemAdmin"


def is_valid(name: str) -> bool:
    return name in PERMISSIONS
