"""Configured integrations: from a config row to a plugin instance.

Indexers, download clients, notifiers and metadata providers are plugin
classes found by ``kind``; the user configures instances of them (rows of
``indexers``, ``download_clients``, ``notification_targets``; metadata
providers are configured by settings). This module is the one place that
joins the two, so every caller builds an instance the same way and with the
same context.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, TypeVar

from flask import current_app

from .. import __version__
from ..cluster.limits import DatabaseRateLimits
from ..errors import BadRequest, NotFound
from ..extensions import db
from ..hookspecs import Integration, IntegrationContext
from ..plugins import PluginRegistry

T = TypeVar("T", bound=Integration)


class UnknownKind(BadRequest):
    code = "unknown_kind"


class IntegrationUnavailable(NotFound):
    code = "integration_unavailable"


def registry() -> PluginRegistry:
    return current_app.extensions["comicsrv.plugins"]


def kinds(category: str) -> dict[str, type[Integration]]:
    """Implementation classes of one category ("indexer", "download_client",
    "notifier", "metadata") by ``kind``."""
    return registry().integrations(category)


def context_for(category: str, name: str) -> IntegrationContext:
    """The context of one configured instance: its own cache folder, and the
    quotas every process of the deployment shares."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:100] or "_"
    cache_dir = os.path.join(current_app.config["CACHE_DIR"], "integrations", category, safe)
    return IntegrationContext(
        cache_dir=cache_dir,
        user_agent=f"comicsrv/{__version__}",
        timeout=float(current_app.config.get("INTEGRATION_TIMEOUT_SECONDS", 30)),
        rate_limits=rate_limits(),
    )


def rate_limits() -> DatabaseRateLimits:
    """The app's quota keeper (one per app: it holds the engine, and is used
    from plugin threads that have no app context)."""
    extensions = current_app.extensions
    limits = extensions.get("comicsrv.rate_limits")
    if limits is None:
        limits = extensions["comicsrv.rate_limits"] = DatabaseRateLimits(db.engine)
    return limits


def build(category: str, kind: str, settings: Mapping[str, Any], *, name: str | None = None) -> Integration:
    """An instance of ``kind`` with ``settings``; 400 for a kind no plugin provides."""
    classes = kinds(category)
    cls = classes.get(kind)
    if cls is None:
        known = ", ".join(sorted(classes)) or "none"
        raise UnknownKind(f"no {category.replace('_', ' ')} plugin provides {kind!r} (known: {known})")
    return cls(settings, context_for(category, name or kind))


def instance_for(category: str, row: Any) -> Integration:
    """The plugin instance for a config row (IndexerConfig, DownloadClientConfig,
    NotificationTarget): its ``kind``, ``settings`` and ``name``."""
    return build(category, row.kind, row.settings or {}, name=row.name)


def secret_fields(category: str, kind: str) -> set[str]:
    """Names of the settings of ``kind`` that are secrets (type "password" or
    marked ``"secret": True``, such as Apprise URLs with tokens), which the
    API never returns."""
    cls = kinds(category).get(kind)
    fields = getattr(cls, "settings_fields", []) if cls else []
    return ({f["name"] for f in fields if f.get("type") == "password" or f.get("secret")}
            | {"api_key", "password", "apikey"})
