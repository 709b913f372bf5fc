"""Notification targets (Apprise URLs, webhooks, any plugin's notifier):
add, change, remove, and send a test through one.

A target receives the pipeline events it subscribes to (``events``; None:
all of them) from ``comicsrv.automation.notify``, which records every
delivery on it. A test goes through the same ``deliver`` and is recorded
the same way, so a target that failed its test shows why.
"""
from __future__ import annotations

from typing import Any

from ..errors import BadRequest, NotFound
from ..extensions import db
from ..hookspecs import Notification, TestResult
from ..models.automation import NotificationTarget
from ..redact import mask_text
from . import configured, integrations
from .notify import NOTIFICATION_EVENTS, send_test

CATEGORY = "notifier"
MAX_ID = 2**31 - 1


def targets_query(enabled: bool | None = None):
    query = db.select(NotificationTarget).order_by(NotificationTarget.name, NotificationTarget.id)
    if enabled is not None:
        query = query.where(NotificationTarget.enabled.is_(enabled))
    return query


def get_target(target_id: int) -> NotificationTarget:
    row = db.session.get(NotificationTarget, target_id) if 0 < target_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No notification target {target_id}")
    return row


def masked(row: NotificationTarget) -> dict[str, Any]:
    return configured.masked_settings(CATEGORY, row.kind, row.settings)


def _events(events: list[str] | None) -> list[str] | None:
    """The subscribed events in their canonical order; None for all."""
    if events is None:
        return None
    unknown = sorted(set(events) - set(NOTIFICATION_EVENTS))
    if unknown:
        raise BadRequest(f"events: unknown {', '.join(unknown)}; known: "
                         f"{', '.join(NOTIFICATION_EVENTS)}", code="unknown_event")
    return [name for name in NOTIFICATION_EVENTS if name in events]


def create_target(data: dict[str, Any]) -> NotificationTarget:
    configured.kind_class(CATEGORY, data["kind"])
    configured.check_name_free(NotificationTarget, data["name"], what="notification target")
    settings = configured.merged_settings(data.get("settings") or {}, None)
    configured.check_settings(CATEGORY, data["kind"], settings)
    row = NotificationTarget(name=data["name"], kind=data["kind"], settings=settings,
                             enabled=data.get("enabled", True),
                             events=_events(data.get("events")))
    db.session.add(row)
    db.session.commit()
    return row


def update_target(target_id: int, data: dict[str, Any]) -> NotificationTarget:
    row = get_target(target_id)
    if "name" in data:
        configured.check_name_free(NotificationTarget, data["name"], exclude_id=row.id,
                                   what="notification target")
        row.name = data["name"]
    if "settings" in data:
        settings = configured.merged_settings(data["settings"], row.settings)
        configured.check_settings(CATEGORY, row.kind, settings)
        row.settings = settings
        row.last_error = row.last_error_at = None
    if "events" in data:
        row.events = _events(data["events"])
    if "enabled" in data:
        row.enabled = data["enabled"]
    db.session.commit()
    return row


def delete_target(target_id: int) -> None:
    db.session.delete(get_target(target_id))
    db.session.commit()


def test_target(target_id: int) -> TestResult:
    """Send a test notification through a stored target now."""
    get_target(target_id)
    return send_test(target_id)


def test_settings(kind: str, settings: dict[str, Any]) -> TestResult:
    """Send a test notification with settings not saved yet (the plugin's
    ``send``, as a real delivery would; nothing is recorded)."""
    configured.kind_class(CATEGORY, kind)
    try:
        integrations.build(CATEGORY, kind, dict(settings)).send(Notification(
            event="test", title="comicsrv test",
            message="This is a test notification from comicsrv.", data={"test": True}))
    except Exception as exc:  # any failure of the plugin is the test's answer
        return TestResult(False, mask_text(f"{type(exc).__name__}: {exc}"))
    return TestResult(True, "delivered")
