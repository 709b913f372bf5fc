"""Indexers kept in step by Prowlarr (its "Mylar" application): the
providers of Mylar's command API (``/api?cmd=addProvider`` ...).

A provider is a Newznab or Torznab ``IndexerConfig`` row marked
``managed_by="prowlarr"``, searched by the next search like any other.
Prowlarr's host is ``http://prowlarr:9696/<id>/api``: the indexer's URL is
the part before ``/api``, its API path ``/api``. A provider's API key is
listed masked (Prowlarr keeps its own copy and sends it again on every
change); a key sent back masked keeps the stored one.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..errors import BadRequest, Conflict, NotFound
from ..extensions import db
from ..models.automation import IndexerConfig
from ..redact import MASK, mask_url

PROVIDER_TYPES = {"newznab": "usenet", "torznab": "torrent"}
DEFAULT_CATEGORIES = [7030]
MANAGED_BY = "prowlarr"
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def parse_enabled(value: str | None) -> bool:
    """``true``/``false`` as Prowlarr sends them (and 1/0, yes/no, on/off);
    none means enabled."""
    if value is None or value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise BadRequest(f"enabled must be true or false, not {value!r}")


def parse_categories(value: str | None) -> list[int]:
    """Comma-separated Newznab categories; 7030 (comics) when none."""
    if not value or not value.strip():
        return list(DEFAULT_CATEGORIES)
    found = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 9:
            raise BadRequest(f"categories must be comma-separated numbers, not {value!r}")
        found.append(int(part))
    return found or list(DEFAULT_CATEGORIES)


def _settings(host: str, api_key: str | None, categories: str | None,
              old: dict[str, Any] | None = None) -> dict[str, Any]:
    host = host.rstrip("/")
    url, path = (host[:-4], "/api") if host.endswith("/api") else (host, "/api")
    settings = dict(old or {})
    settings.update({"url": url, "api_path": path, "host": host,
                     "categories": parse_categories(categories)})
    if api_key is not None and api_key != MASK:
        settings["api_key"] = api_key
    return settings


def get_provider(name: str, kind: str) -> IndexerConfig:
    row = db.session.execute(select(IndexerConfig).where(
        IndexerConfig.name == name, IndexerConfig.kind == kind)).scalar()
    if row is None:
        raise NotFound(f"No {kind} provider named {name!r}")
    return row


def list_providers() -> list[IndexerConfig]:
    """Every Newznab and Torznab indexer (Prowlarr's or not), oldest first."""
    return list(db.session.execute(select(IndexerConfig).where(
        IndexerConfig.kind.in_(tuple(PROVIDER_TYPES))).order_by(IndexerConfig.id)).scalars())


def listed(row: IndexerConfig) -> dict[str, Any]:
    """A provider as Mylar lists it: host and API key masked."""
    settings = row.settings or {}
    categories = settings.get("categories") or DEFAULT_CATEGORIES
    if isinstance(categories, str):
        categories = categories.split(",")
    host = settings.get("host") or (str(settings.get("url") or "").rstrip("/")
                                    + str(settings.get("api_path") or "/api"))
    return {"id": row.id, "name": row.name, "host": mask_url(host),
            "apikey": MASK if settings.get("api_key") else "",
            "categories": ",".join(str(c) for c in categories), "enabled": bool(row.enabled)}


def _name_free(name: str) -> None:
    if db.session.execute(select(IndexerConfig.id).where(IndexerConfig.name == name)).scalar() is not None:
        raise Conflict(f"A provider named {name!r} exists already")


def add_provider(name: str, kind: str, *, host: str, api_key: str | None = None,
                 enabled: str | None = None, categories: str | None = None) -> IndexerConfig:
    if kind not in PROVIDER_TYPES:
        raise BadRequest(f"providertype is one of {', '.join(PROVIDER_TYPES)}, not {kind!r}")
    _name_free(name)
    row = IndexerConfig(name=name, kind=kind, protocol=PROVIDER_TYPES[kind],
                        enabled=parse_enabled(enabled), managed_by=MANAGED_BY,
                        settings=_settings(host, api_key, categories))
    db.session.add(row)
    db.session.commit()
    return row


def change_provider(name: str, kind: str, *, host: str, new_name: str | None = None,
                    api_key: str | None = None, enabled: str | None = None,
                    categories: str | None = None) -> IndexerConfig:
    row = get_provider(name, kind)
    new_name = new_name or row.name
    if new_name != row.name:
        _name_free(new_name)
    row.name, row.enabled = new_name, parse_enabled(enabled)
    row.settings = _settings(host, api_key, categories, row.settings)
    # Prowlarr has fixed the indexer: give it its next chance at once.
    row.failure_count, row.disabled_until, row.last_error = 0, None, None
    db.session.commit()
    return row


def delete_provider(name: str, kind: str) -> None:
    db.session.delete(get_provider(name, kind))
    db.session.commit()
