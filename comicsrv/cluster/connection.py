"""The one connection of each process to PostgreSQL that is not for queries.

It ``LISTEN``s (new jobs, cancels, the event relay) and holds the session
advisory lock that makes its process the scheduler's leader. Both need a
session that stays open: a pooled connection is handed to other work and
may be recycled at any time. One connection per process does both, in one
loop (a greenlet under gevent, where psycopg waits cooperatively; a thread
otherwise):

    wait up to ``tick`` seconds for notifications and dispatch them
    every ``leader_check`` seconds: try to take the lock, or prove we still hold it
    every ``beat`` seconds: run the periodic callbacks (the node's heartbeat)

A broken connection (PostgreSQL restarted, the network gone) loses the lock
with it: the loop reports the loss (``on_deposed``) before anything else,
then reconnects with a growing pause. TCP keepalives on both ends make a
host that vanished without closing its socket count as gone within about
20 s, so its lock passes to another worker instead of staying held for the
kernel's default two hours.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)

KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
             "keepalives_count": 3}
SERVER_KEEPALIVE = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 3",
                    "SET tcp_keepalives_count = 3")
RECONNECT_MAX_SECONDS = 30.0
# How long one wait for notifications lasts: the loop's other duties (and a
# stop) wait at most this long.
TICK_SECONDS = 0.5


def libpq_url(sqlalchemy_url: str) -> str:
    """A psycopg connection string from the app's database URL."""
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


class ClusterConnection:
    def __init__(self, url: str, *, name: str, channels: dict[str, Callable[[str], None]],
                 leader_key: int | None = None, on_elected: Callable[[], None] | None = None,
                 on_deposed: Callable[[], None] | None = None,
                 on_connected: Callable[[], None] | None = None,
                 periodic: Callable[[], None] | None = None,
                 tick: float = TICK_SECONDS, leader_check: float = 5.0,
                 beat: float = 10.0):
        self.url = libpq_url(url)
        self.name = name
        self.channels = channels
        self.leader_key = leader_key
        self.on_elected = on_elected or (lambda: None)
        self.on_deposed = on_deposed or (lambda: None)
        self.on_connected = on_connected or (lambda: None)
        self.periodic = periodic or (lambda: None)
        self.tick = tick
        self.leader_check = leader_check
        self.beat = beat
        self.leader = False
        self.connected = threading.Event()
        self._stopping = False
        self._stopped = threading.Event()
        self._conn = None

    # -- life ----------------------------------------------------------------

    def start(self) -> None:
        from ..jobs import pool

        pool.spawn(self.run, name="cluster-connection")

    def stop(self, timeout: float = 5.0) -> None:
        """Leave: the lock is released with the session, at once."""
        self._stopping = True
        self._stopped.wait(timeout)

    def run(self) -> None:
        pause = 1.0
        try:
            while not self._stopping:
                try:
                    self._session()
                    pause = 1.0
                except Exception as exc:  # psycopg.Error, OSError: the database went away
                    if self._stopping:
                        break
                    log.warning("cluster connection to PostgreSQL lost (%s: %s); "
                                "reconnecting in %.0f s", type(exc).__name__, exc, pause)
                    time.sleep(pause)
                    pause = min(pause * 2, RECONNECT_MAX_SECONDS)
                finally:
                    self.connected.clear()
                    self._depose()
                    self._close()
        finally:
            self._stopped.set()

    def _session(self) -> None:
        import psycopg

        conn = self._conn = psycopg.connect(self.url, autocommit=True,
                                            application_name=self.name[:63], **KEEPALIVE)
        for statement in SERVER_KEEPALIVE:
            conn.execute(statement)
        for channel in self.channels:
            conn.execute(f'LISTEN "{channel}"')
        self.connected.set()
        log.debug("cluster connection up; listening on %s", ", ".join(self.channels))
        # Anything sent while we were away is lost: let the owners look for it.
        self.on_connected()
        next_check = next_beat = 0.0
        while not self._stopping:
            now = time.monotonic()
            if self.leader_key is not None and now >= next_check:
                next_check = now + self.leader_check
                self._check_leadership(conn)
            if now >= next_beat:
                next_beat = now + self.beat
                try:
                    self.periodic()
                except Exception:
                    log.exception("cluster heartbeat failed")
            for notice in conn.notifies(timeout=self.tick):
                handler = self.channels.get(notice.channel)
                if handler is not None:
                    try:
                        handler(notice.payload)
                    except Exception:
                        log.exception("handling a notification on %s failed", notice.channel)

    def _check_leadership(self, conn) -> None:
        if self.leader:
            conn.execute("SELECT 1")  # raises when the session (and so the lock) is gone
            return
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (self.leader_key,)).fetchone()[0]:
            self.leader = True
            log.info("this process (%s) now leads the scheduler", self.name)
            self.on_elected()

    def _depose(self) -> None:
        if self.leader:
            self.leader = False
            log.warning("this process (%s) no longer leads the scheduler", self.name)
            try:
                self.on_deposed()
            except Exception:
                log.exception("stepping down as the scheduler's leader failed")

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
