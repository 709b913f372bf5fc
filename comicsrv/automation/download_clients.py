"""Configured download clients: add, change, remove and check them.

A client is a ``DownloadClientConfig`` row naming a plugin ``kind``
(qbittorrent, sabnzbd, nzbget, blackhole ...) with that plugin's settings.
Every change goes through here, from ``/api/v1/downloader`` and from the
web UI's settings pages alike: the settings are checked against the
plugin's ``settings_fields`` (a missing URL is refused before it breaks a
grab at night), a secret sent back masked or empty keeps the stored one,
and a check can run on settings not saved yet (the "Test" button of a form).
``all_items`` and ``act`` are what the clients hold, across all of them:
listed, paused, resumed, deleted by the clients' own ids (a download
comicsrv tracks goes through ``automation.downloads``).
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import Conflict, DomainError, NotFound
from ..extensions import db
from ..hookspecs import TestResult
from ..models.automation import Download, DownloadClientConfig
from . import downloads, integrations
from .integrations import MASK, InvalidFields

CATEGORY = "download_client"
MAX_ID = 2**31 - 1
PROTOCOLS = ("torrent", "usenet")
# Columns a caller may set besides the plugin's settings.
COLUMNS = ("name", "kind", "enabled", "protocol", "priority", "category", "remove_completed")

__all__ = ["CATEGORY", "MASK", "get_client", "list_clients", "create_client", "update_client",
           "delete_client", "test_client", "test_settings", "masked", "run_test", "all_items", "act"]

run_test = integrations.run_test


def masked(row: DownloadClientConfig) -> dict[str, Any]:
    """The row's settings with its secrets replaced by ``MASK``."""
    return integrations.masked_settings(CATEGORY, row.kind, row.settings)


def get_client(client_id: int) -> DownloadClientConfig:
    row = db.session.get(DownloadClientConfig, client_id) if 0 < client_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No download client {client_id}")
    return row


def list_clients() -> list[DownloadClientConfig]:
    return list(db.session.execute(db.select(DownloadClientConfig).order_by(
        DownloadClientConfig.priority, DownloadClientConfig.id)).scalars())


def _check_name(name: str, exclude_id: int | None = None) -> None:
    if integrations.name_taken(DownloadClientConfig, name, exclude_id):
        raise Conflict(f"A download client named {name!r} exists already", code="name_taken")


def _check(data: Mapping[str, Any], *, creating: bool) -> dict[str, str]:
    errors = integrations.check_common(data, creating=creating)
    if data.get("protocol") is not None and data["protocol"] not in PROTOCOLS:
        errors["protocol"] = f"The protocol is {' or '.join(PROTOCOLS)}"
    category = data.get("category")
    if category is not None and (not isinstance(category, str) or len(category) > 200):
        errors["category"] = "The category is at most 200 characters"
    return errors


def _sync_category(kind: str, values: dict[str, Any], settings: dict[str, Any]) -> None:
    """One category, not two: the row's (what a grab hands the client) and,
    for plugins that document one, the setting the plugin lists its items
    and checks its configuration by. A row's category wins; without one the
    setting's becomes the row's."""
    documented = any(spec["name"] == "category"
                     for spec in integrations.field_specs(CATEGORY, kind))
    if not documented:
        return
    if values.get("category"):
        settings["category"] = values["category"]
    elif "category" in values:
        settings.pop("category", None)
    elif settings.get("category"):
        values["category"] = settings["category"]


def create_client(data: Mapping[str, Any]) -> DownloadClientConfig:
    """Add a client of a kind a plugin provides (400 for an unknown kind, 409
    for a taken name, ``InvalidFields`` for settings the plugin cannot use)."""
    data = dict(data)
    cls = integrations.kinds(CATEGORY).get(data.get("kind") or "")
    if cls is None:
        integrations.build(CATEGORY, str(data.get("kind") or ""), {})  # the clear 400
    errors = _check(data, creating=True)
    if not errors:
        data["name"] = data["name"].strip()
        _check_name(data["name"])
    try:
        settings = integrations.clean_settings(CATEGORY, data["kind"], data.get("settings") or {})
    except InvalidFields as exc:
        errors.update(exc.details)
    if errors:
        raise InvalidFields(errors)
    values = {key: data[key] for key in COLUMNS if key in data and data[key] is not None}
    values.setdefault("protocol", getattr(cls, "protocol", "torrent"))
    _sync_category(data["kind"], values, settings)
    row = DownloadClientConfig(**values, settings=settings)
    db.session.add(row)
    db.session.commit()
    return row


