"""The external programs that decompress RAR data for :mod:`.cbr`.

``rarfile`` parses RAR headers and reads *stored* entries itself, but
decompression needs a program, and the free ones each miss part of RAR
(checked on Debian 12 with the fixtures under ``tests/fixtures/archives``):

==========================  ======================  ===========================
tool (Debian package)       RAR4 (incl. solid)      RAR5 (incl. solid)
==========================  ======================  ===========================
``unar`` (unar 1.10)        yes, and multi-volume   no: solid and even some
                                                    stored RAR5 fail to parse
``bsdtar`` (libarchive 3.6) no solid, no multi-vol  yes (not multi-volume)
``7zz`` (7zip, Debian)      no: RAR codec removed   no
``unrar-free`` (0.1)        libarchive again        libarchive again
==========================  ======================  ===========================

So RAR4 (and multi-volume) data goes through ``unar`` and RAR5 through
``bsdtar``; RARLAB's non-free ``unrar`` is deliberately never used, so the
behaviour is the same on every machine.

Two hazards shape the code: entry names are *patterns* to both tools (a page
called ``page[1].jpg`` would match ``page1.jpg``), so they are escaped; and
libarchive writes endless output for a RAR5 "file copy" record, so every read
is capped at the declared size and every run at a timeout.  The tools are
started through :mod:`.tools`, which knows how to do that under gevent.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from . import tools
from .errors import CorruptArchiveError, ToolMissingError

UNAR = "unar"
BSDTAR = "bsdtar"
DEBIAN_PACKAGES = {UNAR: "unar", BSDTAR: "libarchive-tools"}

# Quiet, never unpack archives found inside the archive, and an empty password
# so an encrypted entry fails instead of prompting.
_UNAR_OPTIONS = ("-q", "-nr", "-p", "")
_PATTERN_CHARS = re.compile(r"([\\\[\]*?])")
_CHUNK = 1 << 16  # output kept from an extraction (only errors are expected there)


def choose_tool(rar_version: int, multivolume: bool) -> str:
    """The tool that decompresses this kind of RAR (see the module table)."""
    return UNAR if rar_version < 5 or multivolume else BSDTAR


def read_member(tool: str, archive: Path, name: str, size: int, timeout: float) -> bytes:
    """Decompress one entry to memory, refusing any byte beyond its declared ``size``."""
    pattern = _escape(name)
    if tool == UNAR:
        argv = [_executable(tool, archive), *_UNAR_OPTIONS, "-o", "-", str(archive), "--", pattern]
    else:
        argv = [_executable(tool, archive), "-x", "-q", "-O", "-f", str(archive), "--", pattern]
    returncode, out, err = tools.run(argv, archive, stdout_limit=size, timeout=timeout)
    if len(out) > size:
        raise CorruptArchiveError(
            f"{name!r} holds more data than its header declares", path=archive
        )
    if returncode != 0 or len(out) != size:
        raise CorruptArchiveError(
            f"{tool} could not decompress {name!r} (exit status {returncode}) {err}".rstrip(),
            path=archive,
        )
    return out


def extract_all(
    tool: str, archive: Path, dest: Path, exclude: Iterable[str], timeout: float
) -> None:
    """Extract the whole archive into ``dest`` (used for solid archives).

    ``exclude`` lists entries that must not be written: RAR5 hard links and
    file copies, which the caller resolves to their targets itself.  Only
    ``bsdtar`` meets those (they are RAR5-only records).  Names were already
    checked for traversal and links were refused, and both tools refuse
    ``..`` and absolute paths on their own as well.
    """
    if tool == UNAR:
        # -D: no containing folder, so entry names map 1:1 to paths; -f: later duplicates win.
        argv = [
            _executable(tool, archive),
            *_UNAR_OPTIONS,
            "-D",
            "-f",
            "-o",
            str(dest),
            str(archive),
        ]
    else:
        argv = [_executable(tool, archive), "-x", "--no-same-owner", "--no-same-permissions"]
        argv += [f"--exclude={_escape(name)}" for name in exclude]
        argv += ["-f", str(archive), "-C", str(dest)]
    returncode, _, err = tools.run(argv, archive, stdout_limit=_CHUNK, timeout=timeout)
    if returncode != 0:
        raise CorruptArchiveError(
            f"{tool} could not extract the archive (exit status {returncode}) {err}".rstrip(),
            path=archive,
        )


def _escape(name: str) -> str:
    """Make an entry name match only itself as an fnmatch-style pattern."""
    return _PATTERN_CHARS.sub(r"\\\1", name)


def _executable(tool: str, archive: Path) -> str:
    executable = shutil.which(tool)
    if executable is None:
        raise ToolMissingError(
            f"decompressing this RAR needs `{tool}` (Debian package {DEBIAN_PACKAGES[tool]})",
            path=archive,
        )
    return executable
