"""Where CPU-bound work runs.

Under ``comicsrv serve`` the process is monkey-patched by gevent: a request
or SSE stream is a greenlet, and a CPU-bound call (image decode, archive
listing, hashing, XML parsing) would freeze every other greenlet. ``run_cpu``
sends such work to gevent's pool of real OS threads instead. Without gevent
(tests, the CLI, another WSGI server) callers already run in real threads, so
the work runs in place.

Work that can run away on hostile input (rendering a crafted PDF page) goes
to :class:`ProcessWorkers` instead: processes that are killed when a call
passes its time limit.
"""
from __future__ import annotations

import os
import pickle
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


# -- killable worker processes ---------------------------------------------------

class WorkerTimeout(Exception):
    """The work ran past its time limit; its process was killed."""


class WorkerFailed(Exception):
    """The worker process died or could not start (a crash in native code,
    the memory limit, a broken environment)."""


_HEADER = struct.Struct("!Q")
#: Nothing sent between parent and worker is this big: a page is a few MB.
_MAX_MESSAGE = 1 << 30
_SOCKET_BUFFER = 1 << 20


class ProcessWorkers:
    """Run functions in separate worker processes, each call with a time
    limit; a call past its limit has its process killed.

    For work that can run away on hostile input and cannot be interrupted
    from Python: PDFium rendering a crafted page holds a thread for as long
    as it likes, and may crash the process it runs in. A thread cannot be
    stopped; a process can, and its crash is its own.

    Workers are started on demand (``size`` at most; further calls wait for
    one), reused between calls so a worker keeps its open documents, and
    exit by themselves after ``idle_seconds`` without work. ``fn`` must be a
    module-level function of a light module (the worker imports it by name)
    and its arguments and result picklable. ``memory_limit`` (bytes of
    address space) makes a runaway allocation a ``MemoryError`` in the
    worker instead of a machine swapping. Callers under gevent wait
    cooperatively: the call is I/O on a socket, not CPU work.
    """

    def __init__(self, size: int = 2, *, idle_seconds: float = 300.0,
                 start_timeout: float = 60.0, memory_limit: int | None = None) -> None:
        self.size = max(1, size)
        self.idle_seconds = idle_seconds
        self.start_timeout = start_timeout
        self.memory_limit = memory_limit
        self._idle: list[_Worker] = []
        self._idle_lock = threading.Lock()  # held for list operations only, never across I/O
        self._slots: Any = None
        self._closed = False

    def call(self, fn: Callable[..., T], *args: Any, timeout: float, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker; its exception is re-raised here.

        ``timeout`` counts from when a ready worker receives the call (not
        the wait for a free worker, nor a worker's start)."""
        with self.reserved() as lease:
            return lease.call(fn, *args, timeout=timeout, **kwargs)

    @contextmanager
    def reserved(self) -> Iterator[_Lease]:
        """Wait for a free worker and keep it for the block, for a caller
        that must check something (a cache another call may have filled)
        between getting its turn and making its call."""
        if self._closed:
            raise WorkerFailed("the worker processes are shut down")
        with self._get_slots():
            yield _Lease(self)

    def _run(self, request: tuple, timeout: float) -> Any:
        worker = self._take()
        try:
            ok, value = worker.run(request, timeout)
        except BaseException:
            worker.kill()
            raise
        self._give_back(worker)
        if ok:
            return value
        raise value

    def worker_pids(self) -> list[int]:
        """Process ids of the idle workers (for tests and diagnostics)."""
        with self._idle_lock:
            return [worker.process.pid for worker in self._idle]

    def close(self) -> None:
        """Stop the idle workers; calls in flight finish and stop theirs."""
        self._closed = True
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def _get_slots(self):
        # Made on first use, after gevent may have patched ``threading``: a
        # semaphore made before would block the whole event loop.
        if self._slots is None:
            self._slots = threading.BoundedSemaphore(self.size)
        return self._slots

    def _take(self) -> _Worker:
        # A worker near its own idle exit is stopped rather than raced.
        stale = time.monotonic() - self.idle_seconds * 0.8
        while True:
            with self._idle_lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None:
                return _Worker.start(self.idle_seconds, self.start_timeout, self.memory_limit)
            if worker.last_used > stale and worker.process.poll() is None:
                return worker
            worker.stop()

    def _give_back(self, worker: _Worker) -> None:
        if self._closed:
            worker.stop()
            return
        worker.last_used = time.monotonic()
        with self._idle_lock:
            self._idle.append(worker)


class _Lease:
    """A worker slot held by :meth:`ProcessWorkers.reserved`."""

    def __init__(self, workers: ProcessWorkers) -> None:
        self._workers = workers

    def call(self, fn: Callable[..., T], *args: Any, timeout: float, **kwargs: Any) -> T:
        """As :meth:`ProcessWorkers.call`, in the held slot."""
        return self._workers._run((fn, args, kwargs), timeout)


class _Worker:
    """One worker process and the socket to it."""

    def __init__(self, process: Any, sock: socket.socket) -> None:
        self.process = process
        self.sock = sock
        self.last_used = time.monotonic()

    @classmethod
    def start(cls, idle_seconds: float, start_timeout: float,
              memory_limit: int | None) -> _Worker:
        import subprocess
        import sys

        parent, child = socket.socketpair()
        for end in (parent, child):  # a page in a few writes, not fifty (the kernel may cap it)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        code = "from comicsrv.jobs.pool import _worker_main; _worker_main()"
        argv = [sys.executable, "-c", code, str(child.fileno()), repr(idle_seconds),
                str(memory_limit or 0)]
        try:
            process = subprocess.Popen(argv, pass_fds=(child.fileno(),), env=env,
                                       stdin=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            parent.close()
            raise WorkerFailed(f"cannot start a worker process: {exc}") from None
        finally:
            child.close()
        worker = cls(process, parent)
        try:
            if _receive(parent, time.monotonic() + start_timeout) != b"ready":
                raise WorkerFailed("the worker process sent a bad greeting")
        except (OSError, EOFError, WorkerTimeout) as exc:
            worker.kill()
            raise WorkerFailed(f"the worker process did not start: {exc}") from None
        return worker

    def run(self, request: tuple, timeout: float) -> tuple[bool, Any]:
        deadline = time.monotonic() + timeout
        try:
            _send(self.sock, pickle.dumps(request, pickle.HIGHEST_PROTOCOL), deadline)
            reply = _receive(self.sock, deadline)
        except WorkerTimeout:
            raise WorkerTimeout(f"stopped after {timeout:g} s") from None
        except (OSError, EOFError):
            code = self.process.poll()
            raise WorkerFailed("the worker process died" + (
                f" (exit status {code})" if code is not None else "")) from None
        ok, payload, kind, message = pickle.loads(reply)
        if ok:
            return True, payload
        try:
            return False, pickle.loads(payload)
        except Exception:  # an exception class that cannot be rebuilt here
            return False, RuntimeError(f"{kind}: {message}")

    def stop(self) -> None:
        """Ask politely (EOF on its socket), then make sure."""
        self.sock.close()
        try:
            self.process.wait(2)
        except Exception:
            self.kill()

    def kill(self) -> None:
        self.sock.close()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(10)
        except Exception:  # pragma: no cover - a process that survives SIGKILL
            pass


def _send(sock: socket.socket, data: bytes, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise WorkerTimeout("timed out")
    sock.settimeout(remaining)
    try:
        _send_message(sock, data)
    except socket.timeout:
        raise WorkerTimeout("timed out") from None


def _send_message(sock: socket.socket, data: bytes) -> None:
    """Length, then payload: two writes rather than one copy of a page."""
    sock.sendall(_HEADER.pack(len(data)))
    sock.sendall(data)


def _receive(sock: socket.socket, deadline: float | None) -> bytearray:
    header = _receive_exactly(sock, _HEADER.size, deadline)
    (length,) = _HEADER.unpack(header)
    if length > _MAX_MESSAGE:
        raise EOFError(f"a {length}-byte message")
    return _receive_exactly(sock, length, deadline)


def _receive_exactly(sock: socket.socket, length: int, deadline: float | None) -> bytearray:
    buffer = bytearray(length)
    view = memoryview(buffer)
    received = 0
    while received < length:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout("timed out")
            sock.settimeout(remaining)
        try:
            count = sock.recv_into(view[received:])
        except socket.timeout:
            raise WorkerTimeout("timed out") from None
        if not count:
            raise EOFError("the other end closed the connection")
        received += count
    return buffer


def _worker_main() -> None:
    """A worker process: run requests from the socket until it closes or no
    request comes for the idle time. Not gevent-patched: the work blocks."""
    import sys

    fd, idle_seconds, memory_limit = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    if memory_limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    sock = socket.socket(fileno=fd)
    _send_message(sock, b"ready")
    while True:
        sock.settimeout(idle_seconds)
        try:
            request = _receive(sock, None)
        except (socket.timeout, EOFError, OSError):
            return
        sock.settimeout(None)
        try:
            fn, args, kwargs = pickle.loads(request)
            reply = (True, fn(*args, **kwargs), "", "")
        except Exception as exc:
            try:
                payload = pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = b""
            reply = (False, payload, type(exc).__name__, str(exc))
        try:
            _send_message(sock, pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))
        except OSError:
            return
