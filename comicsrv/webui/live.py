"""Live news of the automation on every page an admin has open: a toast
when a release is grabbed, imported or fails, and the number of active
downloads on the Activity item of the navigation.

One SSE stream per page, from the same event bus as every other stream;
its events carry JSON, which ``app.js`` turns into text (never HTML from the
event: a release title is whatever an indexer chose to call it).
"""
from __future__ import annotations

from typing import Any, Iterator

from flask import Response, current_app, stream_with_context
from sqlalchemy import func, select

from .. import services
from ..events import KEEPALIVE_SECONDS, DownloadFailed, Event, IssueImported, ReleaseGrabbed, format_sse
from ..extensions import db
from ..models.automation import ACTIVE_DOWNLOAD_STATES, Download, WatchedIssue
from . import blp
from .arr import ADMIN
from .shell import login_required

LIVE_EVENTS = frozenset({"release_grabbed", "issue_imported", "download_failed",
                         "download_updated"})


def active_downloads() -> int:
    return db.session.execute(select(func.count()).select_from(Download).where(
        Download.state.in_(ACTIVE_DOWNLOAD_STATES))).scalar_one()


def _issue_label(watched_issue_id: int | None) -> str | None:
    issue = db.session.get(WatchedIssue, watched_issue_id) if watched_issue_id else None
    return f"{issue.series.name} #{issue.number}" if issue is not None else None


def toast(event: Event) -> dict[str, Any] | None:
    """What a toast says about an event (None: no toast for it)."""
    if isinstance(event, ReleaseGrabbed):
        label = _issue_label(event.watched_issue_id)
        via = f" from {event.indexer}" if event.indexer else ""
        return {"kind": "grabbed", "title": f"Grabbed {label}" if label else "Release grabbed",
                "text": f"{event.title}{via}" + (f", sent to {event.client}" if event.client else "")}
    if isinstance(event, IssueImported):
        label = _issue_label(event.watched_issue_id)
        return {"kind": "imported", "title": f"Imported {label}" if label else "Imported",
                "text": event.path}
    if isinstance(event, DownloadFailed):
        label = _issue_label(event.watched_issue_id)
        return {"kind": "failed", "title": f"Download failed: {label}" if label
                else "Download failed", "text": f"{event.title}: {event.reason}"}
    return None


@blp.get("/live/events")
@login_required(ADMIN)
def live_events():
    """SSE: ``badge`` (``{"active": n}``) at once and after every change of
    a download; ``toast`` for grabbed, imported and failed."""
    keepalive = float(current_app.config.get("SSE_KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)
    db.session.rollback()
    return Response(stream_with_context(_stream(keepalive)), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream(keepalive: float) -> Iterator[str]:
    bus = services.events()
    sub = bus.subscribe(LIVE_EVENTS)
    try:
        count = active_downloads()
        yield format_sse("badge", {"active": count})
        db.session.rollback()
        while True:
            event = sub.get(timeout=keepalive)
            if event is None:
                yield ": keep-alive\n\n"
                continue
            message = toast(event)
            if message is not None:
                yield format_sse("toast", message)
            now = active_downloads()
            db.session.rollback()  # no connection held while waiting
            if now != count:
                count = now
                yield format_sse("badge", {"active": count})
    finally:
        sub.close()
