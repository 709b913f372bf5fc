"""Bringing a file into the library by move, copy or hard link, never losing it.

The rules, whatever the mode:

- nothing is ever overwritten: a different file already at the destination
  keeps its name and the new one gets " (2)", " (3)" ...; a file there with
  the same content is taken as this one (an earlier run got that far);
- a copy is written to a hidden temporary name beside its destination,
  fsynced, read back and compared (size and SHA-256) with the source, and
  only then linked into place, which is atomic and cannot replace a file;
- a move deletes its source only once the destination is complete: on one
  file system it is a hard link then an unlink of the source (instant, and
  a crash in between leaves two names for one complete file), across file
  systems a verified copy then the unlink;
- a hard link falls back to a verified copy where links are impossible
  (another device, a file system without them). Permissions are not applied
  to a hard link: that would change the seeding client's file too.

Every step is safe to repeat after a crash: the temporary name is fixed per
destination, so a rerun overwrites a half-written one instead of leaving it.

Which mode a download gets depends on what holds its files (``mode_for``):
a torrent client seeds from them after completion, so a torrent is
hard-linked (or copied) and its removal left to the client's seeding limits,
as Sonarr does; usenet and direct downloads are finished with their files and
take the ``postprocess.transfer_mode`` setting, ``move`` by default.
"""
from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import BadRequest, Conflict

MOVE, COPY, HARDLINK = "move", "copy", "hardlink"
MODES = (MOVE, COPY, HARDLINK)
# The torrent setting's name for HARDLINK, which falls back to a copy anyway:
# it says so, since a torrent must never be moved by accident.
HARDLINK_OR_COPY = "hardlink_or_copy"
TORRENT_MODES = (HARDLINK_OR_COPY, COPY, MOVE)
CHUNK_SIZE = 1 << 20
MAX_SUFFIX = 100
TEMP_SUFFIX = ".comicsrv-part"
# Errors of os.link that mean "no link possible here", not "something is wrong".
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK,
            errno.EACCES}

Progress = Callable[[int, int], None]


class TransferError(Conflict):
    code = "transfer_failed"


class BadTransferMode(BadRequest):
    code = "bad_transfer_mode"


@dataclass
class TransferResult:
    path: str
    # link | copy | existing: how the file got there
    method: str
    size: int
    sha256: str | None
    source_removed: bool

    def to_dict(self) -> dict:
        return asdict(self)


