"""A directory of images read as a comic, the way Komga and Codex accept them.

The tree is walked once without following links: a symlink (to a file or a
directory) is skipped, never read, so a folder cannot pull in files from
elsewhere.  Hidden directories are not descended into.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .base import ArchiveFacts, ArchiveLimits, ComicArchive, Member
from .errors import CorruptArchiveError, EmptyArchiveError, EntryNotFoundError


class FolderArchive(ComicArchive):
    """A directory whose files (recursively) are the entries."""

    format = "folder"

    def __init__(
        self, path: Path, *, sub_format: str, limits: ArchiveLimits, cache_dir: Path
    ) -> None:
        super().__init__(path, sub_format=sub_format, limits=limits, cache_dir=cache_dir)
        self._walk(path, "")
        if not self._members:
            raise EmptyArchiveError("the folder holds no files", path=path)

    def _walk(self, directory: Path, prefix: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            raise CorruptArchiveError(
                f"cannot list {directory}: {error}", path=self.path
            ) from error
        for entry in entries:
            if entry.is_symlink():
                continue
            name = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith("."):
                    self._walk(Path(entry.path), name + "/")
            elif entry.is_file(follow_symlinks=False):
                self._add_member(Member(name, entry.stat(follow_symlinks=False).st_size, None))

    @property
    def facts(self) -> ArchiveFacts:
        return ArchiveFacts(
            format=self.format,
            sub_format=self.sub_format,
            solid=False,
            entry_count=len(self._members),
            has_comment=False,
        )

    def _read(self, member: Member) -> bytes:
        """Read a file listed at open time, refusing it if it became a link or grew past the limit."""
        try:
            fd = _open_beneath(self.path, member.name.split("/"))
        except FileNotFoundError as error:
            raise EntryNotFoundError(f"{member.name!r} was removed", path=self.path) from error
        except OSError as error:
            raise CorruptArchiveError(
                f"cannot open {member.name!r}: {error}", path=self.path
            ) from error
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise CorruptArchiveError(
                    f"{member.name!r} is no longer a regular file", path=self.path
                )
            data = file.read(self.limits.max_entry_size + 1)
        if len(data) > self.limits.max_entry_size:
            raise CorruptArchiveError(
                f"{member.name!r} grew past the entry size limit", path=self.path
            )
        return data

    def _close(self) -> None:
        """Nothing is held open between reads."""


def _open_beneath(root: Path, parts: list[str]) -> int:
    """Open ``root/parts...`` refusing a symlink at *every* level, not just the last.

    Walking with ``dir_fd`` closes the window in which a directory listed at
    open time is swapped for a link before the read.
    """
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
            os.close(directory)
            directory = child
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
    finally:
        os.close(directory)
