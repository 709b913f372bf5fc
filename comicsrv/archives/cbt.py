"""CBT: tar archives, plain or gzip/bzip2/xz-compressed, read with the standard library.

A plain tar is cheap: listing seeks from header to header, and each member's
bytes lie verbatim in the file (published as :attr:`PageEntry.data_offset`).
A compressed tar has no index, so listing decompresses the whole stream once
and reading an entry decompresses up to it; the size limits are checked while
listing so a bomb is abandoned as soon as its declared sizes give it away.
"""

from __future__ import annotations

import lzma
import tarfile
import zlib
from pathlib import Path
from typing import Literal

from . import tools
from .base import ArchiveFacts, ArchiveLimits, ComicArchive, Member
from .errors import (
    CorruptArchiveError,
    EmptyArchiveError,
    UnsafeArchiveError,
    UnsupportedFormatError,
)

_MODES: dict[str, Literal["r:", "r:gz", "r:bz2", "r:xz"]] = {
    "tar": "r:",
    "tar.gz": "r:gz",
    "tar.bz2": "r:bz2",
    "tar.xz": "r:xz",
}
_DECODE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


class TarArchive(ComicArchive):
    """A tar-based comic (``.cbt``, or any file whose content is a tar)."""

    format = "cbt"

    def __init__(
        self, path: Path, *, sub_format: str, limits: ArchiveLimits, cache_dir: Path
    ) -> None:
        super().__init__(path, sub_format=sub_format, limits=limits, cache_dir=cache_dir)
        try:
            self._tar = tarfile.open(path, mode=_MODES[sub_format])  # noqa: SIM115 (held until close)
        except tarfile.ReadError as error:
            raise UnsupportedFormatError(
                f"{sub_format} that is not a tar: {error}", path=path
            ) from error
        except _DECODE_ERRORS as error:
            raise CorruptArchiveError(f"broken {sub_format}: {error}", path=path) from error
        self._lock = tools.native_lock()
        try:
            self._list()
        except BaseException:
            self._tar.close()
            raise

    def _list(self) -> None:
        seen_any = False
        try:
            for info in self._tar:  # iterating (not getmembers) lets _add_member stop a bomb early
                seen_any = True
                if info.issym() or info.islnk():
                    raise UnsafeArchiveError(f"entry {info.name!r} is a link", path=self.path)
                if info.isfile():
                    self._add_member(Member(info.name, info.size, None, info))
        except _DECODE_ERRORS as error:
            raise CorruptArchiveError(
                f"broken {self.sub_format}: {error}", path=self.path
            ) from error
        if not seen_any:
            raise EmptyArchiveError("the tar has no entries", path=self.path)

    @property
    def facts(self) -> ArchiveFacts:
        return ArchiveFacts(
            format=self.format,
            sub_format=self.sub_format,
            solid=self.sub_format != "tar",
            entry_count=len(self._members),
            has_comment=False,
        )

    def _data_offset(self, member: Member) -> int | None:
        info: tarfile.TarInfo = member.ref
        return info.offset_data if self.sub_format == "tar" and not info.issparse() else None

    def _read(self, member: Member) -> bytes:
        with self._lock:  # TarFile shares one file position
            try:
                entry = self._tar.extractfile(member.ref)
                assert entry is not None  # only regular files are members
                data = entry.read(member.ref.size)
            except _DECODE_ERRORS as error:
                raise CorruptArchiveError(
                    f"cannot read {member.name!r}: {error}", path=self.path
                ) from error
        if len(data) != member.size:
            raise CorruptArchiveError(f"{member.name!r} is truncated", path=self.path)
        return data

    def _close(self) -> None:
        self._tar.close()