def update_client(client_id: int, data: Mapping[str, Any]) -> DownloadClientConfig:
    """Change a client; sent settings replace the stored ones whole, except
    secrets sent back masked or empty, which keep their stored value."""
    row = get_client(client_id)
    data = {key: value for key, value in data.items() if key != "kind"}
    errors = _check(data, creating=False)
    if "name" in data and not errors.get("name"):
        data["name"] = data["name"].strip()
        _check_name(data["name"], exclude_id=row.id)
    if "settings" in data:
        try:
            data["settings"] = integrations.clean_settings(CATEGORY, row.kind, data["settings"] or {},
                                                           old=row.settings)
        except InvalidFields as exc:
            errors.update(exc.details)
    if errors:
        raise InvalidFields(errors)
    if "settings" in data or "category" in data:
        settings = dict(data.get("settings", row.settings) or {})
        columns = {"category": data["category"]} if "category" in data else {}
        _sync_category(row.kind, columns, settings)
        data = {**data, **columns, "settings": settings}
    for key, value in data.items():
        if key in COLUMNS or key == "settings":
            setattr(row, key, value)
    db.session.commit()
    return row


def delete_client(client_id: int) -> None:
    """Remove the client; its downloads stay in the history."""
    db.session.delete(get_client(client_id))
    db.session.commit()


def test_client(client_id: int) -> TestResult:
    """Check the stored settings against the real client."""
    row = get_client(client_id)
    return run_test(CATEGORY, row.kind, row.settings or {}, row.name)


def test_settings(kind: str, settings: Mapping[str, Any], client_id: int | None = None) -> TestResult:
    """Check settings not saved yet (a form's "Test"). Editing a saved client,
    its stored secrets stand in for the masked or empty ones; settings that
    cannot be used are refused with ``InvalidFields`` before any connection."""
    old = get_client(client_id).settings if client_id else None
    cleaned = integrations.clean_settings(CATEGORY, kind, settings, old=old)
    return run_test(CATEGORY, kind, cleaned, "test")


# --- what the clients hold, across all of them (/api/v1/downloader/items) ---------

def all_items() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every item of every enabled client; a client that cannot be reached is
    named in the errors and the others are still listed."""
    items, errors = [], {}
    rows = db.session.execute(db.select(DownloadClientConfig)
                              .where(DownloadClientConfig.enabled.is_(True))
                              .order_by(DownloadClientConfig.priority, DownloadClientConfig.id)).scalars()
    for row in rows:
        try:
            found = downloads.client_items(row.id)
        except DomainError as exc:
            errors[row.name] = exc.message
            continue
        except Exception as exc:  # settings the plugin cannot use: still list the others
            errors[row.name] = f"{type(exc).__name__}: {exc}"
            continue
        items += [{**item, "client_id": row.id, "client": row.name} for item in found]
    return items, errors


def _find_untracked(item_id: str) -> tuple[DownloadClientConfig, Any] | None:
    for row in db.session.execute(db.select(DownloadClientConfig)
                                  .where(DownloadClientConfig.enabled.is_(True))).scalars():
        try:
            client = downloads.client_instance(row)
            if client.status([item_id]):
                return row, client
        except Exception:  # an unreachable client cannot be the one holding it
            continue
    return None


def act(action: str, ids: list[str], delete_files: bool = False) -> dict[str, Any]:
    """Pause, resume or delete client items by the clients' ids."""
    done, not_found, errors = [], [], {}
    for item_id in dict.fromkeys(ids):
        tracked = db.session.execute(
            db.select(Download).where(db.func.lower(Download.client_item_id) == item_id.lower())
            .order_by(Download.id.desc()).limit(1)).scalar()
        try:
            if tracked is not None and tracked.client_id is not None:
                if action == "delete":
                    downloads.remove(tracked.id, delete_files)
                else:
                    getattr(downloads, action)(tracked.id)
            else:
                holder = _find_untracked(item_id)
                if holder is None:
                    not_found.append(item_id)
                    continue
                row, client = holder
                if action == "delete":
                    downloads._call(row, "remove", client.remove, item_id, delete_files)
                else:
                    downloads._call(row, action, getattr(client, action), item_id)
        except DomainError as exc:
            errors[item_id] = exc.message
            continue
        except Exception as exc:  # a plugin that cannot even be built for its settings
            errors[item_id] = f"{type(exc).__name__}: {exc}"
            continue
        done.append(item_id)
    if not done and not errors:
        raise NotFound("No download client holds " + ", ".join(not_found))
    return {"done": done, "not_found": not_found, "errors": errors}
