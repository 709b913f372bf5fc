"""Looking at processes from tests, through Linux's ``/proc``.

A process killed while its parent is gone may stay a zombie for a while if
nothing reaps it (PID 1 of a container need not); a zombie runs nothing, so
it counts as gone here.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a process, None once it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _living() -> list[tuple[int, int, int]]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] not in ("Z", "X"):
                found.append((int(entry.name), stat[1], stat[2]))
    return found


def children(pid: int) -> list[int]:
    """Living processes whose parent is ``pid``."""
    return [child for child, parent, _ in _living() if parent == pid]


def group_members(pgid: int) -> list[int]:
    """Living processes of the process group ``pgid``."""
    return [pid for pid, _, group in _living() if group == pgid]


def cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
