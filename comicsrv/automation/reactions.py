"""What the automation does when something happens elsewhere.

After every finished library scan, watched issues are linked to the books
it found: a user who copies issue 3 into the library by hand sees it as
downloaded, and no search grabs it a second time.

The download monitor's hand-overs are reactions too, so that
``automation.downloads`` imports neither post-processing nor the search
(both import it): a completed download is handed to post-processing
(``DownloadCompleted``), and after a failed one the next candidate for its
issue is searched for (``IssueWantedAgain``). Both run in the publisher's
thread and app context, as the monitor's own code did.
"""
from __future__ import annotations

import logging

from flask import Flask

from .. import services
from ..errors import BadRequest, Conflict, NotFound
from ..events import DownloadCompleted, Event, IssueWantedAgain
from ..extensions import db
from ..library.scanner import SCAN_JOB
from ..models import WatchedSeries
from ..models.automation import Download
from ..models.jobs import FINISHED
from . import postprocess, search
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


def _download_completed(event: Event) -> None:
    """Start post-processing; a refusal (no save path, already imported) is
    noted on the download, and the monitor tries again at its next check."""
    if not isinstance(event, DownloadCompleted):
        return
    try:
        postprocess.submit(event.download_id)
    except (BadRequest, Conflict, NotFound) as exc:
        db.session.rollback()
        download = db.session.get(Download, event.download_id)
        if download is not None and download.error != exc.message:
            download.error = exc.message
            db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("download %s: post-processing could not be started", event.download_id)


def _issue_wanted_again(event: Event) -> None:
    if not isinstance(event, IssueWantedAgain):
        return
    try:
        search.search_issue(event.watched_issue_id)
    except Exception:
        db.session.rollback()
        log.exception("searching again for issue %s after a failed download", event.watched_issue_id)


def install(app: Flask) -> None:
    bus = services.events(app)
    bus.add_listener(_after_scan)
    bus.add_listener(_download_completed)
    bus.add_listener(_issue_wanted_again)
