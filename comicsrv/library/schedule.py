"""Scans on start and on each library's cron schedule."""
from __future__ import annotations

import logging

from flask import Flask

from .. import services
from ..extensions import db
from ..models import Library
from .scanner import SCAN_JOB
from .scans import request_scan, scan_target, scheduled_scan_params

log = logging.getLogger(__name__)


def schedule_library_scans(app: Flask, *, on_start: bool) -> None:
    """Install each enabled library's cron schedule (and drop those of
    libraries gone, disabled or unscheduled: this also rebuilds them after
    another process changed a library); with ``on_start``, queue the scans
    of libraries that scan on start."""
    scheduler = services.scheduler(app)
    with app.app_context():
        libraries = db.session.execute(
            db.select(Library).where(Library.enabled.is_(True))).scalars().all()
        kept = set()
        for library in libraries:
            if library.scan_cron:
                try:
                    scheduler.cron(f"scan:{library.id}", library.scan_cron, SCAN_JOB,
                                   scheduled_scan_params(library), scan_target(library.id))
                    kept.add(f"scan:{library.id}")
                except ValueError as exc:
                    log.error("library %s: bad scan schedule %r: %s", library.name,
                              library.scan_cron, exc)
            if on_start and library.scan_on_start:
                request_scan(library)  # in the library's default mode (it was always normal)
        for schedule_id in scheduler.ids():
            if schedule_id.startswith("scan:") and schedule_id not in kept:
                scheduler.remove(schedule_id)
