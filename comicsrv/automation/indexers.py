"""Configured indexers (Newznab, Torznab, RSS feeds, any plugin's kind):
add, change, remove, test, and read their capabilities.

An indexer row is what ``search`` fans out to and ``check_rss`` reads. The
protocol (usenet or torrent) comes from the plugin (an RSS feed's from its
settings), never from the caller, so a Torznab indexer cannot be sent to a
usenet client. Changing an indexer's settings, or a passing test, ends the
back-off its errors started (``search._record_result``): the user fixed
what was wrong and expects it to be used again at once.
"""
from __future__ import annotations

from typing import Any

from ..errors import BadRequest, NotFound, Unavailable
from ..extensions import db
from ..hookspecs import IntegrationError, TestResult
from ..models.automation import IndexerConfig
from ..redact import mask_text
from . import configured, integrations

CATEGORY = "indexer"
MAX_ID = 2**31 - 1


class IndexerUnavailable(Unavailable):
    code = "indexer_unavailable"


def indexers_query(kind: str | None = None, enabled: bool | None = None):
    """Indexers by priority (1 first), then name."""
    query = db.select(IndexerConfig).order_by(IndexerConfig.priority, IndexerConfig.name,
                                              IndexerConfig.id)
    if kind is not None:
        query = query.where(IndexerConfig.kind == kind)
    if enabled is not None:
        query = query.where(IndexerConfig.enabled.is_(enabled))
    return query


def get_indexer(indexer_id: int) -> IndexerConfig:
    row = db.session.get(IndexerConfig, indexer_id) if 0 < indexer_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No indexer {indexer_id}")
    return row


def masked(row: IndexerConfig) -> dict[str, Any]:
    return configured.masked_settings(CATEGORY, row.kind, row.settings)


def _protocol(kind: str, settings: dict[str, Any]) -> str:
    """The protocol the plugin gives these settings; a plugin that refuses
    them (an RSS feed with an unknown protocol) is a 400 saying why."""
    try:
        instance = integrations.build(CATEGORY, kind, settings)
    except IntegrationError as exc:
        raise BadRequest(f"settings: {mask_text(str(exc))}", code="invalid_settings") from None
    return getattr(instance, "protocol", "usenet")


def create_indexer(data: dict[str, Any]) -> IndexerConfig:
    """``data``: name, kind, settings and optionally enabled, priority,
    enable_rss, enable_search."""
    settings = configured.merged_settings(data.get("settings") or {}, None)
    configured.check_settings(CATEGORY, data["kind"], settings)
    configured.check_name_free(IndexerConfig, data["name"], what="indexer")
    row = IndexerConfig(name=data["name"], kind=data["kind"], settings=settings,
                        protocol=_protocol(data["kind"], settings),
                        enabled=data.get("enabled", True), priority=data.get("priority", 25),
                        enable_rss=data.get("enable_rss", True),
                        enable_search=data.get("enable_search", True))
    db.session.add(row)
    db.session.commit()
    return row


def _clear_backoff(row: IndexerConfig) -> None:
    row.failure_count, row.disabled_until, row.last_error = 0, None, None


def update_indexer(indexer_id: int, data: dict[str, Any]) -> IndexerConfig:
    """Change what is sent; ``settings`` replace the stored ones whole, a
    masked secret sent back keeping the stored value."""
    row = get_indexer(indexer_id)
    if "name" in data:
        configured.check_name_free(IndexerConfig, data["name"], exclude_id=row.id, what="indexer")
    if "settings" in data:
        settings = configured.merged_settings(data["settings"], row.settings)
        configured.check_settings(CATEGORY, row.kind, settings)
        row.protocol = _protocol(row.kind, settings)
        row.settings = settings
        _clear_backoff(row)
    for key in ("name", "enabled", "priority", "enable_rss", "enable_search"):
        if key in data:
            setattr(row, key, data[key])
    if data.get("enabled") is True:
        _clear_backoff(row)
    db.session.commit()
    return row


def delete_indexer(indexer_id: int) -> None:
    """Remove an indexer; what its RSS checks saw goes with it, decisions and
    downloads keep its name."""
    db.session.delete(get_indexer(indexer_id))
    db.session.commit()


def test_settings(kind: str, settings: dict[str, Any], name: str = "test") -> TestResult:
    """Check settings before they are saved."""
    return configured.run_test(CATEGORY, kind, settings, name)


def test_indexer(indexer_id: int) -> TestResult:
    """Check a stored indexer against its service; a pass ends its back-off,
    a failure is recorded as its last error (it is not backed off: the
    scheduled calls decide that)."""
    row = get_indexer(indexer_id)
    result = configured.run_test(CATEGORY, row.kind, row.settings or {}, row.name)
    if result.ok:
        _clear_backoff(row)
    else:
        row.last_error = result.message[:5000]
    db.session.commit()
    return result


def capabilities(indexer_id: int) -> dict[str, Any]:
    """The indexer's own capabilities (Newznab's ``t=caps``: limits, search
    functions, categories and the comic categories among them)."""
    row = get_indexer(indexer_id)
    try:
        instance = integrations.instance_for(CATEGORY, row)
        caps = instance.capabilities()
    except IntegrationError as exc:
        raise IndexerUnavailable(f"{row.name}: {mask_text(str(exc))}") from None
    caps = dict(caps or {})
    for key, default in (("server", {}), ("limits", {"max": None, "default": None}),
                         ("searching", {}), ("categories", []), ("comic_categories", [])):
        caps.setdefault(key, default)
    return caps
