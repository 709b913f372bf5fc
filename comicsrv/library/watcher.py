"""Watching library folders: a new, changed, moved or deleted file is
indexed within seconds, without a full scan.

Each enabled library is watched by its ``watch_mode``:

- ``native``: the kernel tells (watchdog's inotify observer): instant, and
  costs nothing while nothing changes;
- ``poll``: the folder tree is listed every ``WATCH_POLL_SECONDS`` and
  compared (watchdog's polling observer), for network shares (NFS, SMB),
  where inotify sees only the changes made by this machine;
- ``auto`` (the default): ``poll`` on a network file system, else ``native``;
- ``off``: not watched (scheduled and manual scans only).

A library whose inotify watches run out (``fs.inotify.max_user_watches``) is
polled instead, with a warning saying how to raise the limit. A library whose
folder is gone (an unmounted share) is not watched until it is back: the
watcher looks again every ``RECHECK_SECONDS``, and also picks up libraries
added, changed or removed by any process.

Events only collect paths. A path is handed on once it has been quiet for
``WATCH_DEBOUNCE_SECONDS``, so a file still being copied is read once, when
the copy is done; the paths of a library go, together, to one
``library.scan_paths`` job (``scanner.scan_paths``), one job at a time per
library and never while a full scan of it runs (the paths wait for it).

The watcher runs where the scheduler runs (``start_services``). Under gevent
the observers are greenlets (watchdog waits on inotify with ``select.poll``,
which gevent makes cooperative) and hand paths over through a deque, which
needs no lock between threads or greenlets.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from flask import Flask


def _import_watchdog() -> None:
    """Import watchdog so that it works under gevent.

    gevent (25.4.1 and later) replaces ``queue.Queue`` with a class of its
    own whose internals differ, and watchdog's event queue subclasses
    ``queue.Queue`` and uses those internals (``maxsize``, ``mutex``). So
    watchdog is imported with the standard library's class in its place; with
    ``threading`` patched its locks are gevent's, so it is cooperative anyway.
    """
    import sys

    if "watchdog.utils.bricks" in sys.modules:
        return
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        monkey = None
    if monkey is None or not monkey.is_module_patched("queue"):
        import watchdog.observers.api  # noqa: F401
        return
    import queue

    patched = queue.Queue
    queue.Queue = monkey.get_original("queue", "Queue")
    try:
        import watchdog.observers.api  # noqa: F401
    finally:
        queue.Queue = patched


_import_watchdog()

from watchdog.events import (  # noqa: E402
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
    FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler,
)

from .. import services  # noqa: E402
from ..extensions import db  # noqa: E402
from ..fspaths import display, from_storage, to_storage  # noqa: E402
from ..models import Library  # noqa: E402
from .libraries import WATCH_MODES  # noqa: E402,F401  (re-exported)
from .scanner import SCAN_JOB, scan_paths  # noqa: E402
from .walker import COMIC_EXTENSIONS, IMAGE_EXTENSIONS  # noqa: E402

log = logging.getLogger(__name__)

SCAN_PATHS_JOB = "library.scan_paths"
EXTENSION = "comicsrv.watcher"
# How often the loop hands quiet paths on, and re-reads the libraries.
TICK_SECONDS = 0.25
RECHECK_SECONDS = 30.0
# At most this many paths per job; more wait for the next one.
MAX_PATHS_PER_JOB = 500
# File systems where inotify does not see changes made by other machines.
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs",
    "fuse.sshfs", "fuse.glusterfs", "fuse.rclone", "fuse.s3fs", "davfs", "fuse.davfs2",
    "lustre", "gpfs", "beegfs", "fuse.cephfs",
})


def scan_paths_job(ctx, library_id: int, paths: list[str]) -> dict:
    """The job: ``scanner.scan_paths`` over paths stored as text."""
    return scan_paths(ctx, library_id, [from_storage(path) for path in paths])


# -- which observer ----------------------------------------------------------------

def _unescape_mount(field: str) -> str:
    """``/proc`` writes space, tab, newline and backslash in octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def filesystem_type(path: str, mountinfo: str | None = None) -> str | None:
    """The type of the file system ``path`` is on (``ext4``, ``nfs4``,
    ``fuse.shfs``...), from ``/proc/self/mountinfo``: the mount point that is
    the longest prefix of the resolved path. None when unknown."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
                mountinfo = fh.read()
        except OSError:
            return None
    real = os.path.realpath(path)
    best, best_type = "", None
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or not tail:
            continue
        mount_point = _unescape_mount(fields[4])
        inside = (real == mount_point or mount_point == "/"
                  or real.startswith(mount_point.rstrip("/") + "/"))
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, tail[0]
    return best_type


def effective_mode(mode: str, path: str, mountinfo: str | None = None) -> str:
    """``native``, ``poll`` or ``off`` for a library's ``watch_mode``."""
    if mode != "auto":
        return mode
    return "poll" if filesystem_type(path, mountinfo) in NETWORK_FILESYSTEMS else "native"


