"""Starting external programs (``unar``, ``bsdtar``) from any thread, gevent or not.

Under ``comicsrv serve`` the process is monkey-patched by gevent and archive
work runs on gevent's pool of native threads.  There, a patched
``subprocess.Popen`` fails ("child watchers are only available on the default
loop"), and the unpatched one is no way out: once gevent watches any child,
libev reaps *every* child on SIGCHLD, so our own ``waitpid`` could lose the
tool's exit status.  So a tool started on a native thread is handed to the
hub, which runs it in a greenlet like any other I/O while the calling thread
waits; everywhere else (the hub's own greenlets, the scanner's worker
processes, the CLI, tests) it runs in place.  :func:`bind_gevent_hub` tells
this module which hub that is; :func:`comicsrv.archives.preload` calls it.

Every tool, and every reader process that calls :func:`die_with_parent`, also
ends with the process that started it, so a server killed with SIGKILL (the
OOM killer's way) leaves no decompressor or scan worker running.  Readers
guard their state with :func:`native_lock`, for the same native threads.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, TypeVar

from .errors import CorruptArchiveError, ToolMissingError

T = TypeVar("T")

_CHUNK = 1 << 16
_STDERR_TAIL = 2048
# How long a native thread waits for the hub beyond the tool's own timeout
# before it gives up (the hub is stopping, or stuck).
_HUB_GRACE = 30.0
# How often the portable fallback of die_with_parent looks at its parent.
PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# How long a native thread waits for the hub to import a reader.
_IMPORT_WAIT = 60.0

_hub: Any = None  # see bind_gevent_hub
_hub_imports: Any = None  # a native lock: one import through the hub at a time


def bind_gevent_hub() -> None:
    """Start tools through the calling thread's gevent hub from now on.

    Call it from the hub's thread (the main thread of ``comicsrv serve``)
    before any request can need a tool.  Does nothing unless gevent has
    patched ``subprocess`` in this process.
    """
    global _hub, _hub_imports
    if _gevent_patched():
        import gevent

        _hub_imports = native_lock()
        _hub = gevent.get_hub()


def run(argv: list[str], archive: Path, *, stdout_limit: int,
        timeout: float) -> tuple[int, bytes, str]:
    """Run a tool and collect at most ``stdout_limit + 1`` bytes of its output.

    Returns the exit code, the output and the tail of stderr.  The process is
    killed once it exceeds the limit (the caller sees the extra byte and
    reports it) or the timeout.
    """
    hub = _hub_for_tools()
    if hub is None or _on_thread_of(hub):
        return _run(argv, archive, stdout_limit, timeout)
    return _call_on_hub(hub, timeout + _HUB_GRACE, archive, _run, argv, archive,
                        stdout_limit, timeout)


def import_module(name: str) -> ModuleType:
    """Import ``name`` where its import may start a process.

    pycryptodome, which py7zr imports, runs ``file`` through
    ``platform.architecture()`` when cffi is missing, and a native thread of
    a gevent server cannot start one: there the hub imports the module while
    the thread waits, one such import at a time. On the hub's own thread a
    module another greenlet is still importing (it yielded while ``file``
    ran) is waited for, never handed back half made.
    """
    module = sys.modules.get(name)
    if module is not None and not _initializing(module):
        return module
    hub = _hub_for_tools()
    if hub is None:
        return importlib.import_module(name)
    if _on_thread_of(hub):
        import gevent

        while _initializing(sys.modules.get(name)):
            gevent.sleep(0.01)
        return importlib.import_module(name)
    with _hub_imports:
        return _call_on_hub(hub, _IMPORT_WAIT, Path(name), importlib.import_module, name)


def _initializing(module: ModuleType | None) -> bool:
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as ``parent_pid``, the process that started it, dies.

    On Linux the kernel does it (``PR_SET_PDEATHSIG``), the instant the parent
    is gone, however it died; elsewhere a daemon thread polls ``os.getppid()``
    every :data:`PARENT_POLL_SECONDS`.  If the parent died before this ran,
    the process ends now.
    """
    if not _parent_death_signal()():
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                         name="parent-watch").start()
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)


