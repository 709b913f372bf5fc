"""CBZ: zip archives, read with the standard library.

Opening reads only the central directory.  Most CBZs store their pages
uncompressed (JPEG does not deflate), and for those the page's exact byte span
in the file is published as :attr:`PageEntry.data_offset`, so the server can
send it as a range of the file with no Python in the data path.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

from .base import ArchiveFacts, ArchiveLimits, ComicArchive, Member
from .errors import (
    CorruptArchiveError,
    EmptyArchiveError,
    EncryptedArchiveError,
    UnsafeArchiveError,
    UnsupportedFormatError,
)

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length
_LOCAL_SIGNATURE = b"PK\x03\x04"
_UNIX = 3


class ZipArchive(ComicArchive):
    """A zip-based comic (``.cbz``, or any file whose content is a zip)."""

    format = "cbz"

    def __init__(
        self, path: Path, *, sub_format: str, limits: ArchiveLimits, cache_dir: Path
    ) -> None:
        super().__init__(path, sub_format=sub_format, limits=limits, cache_dir=cache_dir)
        self._file = path.open("rb")
        try:
            try:
                self._zip = zipfile.ZipFile(self._file)
            except NotImplementedError as error:  # e.g. a zip64 multi-disk or newer zip version
                raise UnsupportedFormatError(f"unsupported zip: {error}", path=path) from error
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
                raise CorruptArchiveError(f"broken zip: {error}", path=path) from error
            self._file_size = os.fstat(self._file.fileno()).st_size
            self._list()
        except BaseException:
            self._file.close()
            raise

    def _list(self) -> None:
        infos = self._zip.infolist()
        if not infos:
            raise EmptyArchiveError("the zip has no entries", path=self.path)
        for info in infos:
            if info.is_dir():
                continue
            if info.create_system == _UNIX and stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"entry {info.filename!r} is a symlink", path=self.path)
            if info.flag_bits & 0x1:
                raise EncryptedArchiveError(
                    f"entry {info.filename!r} is password-protected", path=self.path
                )
            self._add_member(Member(info.filename, info.file_size, info.compress_size, info))

    @property
    def facts(self) -> ArchiveFacts:
        return ArchiveFacts(
            format=self.format,
            sub_format=self.sub_format,
            solid=False,
            entry_count=len(self._members),
            has_comment=bool(self._zip.comment),
        )

    @property
    def comment(self) -> bytes | None:
        return self._zip.comment or None

    def _data_offset(self, member: Member) -> int | None:
        """Offset of a stored entry's data, from its *local* header.

        The central directory's copy of the extra field often differs in length
        from the local one (zip64, timestamps), so only the local header gives
        the true start of the data.  A header that does not check out yields
        ``None`` and the page is then read, and its error reported, normally.
        """
        info: zipfile.ZipInfo = member.ref
        if info.compress_type != zipfile.ZIP_STORED or info.header_offset < 0:
            return None
        header = os.pread(self._file.fileno(), _LOCAL_HEADER.size, info.header_offset)
        if len(header) != _LOCAL_HEADER.size:
            return None
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        offset = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        if signature != _LOCAL_SIGNATURE or offset + info.compress_size > self._file_size:
            return None
        return offset

    def _read(self, member: Member) -> bytes:
        info: zipfile.ZipInfo = member.ref
        try:
            with self._zip.open(info) as entry:
                # ZipExtFile stops at the declared size and then checks the CRC.
                return entry.read()
        except NotImplementedError as error:
            raise UnsupportedFormatError(
                f"entry {info.filename!r} uses an unsupported compression method "
                f"({info.compress_type})",
                path=self.path,
            ) from error
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise CorruptArchiveError(
                f"cannot read {info.filename!r}: {error}", path=self.path
            ) from error

    def _close(self) -> None:
        self._zip.close()
        self._file.close()
