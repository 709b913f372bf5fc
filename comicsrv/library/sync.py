"""Sync integrations (Codex's user and admin integrations): services a
user's reading is pushed to, provided by plugins (``comicsrv_sync_targets``;
the built-in is the reading log webhook).

An admin sets one up (``SyncIntegration``: a plugin kind and the server's
settings) and tests it; users see the enabled ones as available, connect
with their own settings (``UserIntegration``), test and sync. A sync sends
the user's reading progress changed since the last successful one, oldest
first, and moves the mark only when the service took it, so nothing is
skipped after a failure. Secrets on both sides read as ``********`` and are
kept when sent back.
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select

from ..automation import configured, integrations
from ..errors import BadRequest, Conflict, NotFound, Unavailable
from ..extensions import db
from ..hookspecs import IntegrationError, ReadingRecord, TestResult
from ..models import Book, ReadingProgress, SyncIntegration, User, UserIntegration, utcnow
from ..redact import MASK, mask_text

CATEGORY = "sync"
MAX_RECORDS = 10_000  # per sync; the next sync goes on from there


class SyncFailed(Unavailable):
    code = "sync_failed"


# --- admin: the integrations themselves -------------------------------------------

def integrations_query(enabled: bool | None = None):
    query = select(SyncIntegration).order_by(SyncIntegration.name, SyncIntegration.id)
    if enabled is not None:
        query = query.where(SyncIntegration.enabled.is_(enabled))
    return query


def get_integration(integration_id: int) -> SyncIntegration:
    row = db.session.get(SyncIntegration, integration_id) if 0 < integration_id < 2**31 else None
    if row is None:
        raise NotFound(f"No integration {integration_id}")
    return row


def masked(row: SyncIntegration) -> dict[str, Any]:
    return configured.masked_settings(CATEGORY, row.kind, row.settings)


def _user_secret_fields(kind: str) -> set[str]:
    cls = integrations.kinds(CATEGORY).get(kind)
    found = {f["name"] for f in getattr(cls, "user_settings_fields", [])
             if f.get("type") == "password" or f.get("secret")}
    return found | {"token", "password", "api_key"}


def describe_kind(kind: str) -> dict[str, Any]:
    cls = integrations.kinds(CATEGORY).get(kind)
    return {"kind": kind, "label": getattr(cls, "label", "") or kind,
            "user_settings_fields": list(getattr(cls, "user_settings_fields", []))}


def create_integration(data: dict[str, Any]) -> SyncIntegration:
    settings = configured.merged_settings(data.get("settings") or {}, None)
    configured.check_settings(CATEGORY, data["kind"], settings)
    configured.check_name_free(SyncIntegration, data["name"], what="integration")
    row = SyncIntegration(name=data["name"], kind=data["kind"], settings=settings,
                          enabled=data.get("enabled", True))
    db.session.add(row)
    db.session.commit()
    return row


def update_integration(integration_id: int, data: dict[str, Any]) -> SyncIntegration:
    row = get_integration(integration_id)
    if "name" in data:
        configured.check_name_free(SyncIntegration, data["name"], exclude_id=row.id,
                                   what="integration")
        row.name = data["name"]
    if "settings" in data:
        settings = configured.merged_settings(data["settings"], row.settings)
        configured.check_settings(CATEGORY, row.kind, settings)
        row.settings, row.last_error = settings, None
    if "enabled" in data:
        row.enabled = data["enabled"]
    db.session.commit()
    return row


def delete_integration(integration_id: int) -> None:
    """Remove an integration; the users' connections to it go too."""
    db.session.delete(get_integration(integration_id))
    db.session.commit()


def test_integration(integration_id: int) -> TestResult:
    row = get_integration(integration_id)
    result = configured.run_test(CATEGORY, row.kind, row.settings or {}, row.name)
    row.last_error = None if result.ok else result.message[:5000]
    db.session.commit()
    return result


# --- users: their connections -----------------------------------------------------

def _available(name: str) -> SyncIntegration:
    row = db.session.execute(select(SyncIntegration).where(
        SyncIntegration.name == name)).scalar()
    if row is None or not row.enabled:
        raise NotFound(f"No integration named {name!r} is available")
    return row


def connection(user: User, name: str) -> UserIntegration:
    row = db.session.execute(select(UserIntegration).join(
        SyncIntegration, SyncIntegration.id == UserIntegration.integration_id)
        .where(UserIntegration.user_id == user.id, SyncIntegration.name == name)).scalar()
    if row is None:
        raise NotFound(f"You have not connected {name!r}")
    return row


def shown_connection(row: UserIntegration) -> dict[str, Any]:
    secrets = _user_secret_fields(row.integration.kind)
    settings = {k: (MASK if k in secrets and v else mask_text(v) if isinstance(v, str) else v)
                for k, v in (row.settings or {}).items()}
    return {"name": row.integration.name, "kind": row.integration.kind,
            "label": describe_kind(row.integration.kind)["label"],
            "enabled": row.enabled and row.integration.enabled, "settings": settings,
            "synced_until": row.synced_until, "last_sync_at": row.last_sync_at,
            "last_result": row.last_result, "last_error": mask_text(row.last_error or "") or None,
            "connected_at": row.created_at}


