"""Who a process is: the ``owner`` name written on the jobs it runs and its
row of ``cluster_nodes``.

``host:pid:<namespace>-<nonce>``. The host and pid are for people reading
the task list; the nonce makes the name unique for the life of one app,
so two containers that happen to share a host name and a pid (both pid 1)
never take each other's jobs for their own; the pid namespace says whether a
pid seen in the name can be looked up here (``os.kill(pid, 0)``) to tell a
crashed process quickly.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass

_OWNER = re.compile(r"^(?P<host>[^:]*):(?P<pid>\d+)(?::(?P<ns>[0-9a-f]*)-(?P<nonce>[0-9a-f]+))?$")
_mine: dict[int, str] = {}


def _pid_namespace() -> str:
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    digits = "".join(ch for ch in link if ch.isdigit())
    return format(int(digits), "x") if digits else ""


def new_owner() -> str:
    """A name for one app of this process (an app is made once per process
    under ``serve`` and gunicorn; tests make several, each its own "process")."""
    return f"{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}-{secrets.token_hex(4)}"


def process_owner() -> str:
    """A name for this process, made once per pid (a forked child, such as a
    gunicorn worker, gets its own)."""
    pid = os.getpid()
    name = _mine.get(pid)
    if name is None:
        name = _mine[pid] = new_owner()
    return name


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int | None
    namespace: str | None  # None: a name written before namespaces were recorded

    def is_local(self) -> bool:
        """Whether ``pid`` names a process this one can look up: same host,
        and the same pid namespace where the name records one."""
        me = parse_owner(process_owner())
        return (self.pid is not None and self.host == me.host
                and (self.namespace is None or self.namespace == me.namespace))

    def alive(self) -> bool | None:
        """Whether the process is running, when this one can tell: None for
        another host's, and for our own pid under another name (an earlier
        process that had it, such as pid 1 of a restarted container), where
        only a heartbeat can tell."""
        if not self.is_local() or self.pid is None or self.pid == os.getpid():
            return None
        return pid_alive(self.pid)


def parse_owner(owner: str | None) -> Owner:
    match = _OWNER.match(owner or "")
    if match is None:
        return Owner(owner or "", None, None)
    return Owner(match["host"], int(match["pid"]), match["ns"])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
