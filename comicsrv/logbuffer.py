"""The last log records of this process, kept in memory for the log APIs.

One ring buffer per process, on the root logger, installed once however
many apps are created: what the ``comicsrv`` loggers (and plugins, and the
libraries they use) let through at their levels is kept, the oldest dropped
first. Reading filters by minimum level and answers newest first.

Records arrive with their secrets masked (``comicsrv.redact``, installed by
``create_app`` on this handler too): the log APIs show what the console shows.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import datetime, timezone
from typing import Any

CAPACITY = 2000
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
EXTENSION = "comicsrv.logs"


class LogBuffer(logging.Handler):
    """A logging handler keeping the last ``capacity`` records as dicts."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__(logging.DEBUG)
        self._records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._seq = 0
        self._seq_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info or record.exc_text:
                # exc_text is the traceback as the secrets filter masked it.
                message += "\n" + (record.exc_text
                                   or logging.Formatter().formatException(record.exc_info))
        except Exception:  # a bad format string must not break the logging caller
            message = str(record.msg)
        with self._seq_lock:
            self._seq += 1
            self._records.append({
                "id": self._seq,
                "time": datetime.fromtimestamp(record.created, timezone.utc)
                .isoformat().replace("+00:00", "Z"),
                "level": record.levelname, "levelno": record.levelno,
                "logger": record.name, "message": message[:10000]})

    def records(self, level: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; only records at ``level`` or above."""
        floor = logging.getLevelName(level.upper()) if level else logging.NOTSET
        if not isinstance(floor, int):
            raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
        with self._seq_lock:
            snapshot = list(self._records)
        found = [r for r in reversed(snapshot) if r["levelno"] >= floor]
        return [{k: v for k, v in r.items() if k != "levelno"} for r in found[:max(0, limit)]]

    def clear(self) -> int:
        with self._seq_lock:
            count = len(self._records)
            self._records.clear()
        return count


_buffer: LogBuffer | None = None
_install_lock = threading.Lock()


def log_buffer() -> LogBuffer:
    """The process's buffer, attached to the root logger on first use."""
    global _buffer
    with _install_lock:
        if _buffer is None:
            _buffer = LogBuffer()
            logging.getLogger().addHandler(_buffer)
        return _buffer


def install(app) -> LogBuffer:
    """Make the buffer ``app.extensions["comicsrv.logs"]``."""
    buffer = log_buffer()
    app.extensions[EXTENSION] = buffer
    return buffer
