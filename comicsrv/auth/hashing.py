"""Password hashes run on a pool of their own, never on the shared CPU pool.

scrypt is slow and memory-hard on purpose (Werkzeug's parameters: 32 MiB
and tens to hundreds of milliseconds of one core per hash). On the shared pool that decodes and
resizes images (``comicsrv.jobs.pool``), a burst of password checks queued
ahead of the page requests: 20 parallel wrong Basic logins took another
reader's resized page from 3 ms to over 3 s. Here they queue on
``PASSWORD_THREADS`` threads of their own, so pages keep every thread of the
shared pool, and no more than that many 32 MiB buffers exist at once. The
login throttle (``comicsrv.auth.throttle``) refuses most of a burst before it
gets this far.

``bench/bench_password_pool.py`` compares this with a semaphore in front of
the shared pool: both keep pages fast, but the semaphore still takes one of
the shared threads away from images while a hash runs.

Without gevent (tests, the CLI, a threaded WSGI server) callers run on real
threads already; a semaphore bounds how many hash at once there.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, TypeVar

from ..jobs.pool import gevent_active
from . import secrets

T = TypeVar("T")

# One thread: a NAS has few cores, and logins are rare; a legitimate login
# waits at most for the few hashes the throttle lets through before it.
PASSWORD_THREADS = 1

_pools: dict[tuple[int, int], Any] = {}
_pools_lock = threading.Lock()
_native_slots = threading.BoundedSemaphore(PASSWORD_THREADS)


def _gevent_pool() -> Any:
    """This process's pool on the current hub (a forked worker, as under
    gunicorn, makes its own: threads do not survive a fork)."""
    import gevent
    from gevent.threadpool import ThreadPool

    hub = gevent.get_hub()
    key = (os.getpid(), id(hub))
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                for stale in [k for k in _pools if k[0] != key[0]]:
                    del _pools[stale]
                pool = _pools[key] = ThreadPool(PASSWORD_THREADS, hub=hub)
    return pool


def run_password_work(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the password pool; the calling greenlet waits, the
    others run on."""
    if gevent_active():
        return _gevent_pool().apply(fn, args)
    with _native_slots:
        return fn(*args)


def hash_password(password: str) -> str:
    """A new scrypt hash of ``password``, made on the password pool."""
    return run_password_work(secrets.hash_password, password)


def check_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``, checked on the password pool."""
    return run_password_work(secrets.check_password, stored_hash, password)
