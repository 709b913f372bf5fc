"""Notification targets: Apprise URLs and webhooks that hear about grabs,
imports, failures and new issues.

A target is a ``NotificationTarget`` row naming a notifier plugin ``kind``
with its settings and the events it receives (``None``: all of them). The
delivery itself is ``comicsrv.automation.notify``; this module adds,
changes, removes and tests targets, for the web UI's settings page now and
the JSON API later. Apprise URLs embed tokens and webhook headers carry
credentials: both are secrets, never shown again once saved.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import Conflict, NotFound
from ..extensions import db
from ..hookspecs import Notification, TestResult
from ..models.automation import NotificationTarget
from . import integrations
from .integrations import InvalidFields
from .notify import NOTIFICATION_EVENTS, send_test

CATEGORY = "notifier"
MAX_ID = 2**31 - 1
COLUMNS = ("name", "kind", "enabled", "events")
EVENT_LABELS = {"grabbed": "Grabbed", "downloaded": "Imported", "failed": "Download failed",
                "new_issue": "New issue announced"}

__all__ = ["CATEGORY", "EVENT_LABELS", "get_target", "list_targets", "create_target",
           "update_target", "delete_target", "test_target", "test_settings", "masked"]


def masked(row: NotificationTarget) -> dict[str, Any]:
    return integrations.masked_settings(CATEGORY, row.kind, row.settings)


def targets_query(enabled: bool | None = None):
    """Targets by name: the ``/api/v1/notification-targets`` list."""
    query = db.select(NotificationTarget).order_by(NotificationTarget.name, NotificationTarget.id)
    if enabled is not None:
        query = query.where(NotificationTarget.enabled.is_(enabled))
    return query


def get_target(target_id: int) -> NotificationTarget:
    row = db.session.get(NotificationTarget, target_id) if 0 < target_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No notification target {target_id}")
    return row


def list_targets() -> list[NotificationTarget]:
    return list(db.session.execute(db.select(NotificationTarget).order_by(
        NotificationTarget.name, NotificationTarget.id)).scalars())


def _events(data: Mapping[str, Any], errors: dict[str, str]) -> list[str] | None:
    """The events as stored: None for all of them, else a list in the
    canonical order."""
    events = data.get("events")
    if events is None:
        return None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        errors["events"] = "Events are a list of event names"
        return None
    unknown = [e for e in events if e not in NOTIFICATION_EVENTS]
    if unknown:
        errors["events"] = (f"Unknown event {unknown[0]!r}; the events are "
                            f"{', '.join(NOTIFICATION_EVENTS)}")
        return None
    if not events:
        errors["events"] = "Choose at least one event (or switch the target off)"
        return None
    chosen = [e for e in NOTIFICATION_EVENTS if e in events]
    return None if chosen == list(NOTIFICATION_EVENTS) else chosen


def _check(data: Mapping[str, Any], *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    errors = integrations.check_common(data, creating=creating)
    values = {key: data[key] for key in ("name", "enabled") if key in data}
    if "enabled" in data and not isinstance(data["enabled"], bool):
        errors["enabled"] = "Must be true or false"
    if "events" in data:
        values["events"] = _events(data, errors)
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()
    return values, errors


def create_target(data: Mapping[str, Any]) -> NotificationTarget:
    kind = str(data.get("kind") or "")
    if kind not in integrations.kinds(CATEGORY):
        integrations.build(CATEGORY, kind, {})  # the clear 400
    values, errors = _check(data, creating=True)
    if not errors and integrations.name_taken(NotificationTarget, values["name"]):
        raise Conflict(f"A notification target named {values['name']!r} exists already",
                       code="name_taken")
    try:
        settings = integrations.clean_settings(CATEGORY, kind, data.get("settings") or {})
    except InvalidFields as exc:
        errors.update(exc.details)
        settings = {}
    if errors:
        raise InvalidFields(errors)
    row = NotificationTarget(kind=kind, settings=settings, **values)
    db.session.add(row)
    db.session.commit()
    return row


def update_target(target_id: int, data: Mapping[str, Any]) -> NotificationTarget:
    row = get_target(target_id)
    values, errors = _check(data, creating=False)
    if "name" in values and not errors.get("name") and integrations.name_taken(
            NotificationTarget, values["name"], row.id):
        raise Conflict(f"A notification target named {values['name']!r} exists already",
                       code="name_taken")
    if "settings" in data:
        try:
            values["settings"] = integrations.clean_settings(CATEGORY, row.kind,
                                                             data["settings"] or {}, old=row.settings)
        except InvalidFields as exc:
            errors.update(exc.details)
    if errors:
        raise InvalidFields(errors)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.commit()
    return row


def delete_target(target_id: int) -> None:
    db.session.delete(get_target(target_id))
    db.session.commit()


def test_target(target_id: int) -> TestResult:
    """Send a test notification to a saved target (recorded on it)."""
    return send_test(get_target(target_id).id)


def test_settings(kind: str, settings: Mapping[str, Any], target_id: int | None = None) -> TestResult:
    """Send a test notification with settings not saved yet; a saved
    target's secrets stand in for empty ones."""
    old = get_target(target_id).settings if target_id else None
    cleaned = integrations.clean_settings(CATEGORY, kind, settings, old=old)
    try:
        instance = integrations.build(CATEGORY, kind, cleaned, name="test")
        instance.send(Notification(event="test", title="comicsrv test",
                                   message="This is a test notification from comicsrv.",
                                   data={"test": True}))
    except InvalidFields:
        raise
    except Exception as exc:  # whatever the notifier raises is the reason the test failed
        return TestResult(False, f"{type(exc).__name__}: {exc}"[:2000])
    return TestResult(True, "delivered")
