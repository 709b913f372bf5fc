"""CBR: RAR4 and RAR5 archives.

Headers are parsed in pure Python by ``rarfile`` and stored entries are read
by it directly, so listing any RAR and reading pages of the common "store"
CBRs needs no external program.  Compressed entries go through the tool that
handles that RAR version (see :mod:`.rartools`): one process per entry for a
non-solid archive, and for a solid archive, where every entry depends on all
the ones before it, a single extraction into a private directory under the
cache dir, removed on :meth:`close`.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import sys
import tempfile
import weakref
import zlib
from pathlib import Path
from typing import Any

from . import rartools, tools
from .base import ArchiveFacts, ArchiveLimits, ComicArchive, Member, name_parts
from .errors import (
    ArchiveError,
    CorruptArchiveError,
    EmptyArchiveError,
    EncryptedArchiveError,
    MissingVolumeError,
    ToolMissingError,
    UnsafeArchiveError,
)

# rarfile imports cryptography, if it can, for one thing: decrypting the
# headers of a header-encrypted RAR with its password. comicsrv has no
# password to give (such a RAR is refused as encrypted: rarfile stops at the
# flag before decrypting anything), so cryptography would only be ~9 MB in
# every server's memory; it is hidden while rarfile loads.
_HIDDEN = "cryptography.hazmat.backends"
_hide = _HIDDEN not in sys.modules
if _hide:
    sys.modules[_HIDDEN] = None  # type: ignore[assignment]  # import fails: ImportError
try:
    import rarfile
finally:
    if _hide:
        del sys.modules[_HIDDEN]

# rarfile itself runs a tool in one place: while parsing a RAR4 archive comment,
# which is compressed.  Left alone it would take the first tool that merely
# starts (Debian's 7z and bsdtar do) and return their error text as the comment;
# pin it to unar, the one tool here that decompresses RAR4.
rarfile.CURRENT_SETUP = rarfile.ToolSetup(rarfile.UNAR_CONFIG)

_ALIAS_REDIRS = (rarfile.RAR5_XREDIR_HARD_LINK, rarfile.RAR5_XREDIR_FILE_COPY)


class _VolumeWatch:
    """Sees every header rarfile parses, to notice a volume set that stops early.

    rarfile quietly ends the listing when the next volume file is absent;
    the set is incomplete when the last header seen still announced more.
    """

    def __init__(self) -> None:
        self.more_expected = False
        self._volume = 0

    def __call__(self, header: Any) -> None:
        if header.volume != self._volume:
            self._volume = header.volume
            self.more_expected = False
        announces_next = {
            rarfile.RAR_BLOCK_ENDARC: rarfile.RAR_ENDARC_NEXT_VOLUME,
            rarfile.RAR_BLOCK_FILE: rarfile.RAR_FILE_SPLIT_AFTER,
        }.get(header.type, 0)
        if header.flags & announces_next:
            self.more_expected = True


class RarArchive(ComicArchive):
    """A RAR-based comic (``.cbr``, or any file whose content is a RAR)."""

    format = "cbr"

    def __init__(
        self, path: Path, *, sub_format: str, limits: ArchiveLimits, cache_dir: Path
    ) -> None:
        super().__init__(path, sub_format=sub_format, limits=limits, cache_dir=cache_dir)
        watch = _VolumeWatch()
        try:
            self._rar = rarfile.RarFile(path, info_callback=watch)
        except rarfile.NeedFirstVolume as error:
            raise MissingVolumeError(
                "this is a later part of a multi-volume RAR: open the first part", path=path
            ) from error
        except rarfile.RarCannotExec as error:
            raise ToolMissingError(
                f"its comment needs `{rartools.UNAR}` (Debian package "
                f"{rartools.DEBIAN_PACKAGES[rartools.UNAR]})",
                path=path,
            ) from error
        except (rarfile.Error, OSError, EOFError) as error:
            raise CorruptArchiveError(f"broken RAR: {error}", path=path) from error
        self._incomplete = watch.more_expected
        if self._rar.strerror() and not self._incomplete:
            raise CorruptArchiveError(f"broken RAR: {self._rar.strerror()}", path=path)
        if self._rar.needs_password():
            raise EncryptedArchiveError("the RAR is password-protected", path=path)
        self._tool = rartools.choose_tool(
            5 if sub_format == "rar5" else 4, multivolume=len(self._rar.volumelist()) > 1
        )
        self._lock = tools.native_lock()
        self._extracted: Path | None = None
        self._cleanup: weakref.finalize | None = None
        self._list()

    def _list(self) -> None:
        infos = self._rar.infolist()
        if not infos:
            raise EmptyArchiveError("the RAR has no entries", path=self.path)
        for info in infos:
            if info.is_dir():
                continue
            redirect = info.file_redir
            if info.is_symlink() or (redirect and redirect[0] not in _ALIAS_REDIRS):
                raise UnsafeArchiveError(f"entry {info.filename!r} is a link", path=self.path)
            packed = None if redirect else info.compress_size
            self._add_member(Member(info.filename, info.file_size, packed, info))

    @property
    def facts(self) -> ArchiveFacts:
        return ArchiveFacts(
            format=self.format,
            sub_format=self.sub_format,
            solid=self._rar.is_solid(),
            entry_count=len(self._members),
            has_comment=self._rar.comment is not None,
            volumes=len(self._rar.volumelist()),
        )

    @property
    def comment(self) -> bytes | None:
        return self._rar.comment.encode() if self._rar.comment is not None else None

    def _read(self, member: Member) -> bytes:
        info: rarfile.RarInfo = member.ref
        if info.file_redir:
            return self._read_alias(member)
        if self._incomplete:
            raise MissingVolumeError(
                "a later part of this multi-volume RAR"
                f" (after {Path(self._rar.volumelist()[-1]).name}) is missing",
                path=self.path,
            )
        if info.compress_type == rarfile.RAR_M0:
            return self._read_stored(info)
        if self._rar.is_solid():
            return self._read_extracted(info)
        return rartools.read_member(
            self._tool, self.path, info.filename, info.file_size, self.limits.tool_timeout
        )

    def _read_alias(self, member: Member) -> bytes:
        """A RAR5 hard link or file copy has no data of its own: read its target.

        The target must be a plain member of this archive, so this can neither
        leave the archive nor loop.
        """
        target_name = member.ref.file_redir[2]
        target = self._members.get(target_name)
        if target is None or target.ref.file_redir:
            raise CorruptArchiveError(
                f"{member.name!r} refers to {target_name!r}, which is not a file of this archive",
                path=self.path,
            )
        return self.read_entry(target_name)

    def _read_stored(self, info: rarfile.RarInfo) -> bytes:
        try:
            with self._rar.open(info) as entry:
                return entry.read()
        except FileNotFoundError as error:
            raise MissingVolumeError(
                f"a volume is missing: {error.filename}", path=self.path
            ) from error
        except (rarfile.Error, OSError, EOFError) as error:
            raise CorruptArchiveError(
                f"cannot read {info.filename!r}: {error}", path=self.path
            ) from error

    def _read_extracted(self, info: rarfile.RarInfo) -> bytes:
        """Read an entry of a solid archive from its one-time extraction."""
        with self._lock:
            if self._extracted is None:
                self._extracted = self._extract()
        target = self._extracted.joinpath(*name_parts(info.filename))
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            raise CorruptArchiveError(
                f"{self._tool} did not produce {info.filename!r}", path=self.path
            ) from error
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise UnsafeArchiveError(
                    f"{info.filename!r} did not extract as a file", path=self.path
                )
            data = file.read(info.file_size + 1)
        if len(data) != info.file_size or (
            isinstance(info.CRC, int) and zlib.crc32(data) != info.CRC
        ):
            raise CorruptArchiveError(
                f"{info.filename!r} fails its size or CRC check", path=self.path
            )
        return data

    def _extract(self) -> Path:
        self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _remove_abandoned(self.cache_dir)
        directory = Path(tempfile.mkdtemp(prefix=f"{_owner_prefix()}-", dir=self.cache_dir))
        self._cleanup = weakref.finalize(self, shutil.rmtree, directory, True)
        aliases = [m.name for m in self._members.values() if m.ref.file_redir]
        try:
            rartools.extract_all(
                self._tool, self.path, directory, aliases, self.limits.tool_timeout
            )
        except ArchiveError:
            self._cleanup()
            raise
        return directory

    def _close(self) -> None:
        with self._lock:
            if self._cleanup is not None:
                self._cleanup()
            self._extracted = None
        self._rar.close()


# An extraction directory is named after the process that made it
# (``cbr-<host>-<pid>-<random>``): one killed before it could clean up (the
# OOM killer, kill -9) leaves a whole unpacked comic behind, which the next
# extraction on the same host removes once that process is gone.
_EXTRACTION_PREFIX = "cbr-"


def _owner_prefix() -> str:
    return f"{_EXTRACTION_PREFIX}{socket.gethostname()}-{os.getpid()}"


def _remove_abandoned(cache_dir: Path) -> None:
    """Delete the extraction directories of this host's processes that no longer exist."""
    host_prefix = f"{_EXTRACTION_PREFIX}{socket.gethostname()}-"
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(host_prefix):
            continue
        pid = entry.name[len(host_prefix):].partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_exists(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
