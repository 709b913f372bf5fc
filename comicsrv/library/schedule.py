"""Scans on start and on each library's cron schedule."""
from __future__ import annotations

import logging

from flask import Flask

from ..extensions import db
from ..models import Library
from .scanner import SCAN_JOB

log = logging.getLogger(__name__)


def schedule_library_scans(app: Flask, *, on_start: bool) -> None:
    scheduler = app.extensions["comicsrv.scheduler"]
    runner = app.extensions["comicsrv.jobs"]
    with app.app_context():
        libraries = db.session.execute(
            db.select(Library).where(Library.enabled.is_(True))).scalars().all()
        for library in libraries:
            target = f"library:{library.id}"
            params = {"library_id": library.id, "deep": False}
            if library.scan_cron:
                try:
                    scheduler.cron(f"scan:{library.id}", library.scan_cron, SCAN_JOB, params, target)
                except ValueError as exc:
                    log.error("library %s: bad scan schedule %r: %s", library.name,
                              library.scan_cron, exc)
            if on_start and library.scan_on_start and runner.active_job(SCAN_JOB, target) is None:
                runner.submit(SCAN_JOB, params, target=target)
