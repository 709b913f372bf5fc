"""Configured indexers: add, change, remove and check them, and read the
categories an indexer offers from its capabilities.

An indexer is an ``IndexerConfig`` row naming a plugin ``kind`` (newznab,
torznab, rss ...). Those Prowlarr syncs through the Mylar command API carry
``managed_by="prowlarr"``; they can be changed here like any other, but
Prowlarr's next sync writes its own values back, which the pages say.
Changing an indexer gives it a fresh start: a back-off from earlier errors
ends, as when Prowlarr fixes one.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import Conflict, NotFound, Unavailable
from ..extensions import db
from ..hookspecs import Indexer, IntegrationError, TestResult
from ..models.automation import IndexerConfig
from ..redact import mask_text
from . import integrations
from .integrations import InvalidFields

CATEGORY = "indexer"
MAX_ID = 2**31 - 1
RSS_KIND = "rss"
COLUMNS = ("name", "kind", "enabled", "priority", "enable_rss", "enable_search")
MANAGERS = {"prowlarr": "Prowlarr"}

__all__ = ["CATEGORY", "get_indexer", "list_indexers", "indexers_query", "capabilities", "create_indexer",
           "update_indexer", "delete_indexer", "test_indexer", "test_settings", "categories", "masked",
           "manager_label"]


class IndexerUnavailable(Unavailable):
    code = "indexer_unavailable"


def masked(row: IndexerConfig) -> dict[str, Any]:
    return integrations.masked_settings(CATEGORY, row.kind, row.settings)


def manager_label(row: IndexerConfig) -> str | None:
    """Who manages the row ("Prowlarr"), or None for one added here."""
    if not row.managed_by:
        return None
    return MANAGERS.get(row.managed_by, row.managed_by)


def get_indexer(indexer_id: int) -> IndexerConfig:
    row = db.session.get(IndexerConfig, indexer_id) if 0 < indexer_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No indexer {indexer_id}")
    return row


def list_indexers(*, feeds: bool = False) -> list[IndexerConfig]:
    """Indexers by priority; plain RSS feeds only when ``feeds`` (they have
    their own page, as AutoBangumi keeps them)."""
    query = db.select(IndexerConfig).order_by(IndexerConfig.priority, IndexerConfig.id)
    if not feeds:
        query = query.where(IndexerConfig.kind != RSS_KIND)
    return list(db.session.execute(query).scalars())


def indexers_query(kind: str | None = None, enabled: bool | None = None):
    """Every indexer and feed by priority (1 first), then name: the
    ``/api/v1/indexers`` list, filtered by kind and state."""
    query = db.select(IndexerConfig).order_by(IndexerConfig.priority, IndexerConfig.name,
                                              IndexerConfig.id)
    if kind is not None:
        query = query.where(IndexerConfig.kind == kind)
    if enabled is not None:
        query = query.where(IndexerConfig.enabled.is_(enabled))
    return query


def _protocol(cls: type | None, settings: Mapping[str, Any]) -> str:
    if cls is not None and getattr(cls, "kind", None) == RSS_KIND:
        return str(settings.get("protocol") or "torrent")
    return getattr(cls, "protocol", "usenet")


def _clean(kind: str, settings: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
    cleaned = integrations.clean_settings(CATEGORY, kind, settings, old=old)
    categories = cleaned.get("categories")
    if categories:
        numbers = []
        parts = [part for value in categories for part in str(value).split(",")]
        for text in (part.strip() for part in parts if part.strip()):
            if not text.isdigit() or len(text) > 9:
                raise InvalidFields({"settings.categories":
                                     f"Categories are category numbers such as 7030, not {text!r}"})
            numbers.append(int(text))
        cleaned["categories"] = list(dict.fromkeys(numbers))
    return cleaned


def _check_name(name: str, exclude_id: int | None = None) -> None:
    if integrations.name_taken(IndexerConfig, name, exclude_id):
        raise Conflict(f"An indexer or feed named {name!r} exists already", code="name_taken")


def _flags(data: Mapping[str, Any]) -> dict[str, str]:
    return {key: "Must be true or false" for key in ("enabled", "enable_rss", "enable_search")
            if key in data and not isinstance(data[key], bool)}


def create_indexer(data: Mapping[str, Any]) -> IndexerConfig:
    """Add an indexer of a kind a plugin provides; its protocol is the
    plugin's (an RSS feed's is in its settings)."""
    data = dict(data)
    cls = integrations.kinds(CATEGORY).get(data.get("kind") or "")
    if cls is None:
        integrations.build(CATEGORY, str(data.get("kind") or ""), {})  # the clear 400
    errors = {**integrations.check_common(data, creating=True), **_flags(data)}
    if not errors:
        data["name"] = data["name"].strip()
        _check_name(data["name"])
    try:
        settings = _clean(data["kind"], data.get("settings") or {}, None)
    except InvalidFields as exc:
        errors.update(exc.details)
        settings = {}
    if errors:
        raise InvalidFields(errors)
    values = {key: data[key] for key in COLUMNS if key in data and data[key] is not None}
    row = IndexerConfig(**values, settings=settings, protocol=_protocol(cls, settings))
    if data["kind"] == RSS_KIND:
        row.enable_search = False  # a feed has nothing to search
    db.session.add(row)
    db.session.commit()
    return row


def update_indexer(indexer_id: int, data: Mapping[str, Any]) -> IndexerConfig:
    """Change an indexer; settings are replaced whole (secrets sent back
    masked or empty keep their value). Its back-off ends."""
    row = get_indexer(indexer_id)
    data = {key: value for key, value in data.items() if key != "kind"}
    errors = {**integrations.check_common(data, creating=False), **_flags(data)}
    if "name" in data and not errors.get("name"):
        data["name"] = data["name"].strip()
        _check_name(data["name"], exclude_id=row.id)
    if "settings" in data:
        try:
            data["settings"] = _clean(row.kind, data["settings"] or {}, row.settings)
        except InvalidFields as exc:
            errors.update(exc.details)
    if errors:
        raise InvalidFields(errors)
    for key, value in data.items():
        if key in COLUMNS or key == "settings":
            setattr(row, key, value)
    if "settings" in data:
        row.protocol = _protocol(integrations.kinds(CATEGORY).get(row.kind), row.settings)
    row.failure_count, row.disabled_until, row.last_error = 0, None, None
    db.session.commit()
    return row


def delete_indexer(indexer_id: int) -> None:
    """Remove the indexer with the feed items it held (its decisions and
    downloads stay in the history)."""
    db.session.delete(get_indexer(indexer_id))
    db.session.commit()


def test_indexer(indexer_id: int) -> TestResult:
    row = get_indexer(indexer_id)
    result = integrations.run_test(CATEGORY, row.kind, row.settings or {}, row.name)
    row.last_error = None if result.ok else result.message[:2000]
    if result.ok:  # the user fixed what was wrong: use it again at once
        row.failure_count, row.disabled_until = 0, None
    db.session.commit()
    return result


def test_settings(kind: str, settings: Mapping[str, Any], indexer_id: int | None = None) -> TestResult:
    """Check settings not saved yet; a saved indexer's secrets stand in for
    masked or empty ones."""
    old = get_indexer(indexer_id).settings if indexer_id else None
    return integrations.run_test(CATEGORY, kind, _clean(kind, settings, old), "test")


def categories(kind: str, settings: Mapping[str, Any],
               indexer_id: int | None = None) -> dict[str, Any]:
    """The categories the indexer offers (``t=caps``), those a comic search
    uses by default, and an ``error`` when the indexer cannot be asked."""
    old = get_indexer(indexer_id).settings if indexer_id else None
    cleaned = _clean(kind, settings, old)
    try:
        instance = integrations.build(CATEGORY, kind, cleaned, name="caps")
        if not isinstance(instance, Indexer):
            raise IntegrationError(f"{kind} is not an indexer")
        caps = instance.capabilities()
    except IntegrationError as exc:
        return {"categories": [], "comic_categories": [], "error": str(exc)}
    except Exception as exc:  # whatever a plugin raises, it is this indexer's failure
        return {"categories": [], "comic_categories": [], "error": f"{type(exc).__name__}: {exc}"}
    flat = []
    for category in caps.get("categories") or []:
        flat.append({"id": category.get("id"), "name": category.get("name") or ""})
        flat += [{"id": sub.get("id"), "name": f"{category.get('name')} / {sub.get('name')}"}
                 for sub in category.get("subcats") or []]
    return {"categories": [c for c in flat if c["id"] is not None],
            "comic_categories": list(caps.get("comic_categories") or []), "error": None}


def capabilities(indexer_id: int) -> dict[str, Any]:
    """A stored indexer's own capabilities (Newznab's ``t=caps``: limits,
    search functions, categories and the comic categories among them); a 503
    naming the indexer when it cannot be asked."""
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
