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
from urllib.parse import urlsplit

from flask import current_app

from .. import __version__, services
from ..cluster.limits import DatabaseRateLimits
from ..errors import BadRequest, DomainError, NotFound
from ..extensions import db
from ..hookspecs import Integration, IntegrationContext, IntegrationError, TestResult
from ..plugins import PluginRegistry
from ..redact import MASK as REDACTED, MaskedSecretMissing, mask_text, unmask_url

T = TypeVar("T", bound=Integration)


class UnknownKind(BadRequest):
    code = "unknown_kind"


class IntegrationUnavailable(NotFound):
    code = "integration_unavailable"


def registry() -> PluginRegistry:
    return services.plugins()


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


# --- configured rows: settings checked, secrets masked, tests ---------------------
# Shared by the services of indexers, download clients and notification
# targets (and the pages and APIs on top of them), so each category checks
# its plugin's settings the same way.

MASK = REDACTED  # what every secret shows as, here and in logs
FIELD_TYPES = ("url", "text", "password", "number", "list", "choice", "path", "mapping",
               "boolean")
MAX_SETTING_TEXT = 4000


class InvalidFields(BadRequest):
    """Values that cannot be saved; ``details`` maps each field (``name``,
    ``settings.url`` ...) to what is wrong with it, for the page to show
    next to the field."""

    code = "invalid_fields"

    def __init__(self, errors: Mapping[str, str]):
        summary = "; ".join(f"{key}: {message}" for key, message in errors.items())
        super().__init__(f"Nothing was saved: {summary}", details=dict(errors))


def field_specs(category: str, kind: str) -> list[dict[str, Any]]:
    """The documented settings of ``kind`` (see ``Integration.settings_fields``)."""
    cls = kinds(category).get(kind)
    return [dict(spec) for spec in getattr(cls, "settings_fields", [])] if cls else []


def masked_settings(category: str, kind: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` with every secret that is set replaced by ``MASK``, and
    secrets inside other text (a URL's ``user:password@`` or ``apikey=``)
    masked in place."""
    secrets = secret_fields(category, kind)
    return {key: (MASK if key in secrets and value not in (None, "", [], {}) else
                  mask_text(value) if isinstance(value, str) else value)
            for key, value in (settings or {}).items()}


def _kept_secret_in_text(value: Any, old: Any) -> Any:
    """Text sent back as it was shown (a URL with its secrets masked in
    place) keeps the stored secrets in it; a mask with nothing stored behind
    it is a 400."""
    if isinstance(value, str) and MASK in value:
        try:
            return unmask_url(value, old if isinstance(old, str) else None)
        except MaskedSecretMissing as exc:
            raise BadRequest(str(exc), code="masked_secret") from None
    return value


def _clean_value(spec: Mapping[str, Any], value: Any) -> Any:
    """One setting as stored, or ``ValueError`` saying why not."""
    kind = spec.get("type") or "text"
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if kind == "list":
        if isinstance(value, str):
            value = [part for part in value.replace(",", "\n").splitlines()]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise ValueError("must be a list")
        cleaned = [str(v).strip() if isinstance(v, str) else v for v in value]
        return [v for v in cleaned if v != ""]
    if kind == "mapping":
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError("must be names with text values")
        return value
    if not isinstance(value, str):
        raise ValueError("must be text")
    value = value.strip()
    if len(value) > MAX_SETTING_TEXT or "\x00" in value:
        raise ValueError(f"must be at most {MAX_SETTING_TEXT} characters of text")
    if kind == "url" and value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// address")
    if kind == "choice" and value and spec.get("choices") and value not in spec["choices"]:
        raise ValueError(f"must be one of {', '.join(map(str, spec['choices']))}")
    if kind == "path" and value and not os.path.isabs(value):
        raise ValueError("must be an absolute path")
    return value


def clean_settings(category: str, kind: str, values: Mapping[str, Any],
                   old: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings to store for ``kind``: each documented field checked
    against its type, required fields present, a secret sent back empty or
    as ``MASK`` kept from ``old``. Settings the plugin does not document are
    kept as they are (Prowlarr's ``host``, a plugin's extra switches).
    Raises :class:`InvalidFields` naming every bad field as ``settings.<name>``."""
    old = dict(old or {})
    secrets = secret_fields(category, kind)
    specs = {spec["name"]: spec for spec in field_specs(category, kind)}
    cleaned: dict[str, Any] = {key: _kept_secret_in_text(value, old.get(key))
                               for key, value in values.items() if key not in specs}
    errors: dict[str, str] = {}
    for name, spec in specs.items():
        value = _kept_secret_in_text(values.get(name), old.get(name))
        if name in secrets and value in (None, "", MASK, [], {}) and old.get(name) not in (None, ""):
            cleaned[name] = old[name]
            continue
        if name in secrets and value == MASK:  # shown masked, but nothing stored behind it
            raise BadRequest(f"settings.{name} is masked and no stored value replaces it; "
                             "send the real value", code="masked_secret")
        if value in (None, "", [], {}):
            if spec.get("required"):
                errors[f"settings.{name}"] = f"{spec.get('label') or name} is required"
            continue
        try:
            cleaned[name] = _clean_value(spec, value)
        except ValueError as exc:
            errors[f"settings.{name}"] = f"{spec.get('label') or name} {exc}"
            continue
        if spec.get("required") and cleaned[name] in ("", []):
            errors[f"settings.{name}"] = f"{spec.get('label') or name} is required"
    if errors:
        raise InvalidFields(errors)
    return cleaned


def check_common(data: Mapping[str, Any], *, creating: bool) -> dict[str, str]:
    """Field errors of the columns every configured row has: a name and a
    priority of 1 (first) to 50."""
    errors: dict[str, str] = {}
    if creating or "name" in data:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            errors["name"] = "A name is required"
        elif len(name.strip()) > 200 or any(ord(c) < 32 for c in name):
            errors["name"] = "A name is at most 200 characters of plain text"
    if "priority" in data:
        priority = data["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 50:
            errors["priority"] = "The priority is a whole number from 1 (first) to 50"
    return errors


def name_taken(model: Any, name: str, exclude_id: int | None = None) -> bool:
    from ..extensions import db

    taken = db.session.execute(db.select(model.id).where(model.name == name)).scalar()
    return taken is not None and taken != exclude_id


def run_test(category: str, kind: str, settings: Mapping[str, Any],
             name: str = "test") -> TestResult:
    """A plugin's own check of ``settings``; a plugin that cannot even be
    built, or fails in any way, is a failed check with its reason, never an
    error (an unknown kind is still a 400)."""
    try:
        return build(category, kind, settings, name=name).test()
    except DomainError:
        raise
    except IntegrationError as exc:
        return TestResult(False, str(exc) or type(exc).__name__)
    except Exception as exc:  # a plugin's bug is still a failed check for the user
        return TestResult(False, f"{type(exc).__name__}: {exc}")
