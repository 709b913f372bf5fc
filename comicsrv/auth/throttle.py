"""Brute-force protection for password logins.

After ``limit`` failures for one username, or from one client address, inside
``window`` seconds, further attempts are refused (429 with Retry-After) until
the oldest of those failures leaves the window, even with the right password:
a guesser learns nothing during the lock-out. Attempts still being checked
count too, so a burst of parallel guesses cannot slip past the limit while
the (slow, by design) password hashes run.

The state is in memory, per process: it resets on restart and is not shared
between the workers of a multi-process deployment (each worker locks out on
its own count). That bounds a guesser to ``limit`` tries per window per
worker, which is the point; a shared store can replace this class later.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable

from flask import current_app

LIMIT = 5
WINDOW_SECONDS = 300
# Drop expired entries once the table holds this many keys, so a stream of
# random usernames cannot grow it without bound.
PRUNE_AT = 10_000


class LoginThrottle:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, address: str | None) -> tuple[str, str]:
        """``(username key, address key)``; usernames match case-insensitively."""
        return f"user:{username.strip().casefold()}", f"ip:{address or '-'}"

    def begin(self, keys: tuple[str, str]) -> int:
        """Claim an attempt. 0: go ahead, and call ``end`` afterwards;
        otherwise the seconds to wait before trying again."""
        now = self.clock()
        with self._lock:
            wait = 0.0
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limit:
                    wait = max(wait, times[-self.limit] + self.window - now)
                elif len(times) + self._pending.get(key, 0) >= self.limit:
                    wait = max(wait, 1.0)  # attempts in flight decide within a second or so
            if wait > 0:
                return math.ceil(wait)
            for key in keys:
                self._pending[key] = self._pending.get(key, 0) + 1
            return 0

    def end(self, keys: tuple[str, str], *, failed: bool) -> None:
        """Settle an attempt claimed with ``begin``. A success clears the
        username's failures, not the address's: logging in to one account
        must not reset guessing at others from the same place."""
        now = self.clock()
        with self._lock:
            for key in keys:
                left = self._pending.get(key, 0) - 1
                if left > 0:
                    self._pending[key] = left
                else:
                    self._pending.pop(key, None)
            if not failed:
                self._failures.pop(keys[0], None)
                return
            if len(self._failures) >= PRUNE_AT:
                self._prune(now)
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                # Only the latest `limit` failures decide a lock-out.
                while len(times) > self.limit:
                    times.popleft()
                self._failures[key] = times

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= now - self.window]:
            del self._failures[key]


def login_throttle() -> LoginThrottle:
    """The current app's throttle, made on first use."""
    return current_app.extensions.setdefault("comicsrv.login_throttle", LoginThrottle())
