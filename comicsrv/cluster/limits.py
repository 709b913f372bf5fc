"""Provider quotas kept in the database, so every process keeps one limit.

The built-in ComicVine and Metron plugins describe their quotas as sliding
windows (``RateWindow``: at most *limit* requests under *key* within any
*seconds*); this is the host's side of ``hookspecs.RateLimits``, handed to
every integration in its context. Each request sent is one row of
``rate_limit_hits`` per key. Taking a request is one short transaction that
counts each window and keeps the request's rows only when all have room.
Two processes must never both see the last free slot: on PostgreSQL the
transaction first takes an advisory lock per key; on SQLite it adds its rows
first, which takes the database's write lock. When a window is full the
caller sleeps, outside any transaction, until the oldest request in it
leaves the window, then tries again: another process may have taken the
slot meanwhile.

Time is the database's clock on PostgreSQL: processes on several machines
count on one clock, whatever their own clocks say.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Callable, Sequence

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from ..hookspecs import IntegrationRateLimited, RateLimits, RateWindow
from ..models import RateLimitHit

log = logging.getLogger(__name__)

# Rows older than this are deleted: the longest window a quota may have.
RETENTION_SECONDS = 2 * 86_400.0
PRUNE_EVERY_SECONDS = 600.0
_hits = RateLimitHit.__table__


def _lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id for ``key``."""
    digest = hashlib.sha256(f"comicsrv.rate-limit:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} s"


class DatabaseRateLimits(RateLimits):
    def __init__(self, engine: Engine, *, sleep: Callable[[float], None] = time.sleep):
        self.engine = engine
        self.sleep = sleep
        self.postgres = engine.dialect.name == "postgresql"
        self._local = threading.Lock()  # SQLite: one process, many greenlets
        self._last_prune = 0.0

    def acquire(self, windows: Sequence[RateWindow], *, max_wait: float,
                service: str = "") -> float:
        windows = list(windows)
        for window in windows:
            if window.seconds > RETENTION_SECONDS or window.limit < 1:
                raise ValueError(f"unsupported rate window {window}")
        waited = 0.0
        while windows:
            wait, full = self._take(windows)
            if wait <= 0:
                return waited
            if wait > max_wait:
                label = full.key.split(":", 1)[1] if ":" in full.key else ""
                what = f" for {label!r}" if label else ""
                raise IntegrationRateLimited(
                    f"{service or full.key} request quota{what} is spent "
                    f"({full.limit} per {_duration(full.seconds)}); the next request is "
                    f"possible in {wait:.0f} s (more than the {max_wait:.0f} s this call "
                    "may wait)", retry_after=wait)
            self.sleep(wait)
            waited += wait
        return waited

    def used(self, key: str, seconds: float) -> int:
        """Requests under ``key`` within the last ``seconds`` (status, tests)."""
        with self.engine.connect() as conn:
            now = self._now(conn)
            return conn.execute(select(func.count()).select_from(_hits).where(
                _hits.c.key == key, _hits.c.at > now - seconds)).scalar_one()

    def _take(self, windows: list[RateWindow]) -> tuple[float, RateWindow]:
        """One attempt: (0, _) when the request was counted, else the seconds
        until the fullest window has room, and that window."""
        keys = sorted({w.key for w in windows})
        if self.postgres:
            return self._attempt(keys, windows)
        with self._local:
            return self._attempt(keys, windows)

    def _attempt(self, keys: list[str], windows: list[RateWindow]) -> tuple[float, RateWindow]:
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                wait, full = self._count(conn, keys, windows)
            except BaseException:
                transaction.rollback()
                raise
            if wait > 0:
                transaction.rollback()  # SQLite: takes back the rows counted first
            else:
                transaction.commit()
            return wait, full

    def _count(self, conn: Connection, keys: list[str],
               windows: list[RateWindow]) -> tuple[float, RateWindow]:
        """Count the request and return (0, _), or the wait and the full window.

        PostgreSQL: lock the keys, count, then add the rows. SQLite has no
        such locks; there the rows go in first, which takes the database's
        write lock, so a second process counting meanwhile waits for this
        transaction and then sees its rows (the caller rolls them back when a
        window is full).
        """
        if self.postgres:
            for key in keys:  # sorted: two processes never wait on each other in a cycle
                conn.execute(select(func.pg_advisory_xact_lock(_lock_id(key))))
        now = self._now(conn)
        mine = 0
        if not self.postgres:
            conn.execute(insert(_hits), [{"key": key, "at": now} for key in keys])
            mine = 1
        wait, full = 0.0, windows[0]
        for window in windows:
            since = now - window.seconds
            count = conn.execute(select(func.count()).select_from(_hits).where(
                _hits.c.key == window.key, _hits.c.at > since)).scalar_one() - mine
            if count < window.limit:
                continue
            # The request that must leave the window before one more fits
            # (ours, counted first on SQLite, is the newest: never this one).
            leaving = conn.execute(select(_hits.c.at).where(
                _hits.c.key == window.key, _hits.c.at > since).order_by(_hits.c.at)
                .offset(count - window.limit).limit(1)).scalar_one()
            until = leaving + window.seconds - now
            if until > wait:
                wait, full = until, window
            wait = max(wait, 1e-3)  # full, even when the oldest leaves this instant
        if wait <= 0:
            if self.postgres:
                conn.execute(insert(_hits), [{"key": key, "at": now} for key in keys])
            self._prune_now_and_then(conn, now)
        return wait, full

    def _now(self, conn: Connection) -> float:
        if self.postgres:
            return float(conn.execute(text("SELECT extract(epoch FROM clock_timestamp())"))
                         .scalar_one())
        return time.time()

    def _prune_now_and_then(self, conn: Connection, now: float) -> None:
        if time.monotonic() - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = time.monotonic()
        conn.execute(delete(_hits).where(_hits.c.at < now - RETENTION_SECONDS))
