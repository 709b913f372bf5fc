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
is capped at the declared size and every run at a timeout.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from .errors import CorruptArchiveError, ToolMissingError

UNAR = "unar"
BSDTAR = "bsdtar"
DEBIAN_PACKAGES = {UNAR: "unar", BSDTAR: "libarchive-tools"}

# Quiet, never unpack archives found inside the archive, and an empty password
# so an encrypted entry fails instead of prompting.
_UNAR_OPTIONS = ("-q", "-nr", "-p", "")
_PATTERN_CHARS = re.compile(r"([\\\[\]*?])")
_CHUNK = 1 << 16
_STDERR_TAIL = 2048


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
    returncode, out, err = _run(argv, archive, stdout_limit=size, timeout=timeout)
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
    returncode, _, err = _run(argv, archive, stdout_limit=_CHUNK, timeout=timeout)
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


def _run(
    argv: list[str], archive: Path, *, stdout_limit: int, timeout: float
) -> tuple[int, bytes, str]:
    """Run a tool and collect at most ``stdout_limit + 1`` bytes of its output.

    Returns the exit code, the output and the tail of stderr.  The process is
    killed once it exceeds the limit (the caller sees the extra byte and
    reports it) or the timeout.
    """
    deadline = time.monotonic() + timeout
    out = bytearray()
    err = bytearray()
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ, out)
            selector.register(proc.stderr, selectors.EVENT_READ, err)
            while selector.get_map() and len(out) <= stdout_limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    proc.kill()
                    raise CorruptArchiveError(
                        f"{Path(argv[0]).name} did not finish within {timeout:g} s", path=archive
                    )
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, _CHUNK)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer: bytearray = key.data
                    buffer += chunk
                    del err[:-_STDERR_TAIL]
        if len(out) > stdout_limit:
            proc.kill()
        returncode = proc.wait()
    return returncode, bytes(out[: stdout_limit + 1]), err.decode(errors="replace").strip()
