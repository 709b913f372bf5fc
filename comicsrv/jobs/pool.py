"""Where CPU-bound work runs.

Under ``comicsrv serve`` the process is monkey-patched by gevent: a request
or SSE stream is a greenlet, and a CPU-bound call (image decode, archive
listing, hashing, XML parsing) would freeze every other greenlet. ``run_cpu``
sends such work to gevent's pool of real OS threads instead. Without gevent
(tests, the CLI, another WSGI server) callers already run in real threads, so
the work runs in place.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

T = TypeVar("T")


def gevent_active() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("threading")


def configure(workers: int) -> None:
    if gevent_active():
        import gevent

        gevent.get_hub().threadpool.maxsize = max(1, workers)


def run_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    if gevent_active():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args, kwargs)
    return fn(*args, **kwargs)


def map_cpu(fn: Callable[[Any], T], items: list[Any], workers: int = 2) -> list[T]:
    """``fn`` over ``items`` on real threads (for GIL-releasing work such as
    hashing and file reads), results in order."""
    if gevent_active():
        import gevent

        return list(gevent.get_hub().threadpool.imap(fn, items))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as executor:
        return list(executor.map(fn, items))


def native_executor(workers: int):
    """A concurrent.futures executor on real OS threads, gevent or not."""
    if gevent_active():
        from gevent.threadpool import ThreadPoolExecutor as NativeExecutor
    else:
        from concurrent.futures import ThreadPoolExecutor as NativeExecutor
    return NativeExecutor(max_workers=workers)


def spawn(fn: Callable[..., Any], *args: Any, name: str | None = None) -> None:
    """Start background work: a greenlet under gevent, else a daemon thread.

    ``threading.Thread`` is a greenlet once gevent has patched the process,
    so one call serves both.
    """
    import threading

    threading.Thread(target=fn, args=args, name=name, daemon=True).start()