def file_digest(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def mode_for(torrent: bool, usenet_mode: str, torrent_mode: str) -> str:
    """The transfer mode (one of ``MODES``) of a download: ``torrent_mode``
    (a ``TORRENT_MODES`` name) for a torrent, else ``usenet_mode``."""
    mode = torrent_mode if torrent else usenet_mode
    mode = HARDLINK if mode == HARDLINK_OR_COPY else mode
    if mode not in MODES:
        raise BadTransferMode(f"unknown transfer mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def parse_mode(text: str | None, default: int) -> int:
    """An octal permission string ("0644", "755") as an int."""
    if not text:
        return default
    try:
        return int(str(text), 8) & 0o7777
    except ValueError:
        raise BadTransferMode(f"{text!r} is not an octal permission such as 0644") from None


def make_folders(folder: Path, folder_mode: int | None) -> None:
    """Create ``folder`` and its missing parents, each with ``folder_mode``
    exactly (not filtered by the umask)."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        if folder_mode is not None:
            os.chmod(path, folder_mode)


def candidates(destination: Path) -> list[Path]:
    """The destination, then "name (2).ext" ... for when it is taken."""
    stem, ext = destination.stem, destination.suffix
    return [destination] + [destination.with_name(f"{stem} ({n}){ext}")
                            for n in range(2, MAX_SUFFIX + 1)]


def temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{TEMP_SUFFIX}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _same_content(path: Path, size: int, sha256: str | None, source: Path | None) -> tuple[bool, str | None]:
    """Whether ``path`` holds the file being transferred; and its digest if computed."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False, None
    if source is not None:
        try:
            if os.path.samestat(stat, source.stat()):
                return True, sha256
        except FileNotFoundError:
            pass
    if stat.st_size != size or sha256 is None:
        return False, None
    digest = file_digest(path)
    return digest == sha256, digest


def copy_verified(source: Path, target: Path, *, file_mode: int | None = None,
                  on_progress: Progress | None = None) -> str:
    """Copy ``source`` to ``target`` (which must not exist) through a
    temporary file; return the SHA-256 both were found to have.

    Raises ``FileExistsError`` if ``target`` appeared meanwhile (nothing is
    replaced) and ``TransferError`` if the copy does not read back identical.
    """
    temp = temp_path(target)
    total = source.stat().st_size
    digest = hashlib.sha256()
    copied = 0
    with open(source, "rb") as src, open(temp, "wb") as dst:
        while chunk := src.read(CHUNK_SIZE):
            digest.update(chunk)
            dst.write(chunk)
            copied += len(chunk)
            if on_progress is not None:
                on_progress(copied, total)
        dst.flush()
        os.fsync(dst.fileno())
    expected = digest.hexdigest()
    written_size = temp.stat().st_size
    if written_size != copied or file_digest(temp) != expected:
        temp.unlink(missing_ok=True)
        raise TransferError(f"the copy of {source} at {target} does not match the source "
                            f"({written_size} of {copied} bytes, or different content); "
                            "the source is untouched")
    if file_mode is not None:
        os.chmod(temp, file_mode)
    _place(temp, target)
    _fsync_dir(target.parent)
    return expected


def _place(temp: Path, target: Path) -> None:
    """Give ``temp`` the name ``target`` atomically, never replacing a file."""
    try:
        os.link(temp, target)
    except FileExistsError:
        temp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        # A file system without hard links: check, then rename (a tiny race
        # window with another writer, which only the link closes).
        if os.path.lexists(target):
            temp.unlink(missing_ok=True)
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.rename(temp, target)
        return
    temp.unlink()


def transfer(source: str | os.PathLike[str], destination: str | os.PathLike[str], mode: str, *,
             file_mode: int | None = None, folder_mode: int | None = None,
             expected_sha256: str | None = None, expected_size: int | None = None,
             on_progress: Progress | None = None) -> TransferResult:
    """Bring ``source`` to ``destination`` (or a free name beside it) by ``mode``.

    ``expected_sha256``/``expected_size`` describe the source as it was
    verified before; they let a rerun after a crash recognise its own
    finished work when a move already removed the source.
    """
    mode = HARDLINK if mode == HARDLINK_OR_COPY else mode
    if mode not in MODES:
        raise BadTransferMode(f"unknown transfer mode {mode!r}; use one of {', '.join(MODES)}")
    src, dest = Path(source), Path(destination)
    make_folders(dest.parent, folder_mode)
    if not src.exists():
        return _already_done(src, dest, expected_sha256, expected_size)
    size = src.stat().st_size
    sha256 = expected_sha256 if expected_size in (None, size) else None
    for target in candidates(dest):
        if os.path.lexists(target):
            if sha256 is None:
                sha256 = file_digest(src)
            same, _ = _same_content(target, size, sha256, src)
            if same:
                removed = _remove_source(src, target, mode)
                return TransferResult(str(target), "existing", size, sha256, removed)
            continue
        try:
            return _transfer_to(src, target, mode, size, file_mode, on_progress)
        except FileExistsError:
            continue  # somebody took the name this instant: try the next one
    raise TransferError(f"no free name for {dest.name} in {dest.parent} "
                        f"(tried {MAX_SUFFIX} names); nothing was moved")


def _transfer_to(src: Path, target: Path, mode: str, size: int, file_mode: int | None,
                 on_progress: Progress | None) -> TransferResult:
    temp = temp_path(target)
    temp.unlink(missing_ok=True)  # a half-written copy from an interrupted run
    if mode in (MOVE, HARDLINK):
        try:
            os.link(src, target)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
        else:
            _fsync_dir(target.parent)
            removed = False
            if mode == MOVE:
                if file_mode is not None:
                    os.chmod(target, file_mode)
                removed = _remove_source(src, target, mode)
            return TransferResult(str(target), "link", size, None, removed)
    sha256 = copy_verified(src, target, file_mode=file_mode, on_progress=on_progress)
    removed = _remove_source(src, target, mode)
    return TransferResult(str(target), "copy", size, sha256, removed)


def _remove_source(src: Path, target: Path, mode: str) -> bool:
    """Delete the source of a move, now that ``target`` is complete."""
    if mode != MOVE:
        return False
    try:
        if os.path.samefile(src, target):
            # Same name for the same file (a rerun, or an import in place).
            return src.resolve() != target.resolve() and _unlink(src)
    except FileNotFoundError:
        return False
    return _unlink(src)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    _fsync_dir(path.parent)
    return True


def _already_done(src: Path, dest: Path, sha256: str | None, size: int | None) -> TransferResult:
    """The source is gone: fine only if a finished copy of it is in place."""
    if sha256 is not None:
        for target in candidates(dest):
            if not os.path.lexists(target):
                break
            same, _ = _same_content(target, size if size is not None else -1, sha256, None)
            if same or (size is None and file_digest(target) == sha256):
                return TransferResult(str(target), "existing", target.stat().st_size, sha256,
                                      True)
    raise TransferError(f"the source {src} is gone and no complete copy of it is at {dest}")
