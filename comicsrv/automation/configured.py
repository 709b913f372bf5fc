"""What every configured integration row shares: its settings shown with
secrets masked, settings sent back with the mask kept as stored, a unique
name, and a check through the plugin's own ``test()``.

Indexers, notification targets and sync integrations are rows with a
plugin ``kind`` and a ``settings`` mapping (``IntegrationMixin``); their
services (``indexers``, ``notification_targets``, ``sync``) build on these
helpers so each applies the same rules.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import BadRequest, Conflict, DomainError
from ..extensions import db
from ..hookspecs import IntegrationError, TestResult
from ..redact import MASK, MaskedSecretMissing, mask_text, unmask_url
from . import integrations


def masked_settings(category: str, kind: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Secret fields as the mask; secrets inside other text (a URL's
    ``user:password@`` or ``apikey=``) masked in place; lists of such text
    (Apprise URLs) item by item."""
    secrets = integrations.secret_fields(category, kind)

    def shown(key: str, value: Any) -> Any:
        if key in secrets and value:
            return MASK
        if isinstance(value, str):
            return mask_text(value)
        if isinstance(value, list):
            return [mask_text(v) if isinstance(v, str) else v for v in value]
        return value

    return {key: shown(key, value) for key, value in (settings or {}).items()}


def _kept(key: str, value: Any, old: Any) -> Any:
    if value == MASK:
        if old in (None, ""):
            raise BadRequest(f"settings.{key}: {MASK} stands for a stored secret, and none is "
                             "stored; send the value itself", code="masked_secret")
        return old
    if isinstance(value, str) and MASK in value:
        try:
            return unmask_url(value, old if isinstance(old, str) else None)
        except MaskedSecretMissing as exc:
            raise BadRequest(f"settings.{key}: {exc}", code="masked_secret") from None
    return value


def merged_settings(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
    """``new`` replaces the stored settings whole, except that a value sent
    back as it was shown (masked) keeps the stored secret; a list sent back
    keeps the stored items it shows masked, position by position. A mask
    with no stored secret behind it is a 400."""
    old = old or {}
    merged = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, list):
            before = before if isinstance(before, list) else []
            merged[key] = [_kept(key, item, before[i] if i < len(before) else None)
                           for i, item in enumerate(value)]
        else:
            merged[key] = _kept(key, value, before)
    return merged


def check_name_free(model: type, name: str, exclude_id: int | None = None,
                    what: str = "integration") -> None:
    taken = db.session.execute(db.select(model.id).where(model.name == name)).scalar()
    if taken is not None and taken != exclude_id:
        raise Conflict(f"A {what} named {name!r} exists already", code="name_taken")


def kind_class(category: str, kind: str) -> type:
    """The plugin class of ``kind``; the clear 400 when no plugin provides it."""
    cls = integrations.kinds(category).get(kind)
    if cls is None:
        integrations.build(category, kind, {})  # raises UnknownKind, naming the known ones
    return cls


def check_settings(category: str, kind: str, settings: Mapping[str, Any]) -> None:
    """The settings the plugin declares required are there and not blank,
    and the plugin accepts them when built (an RSS feed's protocol): a 400
    naming what is wrong now, not a failed call later."""
    cls = kind_class(category, kind)
    missing = [f["name"] for f in getattr(cls, "settings_fields", [])
               if f.get("required") and settings.get(f["name"]) in (None, "", [], {})]
    if missing:
        raise BadRequest(f"settings: {', '.join(missing)} required for {kind}",
                         code="invalid_settings", details={"missing": missing})
    try:
        integrations.build(category, kind, dict(settings))
    except (IntegrationError, ValueError) as exc:
        raise BadRequest(f"settings: {mask_text(str(exc))}", code="invalid_settings") from None


def run_test(category: str, kind: str, settings: Mapping[str, Any],
             name: str = "test") -> TestResult:
    """A plugin's own check of ``settings``. A plugin that cannot even be
    built for them, or fails in any way, is a failed check (``ok`` false and
    why, secrets masked), never an error; only an unknown kind is a 400."""
    try:
        result = integrations.build(category, kind, dict(settings), name=name).test()
    except DomainError:
        raise
    except IntegrationError as exc:
        return TestResult(False, mask_text(str(exc)))
    except Exception as exc:  # a plugin's bug is still a failed check for the user
        return TestResult(False, mask_text(f"{type(exc).__name__}: {exc}"))
    return TestResult(bool(result.ok), mask_text(result.message or ""))