# -- collecting events -------------------------------------------------------------

def _relevant(path: str, is_directory: bool) -> bool:
    name = os.path.basename(path)
    if name.startswith(".") or name == "__MACOSX" or name.startswith("@eaDir"):
        return False
    if is_directory:
        return True
    ext = os.path.splitext(name)[1].lower()
    return ext in COMIC_EXTENSIONS or ext in IMAGE_EXTENSIONS


#: The changes that matter to a library. Named, so the inotify mask asks the
#: kernel for nothing else: watchdog's default also reports every open and
#: close of a file for reading, which a server serving pages does hundreds of
#: times a second on the very files it watches (a fifth of its CPU under
#: load, spent in the observer dropping them).
WATCHED_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent,
                  FileDeletedEvent, DirCreatedEvent, DirMovedEvent, DirDeletedEvent]


class _Handler(FileSystemEventHandler):
    """Every relevant path of an event goes into ``inbox`` as ``(library id,
    path, time)``; nothing else happens in the observer."""

    def __init__(self, library_id: int, inbox: deque):
        super().__init__()
        self.library_id = library_id
        self.inbox = inbox

    def dispatch(self, event: FileSystemEvent) -> None:
        now = time.monotonic()
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if path and _relevant(path, event.is_directory):
                self.inbox.append((self.library_id, path, now))


@dataclass
class _Watch:
    path: str
    mode: str  # what was asked: native, poll
    running: str  # what runs: native, poll
    watch: Any
    observer: Any


# -- the service -------------------------------------------------------------------

