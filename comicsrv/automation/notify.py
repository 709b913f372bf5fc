"""Notifications: pipeline events to every subscribed notification target.

``install(app)`` (called by ``create_app``) adds a bus listener. For
ReleaseGrabbed ("grabbed"), IssueImported ("downloaded"), DownloadFailed
("failed") and IssueWanted with ``new`` ("new_issue") it hands the event to
a background worker and returns at once, so a publisher never waits on a
slow webhook. The worker sends a ``hookspecs.Notification`` to every enabled
``NotificationTarget`` whose ``events`` include it (None = all), each target
in its own thread: one slow or failing target neither delays nor stops the
others. Every delivery is recorded on its target (``last_sent_at``, or
``last_error`` and ``last_error_at``); nothing is raised to anybody.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from .. import services
from ..errors import NotFound
from ..events import DownloadFailed, Event, IssueImported, IssueWanted, ReleaseGrabbed
from ..extensions import db
from ..hookspecs import Notification, TestResult
from ..jobs import pool
from ..models import utcnow
from ..models.automation import Download, NotificationTarget, WatchedIssue
from ..redact import mask_text
from .integrations import instance_for

log = logging.getLogger(__name__)

EXTENSION = "comicsrv.notify"
NOTIFICATION_EVENTS = ("grabbed", "downloaded", "failed", "new_issue")


def notification_event(event: Event) -> str | None:
    """The notification event name for a bus event, or None to ignore it."""
    if isinstance(event, ReleaseGrabbed):
        return "grabbed"
    if isinstance(event, IssueImported):
        return "downloaded"
    if isinstance(event, DownloadFailed):
        return "failed"
    if isinstance(event, IssueWanted) and event.new:
        return "new_issue"
    return None


def _issue_label(watched_issue_id: int | None) -> str | None:
    issue = db.session.get(WatchedIssue, watched_issue_id) if watched_issue_id else None
    return f"{issue.series.name} #{issue.number}" if issue is not None else None


def build_notification(name: str, event: Event) -> Notification:
    """Title, message and data for one event (inside an app context)."""
    data: dict[str, Any] = event.to_dict()
    if isinstance(event, ReleaseGrabbed):
        label = _issue_label(event.watched_issue_id)
        via = " and ".join(p for p in (event.indexer and f"from {event.indexer}",
                                       event.client and f"sent to {event.client}") if p)
        message = f"{event.title}" + (f" ({via})" if via else "")
        title = f"Grabbed {label}" if label else "Release grabbed"
    elif isinstance(event, IssueImported):
        label = _issue_label(event.watched_issue_id)
        download = db.session.get(Download, event.download_id) if event.download_id else None
        title = f"Downloaded {label}" if label else "Issue downloaded"
        message = f"Imported into the library as {event.path}"
        if download is not None:
            data["release"] = download.title
    elif isinstance(event, DownloadFailed):
        label = _issue_label(event.watched_issue_id)
        title = f"Download failed: {label}" if label else "Download failed"
        message = f"{event.title}: {event.reason}"
    else:  # IssueWanted
        label = f"{event.series} #{event.number}"
        title = f"New issue: {label}"
        message = f"{event.series} #{event.number} was announced and is wanted"
    if label:
        data["issue"] = label
    return Notification(event=name, title=title, message=message, data=data)


class NotificationService:
    """The listener and its workers; ``wait_idle`` lets tests and shutdown wait."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._busy = 0
        self._idle = threading.Condition()

    def on_event(self, event: Event) -> None:
        name = notification_event(event)
        if name is None:
            return
        self._start(self._dispatch, name, event)

    def _start(self, fn, *args: Any) -> None:
        with self._idle:
            self._busy += 1

        def run() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("notification worker failed")
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

        pool.spawn(run, name="notify")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _dispatch(self, name: str, event: Event) -> None:
        with self.app.app_context():
            targets = db.session.execute(
                select(NotificationTarget.id, NotificationTarget.events)
                .where(NotificationTarget.enabled.is_(True)).order_by(NotificationTarget.id)
            ).all()
            subscribed = [tid for tid, events in targets if events is None or name in events]
            if not subscribed:
                return
            notification = build_notification(name, event)
        for target_id in subscribed:
            self._start(self._deliver, target_id, notification)

    def _deliver(self, target_id: int, notification: Notification) -> None:
        with self.app.app_context():
            deliver(target_id, notification)


def deliver(target_id: int, notification: Notification) -> TestResult:
    """Send one notification to one target now and record the outcome on it."""
    target = db.session.get(NotificationTarget, target_id)
    if target is None:
        return TestResult(False, "the target no longer exists")
    try:
        instance_for("notifier", target).send(notification)
    except Exception as exc:
        message = mask_text(f"{type(exc).__name__}: {exc}")[:2000]
        log.warning("notification %s to target %s (%s) failed: %s", notification.event,
                    target.name, target.kind, message)
        db.session.rollback()
        target = db.session.get(NotificationTarget, target_id)
        target.last_error, target.last_error_at = message, utcnow()
        db.session.commit()
        return TestResult(False, message)
    target.last_sent_at, target.last_error = utcnow(), None
    db.session.commit()
    return TestResult(True, "delivered")


def send_test(target_id: int) -> TestResult:
    """Send a test notification to one target, synchronously, and say how it went."""
    if db.session.get(NotificationTarget, target_id) is None:
        raise NotFound(f"No notification target {target_id}")
    return deliver(target_id, Notification(
        event="test", title="comicsrv test", message="This is a test notification from comicsrv.",
        data={"test": True}))


def install(app: Flask) -> NotificationService:
    service = NotificationService(app)
    app.extensions[EXTENSION] = service
    services.events(app).add_listener(service.on_event)
    return service


def service() -> NotificationService:
    return current_app.extensions[EXTENSION]