def user_integrations(user: User) -> dict[str, list[dict[str, Any]]]:
    """Codex's listing: what the user connected, and what they may connect."""
    rows = list(db.session.execute(select(UserIntegration).where(
        UserIntegration.user_id == user.id).order_by(UserIntegration.id)).scalars())
    connected_ids = {row.integration_id for row in rows}
    available = [{"name": row.name, **describe_kind(row.kind)}
                 for row in db.session.execute(integrations_query(enabled=True)).scalars()
                 if row.id not in connected_ids]
    return {"connected": [shown_connection(row) for row in rows], "available": available}


def _user_settings(kind: str, new: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict:
    settings = configured.merged_settings(new, old)
    cls = integrations.kinds(CATEGORY).get(kind)
    missing = [f["name"] for f in getattr(cls, "user_settings_fields", [])
               if f.get("required") and settings.get(f["name"]) in (None, "", [], {})]
    if missing:
        raise BadRequest(f"settings: {', '.join(missing)} required", code="invalid_settings",
                         details={"missing": missing})
    return settings


def connect(user: User, name: str, settings: Mapping[str, Any]) -> UserIntegration:
    integration = _available(name)
    existing = db.session.execute(select(UserIntegration).where(
        UserIntegration.user_id == user.id,
        UserIntegration.integration_id == integration.id)).scalar()
    if existing is not None:
        existing.settings = _user_settings(integration.kind, settings, existing.settings)
        existing.enabled, existing.last_error = True, None
        db.session.commit()
        return existing
    row = UserIntegration(user_id=user.id, integration_id=integration.id,
                          settings=_user_settings(integration.kind, settings, None))
    db.session.add(row)
    db.session.commit()
    return row


def disconnect(user: User, name: str) -> None:
    db.session.delete(connection(user, name))
    db.session.commit()


def _instance(row: UserIntegration):
    integration = row.integration
    if not integration.enabled:
        raise Conflict(f"The admin turned {integration.name!r} off", code="integration_disabled")
    return integrations.instance_for(CATEGORY, integration)


def _user_settings_for(row: UserIntegration, user: User) -> dict[str, Any]:
    return {"username": user.username, **(row.settings or {})}


def test_connection(user: User, name: str) -> TestResult:
    row = connection(user, name)
    try:
        result = _instance(row).test_user(_user_settings_for(row, user))
    except IntegrationError as exc:
        result = TestResult(False, str(exc))
    except Exception as exc:  # a plugin's bug is a failed test for the user
        result = TestResult(False, f"{type(exc).__name__}: {exc}")
    return TestResult(bool(result.ok), mask_text(result.message or ""))


def _records(user: User, since) -> list[tuple[ReadingRecord, Any]]:
    query = (select(ReadingProgress, Book).join(Book, Book.id == ReadingProgress.book_id)
             .where(ReadingProgress.user_id == user.id)
             .order_by(ReadingProgress.updated_at, ReadingProgress.id).limit(MAX_RECORDS))
    if since is not None:
        query = query.where(ReadingProgress.updated_at > since)
    found = []
    for progress, book in db.session.execute(query).all():
        identifiers = (book.extra or {}).get("identifiers") or {}
        found.append((ReadingRecord(
            book_id=book.id, title=book.title, series=book.series_name, number=book.number,
            volume=book.volume, year=book.year, page=progress.page,
            total_pages=progress.total_pages, completed=bool(progress.completed),
            updated_at=progress.updated_at, arcid=book.arcid,
            identifiers={str(k): str(v) for k, v in identifiers.items()}), progress.updated_at))
    return found


def sync(user: User, name: str) -> dict[str, Any]:
    """Push the user's reading changed since the last sync; the mark moves
    only on success. ``SyncFailed`` (503) says why the service refused."""
    row = connection(user, name)
    instance = _instance(row)
    found = _records(user, row.synced_until)
    now = utcnow()
    try:
        result = instance.sync(_user_settings_for(row, user), [record for record, _ in found])
    except Exception as exc:  # the plugin's refusal or bug: recorded, said
        message = mask_text(str(exc) if isinstance(exc, IntegrationError)
                            else f"{type(exc).__name__}: {exc}")
        db.session.rollback()
        row = connection(user, name)
        row.last_sync_at, row.last_error = now, message[:5000]
        row.last_result = {"sent": 0, "ok": False}
        db.session.commit()
        raise SyncFailed(f"{name}: {message}") from None
    if found:
        row.synced_until = found[-1][1]
    row.last_sync_at, row.last_error = now, None
    row.last_result = {"sent": result.sent, "ok": True, "message": result.message,
                       "more": len(found) >= MAX_RECORDS}
    db.session.commit()
    return {"name": name, "sent": result.sent, "message": result.message,
            "synced_until": row.synced_until, "more": len(found) >= MAX_RECORDS}


def sync_everyone(integration_id: int) -> dict[str, Any]:
    """The admin's sync of an integration for every connected user; one
    user's failure is reported and the others go on."""
    integration = get_integration(integration_id)
    rows = list(db.session.execute(select(UserIntegration.user_id).where(
        UserIntegration.integration_id == integration.id,
        UserIntegration.enabled.is_(True)).order_by(UserIntegration.id)).scalars())
    synced, failed = 0, {}
    for user_id in rows:
        user = db.session.get(User, user_id)
        if user is None or not user.is_active:
            continue
        try:
            sync(user, integration.name)
            synced += 1
        except (SyncFailed, Conflict, NotFound) as exc:
            failed[user.username] = exc.message
    return {"users": synced, "failed": failed}
