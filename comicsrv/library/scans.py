"""Requesting a library scan: the one service every caller uses.

The CLI (``comicsrv scan``), ``/api/v1`` (``POST /libraries/{id}/scan``),
the web UI (its scan button and the first-run wizard's new library), the
scheduler (each library's cron schedule and its scan on start) all ask
here, so they agree on the job (``library.scan``), its target
(``library:<id>``: one scan of a library at a time) and the mode: the one
asked for, else the library's ``default_scan_mode``. A scheduled scan
leaves the mode to the library as it is when the schedule fires, so a
changed default applies without rebuilding the schedule.
"""
from __future__ import annotations

from typing import Any


from .. import services
from ..models import Job, Library
from .scanner import SCAN_JOB

DEEP = "deep"
TARGET_PREFIX = "library:"


def scan_target(library_id: int) -> str:
    """The job target of a library's scan: one scan of a library at a time."""
    return f"{TARGET_PREFIX}{library_id}"


def scan_params(library: Library, mode: str | None = None) -> dict[str, Any]:
    """The scan job's parameters: ``mode`` (``normal`` or ``deep``), else the
    library's default."""
    return {"library_id": library.id, "deep": (mode or library.default_scan_mode) == DEEP}


def scheduled_scan_params(library: Library) -> dict[str, Any]:
    """A schedule's parameters: no mode, so the scan takes the library's
    default when it runs (``scanner.scan_library``)."""
    return {"library_id": library.id}


def active_scan(library_id: int) -> Job | None:
    """The library's queued or running scan, if any."""
    return services.jobs().active_job(SCAN_JOB, scan_target(library_id))


def request_scan(library: Library, mode: str | None = None, *, user_id: int | None = None) -> int:
    """Queue a scan of ``library`` (``mode``, else its default) unless one is
    queued or running already; the job id either way."""
    running = active_scan(library.id)
    if running is not None:
        return running.id
    return services.jobs().submit(
        SCAN_JOB, scan_params(library, mode), target=scan_target(library.id), user_id=user_id)


def run_scan(library: Library, mode: str | None = None) -> Job:
    """Scan ``library`` now, in this thread (the CLI); the finished job row."""
    return services.jobs().run_now(
        SCAN_JOB, scan_params(library, mode), target=scan_target(library.id))