class LibraryWatcher:
    """Watches the libraries of one app and feeds their changes to jobs."""

    def __init__(self, app: Flask):
        self.app = app
        self.debounce = float(app.config["WATCH_DEBOUNCE_SECONDS"])
        self.poll_seconds = float(app.config["WATCH_POLL_SECONDS"])
        self.inbox: deque = deque()
        # library id -> {path: time of its last event}
        self.pending: dict[int, dict[str, float]] = {}
        self.watches: dict[int, _Watch] = {}
        self._native = None
        self._polling = None
        self._stopped = threading.Event()
        self._next_recheck = 0.0

    # -- observers ----------------------------------------------------------------

    def _observer(self, mode: str):
        if mode == "native":
            if self._native is None:
                from watchdog.observers.inotify import InotifyObserver

                self._native = InotifyObserver()
                self._native.daemon = True
                self._native.start()
            return self._native
        if self._polling is None:
            from watchdog.observers.polling import PollingObserver

            self._polling = PollingObserver(timeout=self.poll_seconds)
            self._polling.daemon = True
            self._polling.start()
        return self._polling

    def _watch(self, library: Library, mode: str) -> None:
        handler = _Handler(library.id, self.inbox)
        running = mode
        try:
            observer = self._observer(mode)
            watch = observer.schedule(handler, library.path, recursive=True,
                                      event_filter=WATCHED_EVENTS)
        except OSError as exc:
            if mode != "native" or exc.errno not in (errno.ENOSPC, errno.EMFILE):
                raise
            limit = _read_int("/proc/sys/fs/inotify/max_user_watches")
            log.warning("library %r: the inotify limit is reached (%s); polling it every "
                        "%.0f s instead. Raise the limit for instant updates: sysctl "
                        "fs.inotify.max_user_watches=524288 (now %s)", library.name,
                        exc.strerror or exc, self.poll_seconds, limit or "unknown")
            running = "poll"
            observer = self._observer("poll")
            watch = observer.schedule(handler, library.path, recursive=True,
                                      event_filter=WATCHED_EVENTS)
        self.watches[library.id] = _Watch(library.path, mode, running, watch, observer)
        log.info("watching library %r (%s) for changes: %s%s", library.name,
                 display(library.path), running,
                 f" every {self.poll_seconds:.0f} s" if running == "poll" else "")

    def _unwatch(self, library_id: int) -> None:
        current = self.watches.pop(library_id, None)
        if current is None:
            return
        try:
            current.observer.unschedule(current.watch)
        except (KeyError, OSError, ValueError):
            pass

    def sync(self) -> None:
        """Make the watches match the libraries' rows and folders."""
        with self.app.app_context():
            libraries = db.session.execute(db.select(Library)).scalars().all()
            wanted: dict[int, tuple[Library, str]] = {}
            for library in libraries:
                mode = effective_mode(library.watch_mode or "auto", library.path)
                if library.enabled and mode != "off":
                    wanted[library.id] = (library, mode)
            for library_id in list(self.watches):
                current = self.watches[library_id]
                want = wanted.get(library_id)
                if (want is None or want[0].path != current.path or want[1] != current.mode
                        or not os.path.isdir(current.path)):
                    self._unwatch(library_id)
                    if want is not None and not os.path.isdir(want[0].path):
                        log.warning("library %r: its folder %s is gone; watching it again "
                                    "when it is back", want[0].name, display(want[0].path))
            for library_id, (library, mode) in wanted.items():
                if library_id in self.watches or not os.path.isdir(library.path):
                    continue
                try:
                    self._watch(library, mode)
                except OSError as exc:
                    log.warning("library %r cannot be watched: %s", library.name,
                                exc.strerror or exc)
            db.session.remove()

    # -- handing paths on --------------------------------------------------------

    def _drain(self) -> None:
        while self.inbox:
            library_id, path, seen = self.inbox.popleft()
            self.pending.setdefault(library_id, {})[path] = seen

    def flush(self, now: float | None = None) -> list[int]:
        """Submit a job for each library with paths quiet for the debounce
        time (and no scan of it running); returns the job ids."""
        self._drain()
        now = time.monotonic() if now is None else now
        submitted = []
        for library_id in list(self.pending):
            paths = self.pending[library_id]
            quiet = sorted(path for path, seen in paths.items() if now - seen >= self.debounce)
            if not quiet:
                continue
            with self.app.app_context():
                runner = services.jobs(self.app)
                target = f"library:{library_id}"
                if (runner.active_job(SCAN_JOB, target) is not None
                        or runner.active_job(SCAN_PATHS_JOB, target) is not None):
                    db.session.remove()
                    continue
                batch = quiet[:MAX_PATHS_PER_JOB]
                if db.session.get(Library, library_id) is not None:
                    submitted.append(runner.submit(
                        SCAN_PATHS_JOB, {"library_id": library_id,
                                         "paths": [to_storage(p) for p in batch]},
                        target=target))
                db.session.remove()
            for path in batch:
                del paths[path]
            if not paths:
                del self.pending[library_id]
        return submitted

    def run(self) -> None:
        """The loop: hand quiet paths on, re-read the libraries now and then."""
        while not self._stopped.is_set():
            try:
                if time.monotonic() >= self._next_recheck:
                    self._next_recheck = time.monotonic() + RECHECK_SECONDS
                    self.sync()
                if self.inbox or self.pending:
                    self.flush()
            except Exception:
                log.exception("library watcher")
            self._stopped.wait(TICK_SECONDS)

    def start(self) -> None:
        from ..jobs import pool

        pool.spawn(self.run, name="library-watcher")

    def stop(self) -> None:
        self._stopped.set()
        for observer in (self._native, self._polling):
            if observer is not None:
                try:
                    observer.stop()
                except Exception:  # stopping must never fail a shutdown
                    log.debug("stopping an observer failed", exc_info=True)
        self.watches.clear()

    def recheck_soon(self) -> None:
        """Re-read the libraries at the next tick (a library was changed here)."""
        self._next_recheck = 0.0


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def start_watcher(app: Flask) -> LibraryWatcher:
    """Start watching the app's libraries (``start_services``)."""
    watcher = LibraryWatcher(app)
    app.extensions[EXTENSION] = watcher
    watcher.start()
    return watcher


def stop_watcher(app: Flask) -> None:
    watcher = app.extensions.pop(EXTENSION, None)
    if watcher is not None:
        watcher.stop()


def library_changed(app: Flask) -> None:
    """A library was added, changed or removed in this process: the watcher
    (if this process runs one) looks at once rather than within
    ``RECHECK_SECONDS``."""
    watcher = app.extensions.get(EXTENSION)
    if watcher is not None:
        watcher.recheck_soon()
