"""CB7: 7-Zip archives, read with ``py7zr`` straight into memory.

The header (at the end of the file) is all that opening reads.  An entry is
decompressed through a writer that refuses to grow past the entry's declared
size, so nothing touches the disk and a lying header cannot expand without
bound.  Most CB7s are solid: reading page *n* decompresses the pages before it
in the same block, which is 7z's design, not something a reader can avoid.
"""

from __future__ import annotations

import lzma
import zlib
from pathlib import Path

import py7zr
import py7zr.exceptions
import py7zr.io

from . import tools
from .base import ArchiveFacts, ArchiveLimits, ComicArchive, Member
from .errors import (
    CorruptArchiveError,
    EmptyArchiveError,
    EncryptedArchiveError,
    UnsafeArchiveError,
    UnsupportedFormatError,
)

# py7zr lets its codecs' own exceptions through on corrupt data.
_DECODE_ERRORS = (
    py7zr.exceptions.ArchiveError,
    lzma.LZMAError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
)


class _Overflow(Exception):
    """Raised inside py7zr's extraction loop when an entry outgrows its declared size."""


class _BoundedBuffer(py7zr.io.Py7zIO):
    """An in-memory sink for one entry that stops at ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self._data = bytearray()
        self._limit = limit

    def write(self, s: bytes | bytearray) -> int:
        if len(self._data) + len(s) > self._limit:
            raise _Overflow
        self._data += s
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return bytes(self._data if size is None or size < 0 else self._data[:size])

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self._data)


class _SingleEntryFactory(py7zr.io.WriterFactory):
    def __init__(self, limit: int) -> None:
        self.buffer = _BoundedBuffer(limit)

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        return self.buffer


def _solid_blocks(infos: list[py7zr.FileInfo]) -> list[list[py7zr.FileInfo]]:
    """Entries grouped by the packed stream they come from, in listing order.

    py7zr reports a packed size only for the first entry of each stream (a
    solid block, or a lone non-solid entry); the entries after it, up to the
    next one with a packed size, are decompressed from the same stream.
    Directories and empty files have no stream and add nothing to a group.
    """
    blocks: list[list[py7zr.FileInfo]] = []
    for info in infos:
        if info.compressed is not None or not blocks:
            blocks.append([info])
        else:
            blocks[-1].append(info)
    return blocks


class SevenZipArchive(ComicArchive):
    """A 7z-based comic (``.cb7``, or any file whose content is 7z)."""

    format = "cb7"

    def __init__(
        self, path: Path, *, sub_format: str, limits: ArchiveLimits, cache_dir: Path
    ) -> None:
        super().__init__(path, sub_format=sub_format, limits=limits, cache_dir=cache_dir)
        try:
            self._7z = py7zr.SevenZipFile(path, mode="r")
        except py7zr.exceptions.PasswordRequired as error:
            raise EncryptedArchiveError(
                "the 7z headers are password-protected", path=path
            ) from error
        except _DECODE_ERRORS as error:
            raise CorruptArchiveError(f"broken 7z: {error}", path=path) from error
        self._lock = tools.native_lock()
        try:
            self._list()
        except BaseException:
            self._7z.close()
            raise

    def _list(self) -> None:
        if self._7z.needs_password():
            raise EncryptedArchiveError("the 7z is password-protected", path=self.path)
        infos = self._7z.list()
        if not infos:
            raise EmptyArchiveError("the 7z has no entries", path=self.path)
        for info in infos:
            if info.is_symlink:
                raise UnsafeArchiveError(f"entry {info.filename!r} is a symlink", path=self.path)
        for block in _solid_blocks(infos):
            packed = block[0].compressed
            unpacked = sum(info.uncompressed for info in block)
            for info in block:
                if info.is_directory:
                    continue
                # Each entry is charged its share of the block's packed size, so
                # the bomb guard sees the block's ratio: a bomb hidden after a
                # small first page is as dense as the block it expands.
                share = None if packed is None else packed * info.uncompressed // max(unpacked, 1)
                self._add_member(Member(info.filename, info.uncompressed, share, info))

    @property
    def facts(self) -> ArchiveFacts:
        return ArchiveFacts(
            format=self.format,
            sub_format=self.sub_format,
            solid=self._7z.archiveinfo().solid,
            entry_count=len(self._members),
            has_comment=False,
        )

    def _read(self, member: Member) -> bytes:
        factory = _SingleEntryFactory(member.size or 0)
        with self._lock:  # a SevenZipFile is a stateful reader: one extraction at a time
            try:
                self._7z.extract(targets=[member.name], factory=factory)
            except _Overflow as error:
                raise CorruptArchiveError(
                    f"{member.name!r} holds more data than its header declares", path=self.path
                ) from error
            except py7zr.exceptions.UnsupportedCompressionMethodError as error:
                raise UnsupportedFormatError(
                    f"{member.name!r} uses an unsupported 7z method: {error}", path=self.path
                ) from error
            except _DECODE_ERRORS as error:
                raise CorruptArchiveError(
                    f"cannot read {member.name!r}: {error}", path=self.path
                ) from error
            finally:
                self._7z.reset()
        data = factory.buffer.read()
        if len(data) != member.size:
            raise CorruptArchiveError(f"{member.name!r} is shorter than declared", path=self.path)
        return data

    def _close(self) -> None:
        self._7z.close()