def native_lock() -> Any:
    """A lock of the operating system, even in a gevent-patched process.

    Readers are used from gevent's native worker threads, where a green lock
    serialises nothing and, contended, can leave a thread waiting forever.
    """
    if _threading_patched():
        from gevent import monkey

        return monkey.get_original("_thread", "allocate_lock")()
    return threading.Lock()


def native_rlock() -> Any:
    """The reentrant kind of :func:`native_lock`."""
    if _threading_patched():
        from gevent import monkey

        return monkey.get_original("_thread", "RLock")()
    return threading.RLock()


def _run(argv: list[str], archive: Path, stdout_limit: int,
         timeout: float) -> tuple[int, bytes, str]:
    deadline = time.monotonic() + timeout
    out = bytearray()
    err = bytearray()
    parent = os.getpid()
    arm = _parent_death_signal()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=lambda: _tool_child_setup(arm, parent),
        )
    except OSError as error:
        raise ToolMissingError(f"cannot run {argv[0]}: {error}", path=archive) from error
    with proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ, out)
                selector.register(proc.stderr, selectors.EVENT_READ, err)
                while selector.get_map() and len(out) <= stdout_limit:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CorruptArchiveError(
                            f"{Path(argv[0]).name} did not finish within {timeout:g} s",
                            path=archive,
                        )
                    for key, _ in selector.select(remaining):
                        chunk = os.read(key.fd, _CHUNK)
                        if not chunk:
                            selector.unregister(key.fileobj)
                            continue
                        buffer: bytearray = key.data
                        buffer += chunk
                        del err[:-_STDERR_TAIL]
        except BaseException:
            proc.kill()  # never leave a tool running behind an error (or a killed greenlet)
            raise
        if len(out) > stdout_limit:
            proc.kill()
        returncode = proc.wait()
    return returncode, bytes(out[: stdout_limit + 1]), err.decode(errors="replace").strip()


def _tool_child_setup(arm: Callable[[], bool], parent_pid: int) -> None:
    """In the forked tool, before exec: die with the server, whatever kills it."""
    arm()
    if os.getppid() != parent_pid:
        os._exit(127)


def _call_on_hub(hub: Any, wait: float, archive: Path, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a new greenlet of ``hub`` and block this native thread for it."""
    from gevent import monkey, spawn

    done = monkey.get_original("_thread", "allocate_lock")()  # a real lock, not a green one
    done.acquire()
    outcome: list[tuple[bool, Any]] = []

    def body() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as error:  # handed to the waiting thread, which raises it
            outcome.append((False, error))
        finally:
            done.release()

    hub.loop.run_callback_threadsafe(spawn, body)
    if not done.acquire(timeout=wait):
        raise CorruptArchiveError(
            f"the server did not run the tool within {wait:g} s", path=archive
        )
    succeeded, value = outcome[0]
    if succeeded:
        return value
    raise value


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("subprocess")


def _threading_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def _hub_for_tools() -> Any:
    """The hub that starts tools, or None when the stdlib can start them here.

    Under gevent with no hub bound yet, the main thread's own hub (the one on
    libev's default loop) binds itself; any other thread cannot start a tool.
    """
    if _hub is not None or not _gevent_patched():
        return _hub
    from gevent._hub_local import get_hub_if_exists

    own = get_hub_if_exists()
    if own is None or not own.loop.default:
        raise ToolMissingError(
            "cannot start an external tool from this thread before "
            "comicsrv.archives.preload() ran in the gevent hub's thread"
        )
    bind_gevent_hub()
    return _hub


def _on_thread_of(hub: Any) -> bool:
    from gevent import monkey

    return hub.thread_ident == monkey.get_original("_thread", "get_ident")()


def _parent_death_signal() -> Callable[[], bool]:
    """A function arming ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, made before any fork.

    Loaded once in the parent: a forked child must not ``dlopen``.  Where
    Linux's prctl is not available the function does nothing and says so.
    """
    global _arm_death_signal
    if _arm_death_signal is None:
        prctl = None
        if sys.platform.startswith("linux"):
            try:
                # CDLL(None): the symbols already loaded, libc's among them
                # (ctypes.util.find_library would start a process).
                prctl = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError):
                prctl = None
        if prctl is None:
            _arm_death_signal = lambda: False  # noqa: E731
        else:
            _arm_death_signal = lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0  # noqa: E731
    return _arm_death_signal


_arm_death_signal: Callable[[], bool] | None = None


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)
