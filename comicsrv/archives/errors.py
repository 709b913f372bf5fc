"""Errors raised by :mod:`comicsrv.archives`.

Every error is an :class:`ArchiveError` so a caller (the library scanner, the
page server) can catch one type, show ``str(error)`` to a person and store the
short, stable ``reason`` code in the database or an API response without
parsing messages.
"""

from __future__ import annotations

import os
from typing import ClassVar


class ArchiveError(Exception):
    """Base class: something is wrong with an archive or with how it was asked for."""

    reason: ClassVar[str] = "archive_error"

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = os.fspath(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UnsupportedFormatError(ArchiveError):
    """The file is not an archive format we read, or uses a method we cannot decode."""

    reason = "unsupported"


class EncryptedArchiveError(ArchiveError):
    """The archive, its headers or some of its entries are password-protected."""

    reason = "encrypted"


class CorruptArchiveError(ArchiveError):
    """The archive is truncated, malformed or fails its checksums."""

    reason = "corrupt"


class EmptyArchiveError(ArchiveError):
    """The archive holds no entries at all (an archive with entries but no pages is not this)."""

    reason = "empty"


class MissingVolumeError(ArchiveError):
    """A multi-volume archive was opened at a later part, or a part it needs is absent."""

    reason = "missing_volume"


class UnsafeArchiveError(ArchiveError):
    """Path traversal, links or a decompression bomb: refused rather than read."""

    reason = "unsafe"


class EntryNotFoundError(ArchiveError):
    """The requested entry or page is not part of this archive."""

    reason = "entry_not_found"


class ToolMissingError(ArchiveError):
    """An external decompressor this archive needs is not installed."""

    reason = "tool_missing"
