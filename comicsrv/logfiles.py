"""Where log records go: the console, and ``logs/comicsrv.log`` in the data
directory, rotated by size.

A NAS user reads the log file after the fact (the container's console is
gone with its restart), so the file gets exactly what the in-memory buffer
of the log APIs gets (``comicsrv.logbuffer``): every record the loggers let
through, with its secrets already masked (``comicsrv.redact`` masks records
when they are made, so no handler can write an API key from a query string).

Several processes may write one file: ``comicsrv serve`` and a ``comicsrv
scan`` run beside it, or gunicorn's workers. Each record is written under an
exclusive ``flock`` on a lock file beside the log (two system calls a
record: cheap for a log), and under it the process first notices a rotation
done elsewhere (the file's inode changed) and reopens, then checks the size
and rotates if needed, then appends. So no line goes to a renamed file, no
rotation happens twice, and no file grows past the size because two
processes checked it at once.

The console shows the same records when serving; other commands show only
errors there (``quiet_console``), since they print their own outcome and the
file keeps the details.
"""
from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

from .config import DataDirError

LOG_FILENAME = "comicsrv.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# In the file, the process id too: several processes may share it.
FILE_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"

_lock = threading.Lock()
_file_handler: SharedRotatingFileHandler | None = None
_console: logging.Handler | None = None
_console_level = logging.NOTSET


class SharedRotatingFileHandler(RotatingFileHandler):
    """A size-rotated log file that several processes can append to."""

    def __init__(self, filename: str | os.PathLike, max_bytes: int, backup_count: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backup_count,
                         encoding="utf-8", delay=True)
        self.lock_path = os.path.join(os.path.dirname(self.baseFilename),
                                      f".{LOG_FILENAME}.lock")
        self._identity: tuple[int, int] | None = None
        self._reported_error = False
        self._lock_file = None
        self._lock_pid = 0

    def _open(self):
        stream = super()._open()
        stat = os.fstat(stream.fileno())
        self._identity = (stat.st_dev, stat.st_ino)
        return stream

    def _on_disk(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.baseFilename)
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        # Another process rotated (or someone deleted the file): reopen first.
        if self.stream is not None and self._on_disk() != self._identity:
            self.stream.close()
            self.stream = None
        return super().shouldRollover(record)

    def _locked(self):
        """The lock file, opened once per process: a ``flock`` belongs to
        the open file, which a forked child would otherwise share."""
        if self._lock_file is None or self._lock_pid != os.getpid():
            self._lock_file = open(self.lock_path, "a")
            self._lock_pid = os.getpid()
        return self._lock_file

    def emit(self, record: logging.LogRecord) -> None:
        # The threads of this process are serialised by Handler.handle;
        # the lock file serialises the processes.
        try:
            lock = self._locked()
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError:
            lock = None  # a folder that refuses the lock file: write unlocked
        try:
            super().emit(record)
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def close(self) -> None:
        super().close()
        if self._lock_file is not None and self._lock_pid == os.getpid():
            self._lock_file.close()
        self._lock_file = None

    def handleError(self, record: logging.LogRecord) -> None:
        """A log file that cannot be written (a full disk, a file left
        owned by root) is said once, in one line: never a traceback per
        record on the console."""
        if self._reported_error:
            return
        self._reported_error = True
        error = sys.exc_info()[1]
        try:
            sys.stderr.write(f"comicsrv: cannot write the log file {self.baseFilename}: "
                             f"{error}\n")
        except Exception:  # pragma: no cover - stderr itself is gone
            pass


def configure(settings: dict) -> SharedRotatingFileHandler | None:
    """Set up the console (once per process), the ``comicsrv`` loggers'
    level and the log file of ``settings`` (``LOG_DIR``, ``LOG_FILE_MAX_MB``,
    ``LOG_FILE_COUNT``); returns the file handler, None when turned off.

    One log file per process: an app created later with another data
    directory (tests, an embedding application) moves it there.
    ``DataDirError`` when the log folder cannot be made.
    """
    global _console
    root = logging.getLogger()
    with _lock:
        if not root.handlers:
            _console = logging.StreamHandler()
            _console.setFormatter(logging.Formatter(FORMAT))
            _console.setLevel(_console_level)
            root.addHandler(_console)
    logging.getLogger("comicsrv").setLevel(str(settings["LOG_LEVEL"]).upper())
    return _install_file(settings["LOG_DIR"], float(settings["LOG_FILE_MAX_MB"]),
                         int(settings["LOG_FILE_COUNT"]))


def _install_file(log_dir: str, max_mb: float, count: int) -> SharedRotatingFileHandler | None:
    global _file_handler
    path = Path(log_dir) / LOG_FILENAME
    root = logging.getLogger()
    max_bytes = int(max_mb * 1024 * 1024)
    with _lock:
        current = _file_handler
        if (current is not None and current.baseFilename == str(path.absolute())
                and current.maxBytes == max_bytes and current.backupCount == count):
            return current
        if current is not None:
            root.removeHandler(current)
            current.close()
            _file_handler = None
        if count <= 0 or max_bytes <= 0:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create the log folder {path.parent}: "
                               f"{exc.strerror or exc}") from None
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise DataDirError(f"the log folder {path.parent} is not writable by user "
                               f"{os.geteuid()}; fix its owner or set LOG_DIR")
        handler = SharedRotatingFileHandler(path, max_bytes, count)
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
        root.addHandler(handler)
        _file_handler = handler
        return handler


def file_handler() -> SharedRotatingFileHandler | None:
    """The process's log file handler, if any."""
    return _file_handler


def quiet_console(level: int = logging.ERROR) -> None:
    """Show only records at ``level`` and above on the console (the CLI's
    commands other than ``serve``); the log file still gets everything."""
    global _console_level
    _console_level = level
    if _console is not None:
        _console.setLevel(level)
