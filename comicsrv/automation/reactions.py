"""What the automation does when the library changes on its own.

After every finished library scan, watched issues are linked to the books
it found: a user who copies issue 3 into the library by hand sees it as
downloaded, and no search grabs it a second time.
"""
from __future__ import annotations

import logging

from flask import Flask

from ..events import Event
from ..extensions import db
from ..library.scanner import SCAN_JOB
from ..models import WatchedSeries
from ..models.jobs import FINISHED
from .metadata_links import link_books

log = logging.getLogger(__name__)


def _after_scan(event: Event) -> None:
    """Runs in the scan job's own thread and app context, after its commit."""
    if (event.name != "task_progress" or getattr(event, "task_type", None) != SCAN_JOB
            or getattr(event, "status", None) != FINISHED):
        return
    try:
        if db.session.execute(db.select(WatchedSeries.id).limit(1)).first() is None:
            return
        linked = link_books()
    except Exception:
        db.session.rollback()
        log.exception("linking watched issues to books after a scan failed")
        return
    if linked:
        log.info("after scan: %d watched issues linked to books", linked)


def install(app: Flask) -> None:
    app.extensions["comicsrv.events"].add_listener(_after_scan)
