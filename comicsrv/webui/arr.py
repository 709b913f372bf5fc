"""What the *arr pages (Series, Wanted, Activity, Settings, System) share:
their permission, reading typed values out of HTML forms with an error per
field, flash messages after a redirect, and their places in the navigation.

Forms are plain HTML: every value arrives as text. ``FormReader`` turns the
text into the types the services take (numbers, lists, flags) and collects
what cannot be read as errors keyed by the input's name; a service's own
``InvalidFields`` errors use the same keys, so a page shows both next to
their fields in one pass, and saves nothing while any is left.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from flask import flash, get_flashed_messages, render_template, request
from werkzeug.datastructures import MultiDict

from ..api.pagination import Paging, lenient_paging
from ..errors import BadRequest, DomainError
from ..redact import mask_text
from . import blp
from .shell import NavItem, add_nav

ADMIN = "SystemAdmin"
PAGE_SIZE = 50
MB = 1024 * 1024

# Sections of the *arr side, in Sonarr's order, before the library's "Libraries".
for _item in (
    NavItem("Series", "web.watchlist", ADMIN,
            prefixes=("web.watch", "web.issue_", "web.interactive_", "web.grab_")),
    NavItem("Wanted", "web.wanted", ADMIN, prefixes=("web.wanted", "web.upcoming")),
    NavItem("Activity", "web.activity", ADMIN,
            prefixes=("web.activity", "web.history", "web.blocklist", "web.download_")),
    NavItem("Settings", "web.settings", ADMIN, prefixes=("web.settings",)),
    NavItem("System", "web.system", ADMIN, prefixes=("web.system", "web.wizard")),
):
    add_nav(_item, before="web.libraries")


@blp.record_once
def _flash_cookie(state) -> None:
    """Flash messages ride in Flask's signed session cookie: name it as ours
    and keep it same-site like the session cookie."""
    config = state.app.config
    if config.get("SESSION_COOKIE_NAME") in (None, "session"):
        config["SESSION_COOKIE_NAME"] = "comicsrv_flash"
    config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    if config.get("SESSION_COOKIE_SAMESITE") is None:
        config["SESSION_COOKIE_SAMESITE"] = "Lax"


@blp.app_context_processor
def _flash_context() -> dict[str, Any]:
    if request.blueprint != "web":
        return {}
    return {"flashed": lambda: get_flashed_messages(with_categories=True)}


def done(message: str, category: str = "ok") -> None:
    """A message for the page the redirect leads to."""
    flash(message, category)


class FormReader:
    """Typed values out of ``request.form`` (or ``form``), with errors by
    input name."""

    def __init__(self, form: MultiDict | None = None):
        self.form = form if form is not None else request.form
        self.errors: dict[str, str] = {}

    def text(self, name: str, *, required: bool = False, label: str | None = None,
             max_length: int = 1000) -> str | None:
        value = (self.form.get(name) or "").strip()
        if not value:
            if required:
                self.errors[name] = f"{label or name.capitalize()} is required"
            return None
        if len(value) > max_length or "\x00" in value:
            self.errors[name] = f"{label or name.capitalize()} is at most {max_length} characters"
            return None
        return value

    def integer(self, name: str, *, low: int | None = None, high: int | None = None,
                required: bool = False, label: str | None = None) -> int | None:
        raw = (self.form.get(name) or "").strip()
        what = label or name.replace("_", " ").capitalize()
        if not raw:
            if required:
                self.errors[name] = f"{what} is required"
            return None
        try:
            value = int(raw)
        except ValueError:
            self.errors[name] = f"{what} must be a whole number, not {raw[:40]!r}"
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.errors[name] = f"{what} must be between {low} and {high}"
            return None
        return value

    def megabytes(self, name: str, label: str) -> int | None:
        """A size typed in MB, as bytes."""
        raw = (self.form.get(name) or "").strip()
        if not raw:
            return None
        try:
            value = float(raw.replace(",", "."))
        except ValueError:
            self.errors[name] = f"{label} must be a number of MB, not {raw[:40]!r}"
            return None
        if not math.isfinite(value) or value < 0 or value > 10**7:
            self.errors[name] = f"{label} must be between 0 and 10,000,000 MB"
            return None
        return int(value * MB)

    def flag(self, name: str) -> bool:
        return self.form.get(name) in ("on", "true", "1", "yes")

    def lines(self, name: str, *, max_items: int = 100) -> list[str]:
        """One value per line (commas separate too)."""
        raw = self.form.get(name) or ""
        values = [part.strip() for line in raw.splitlines() for part in line.split(",")]
        values = [v for v in values if v]
        if len(values) > max_items:
            self.errors[name] = f"At most {max_items} entries"
        return values[:max_items]

    def choice(self, name: str, choices: Iterable[str], *, default: str | None = None,
               label: str | None = None) -> str | None:
        value = self.form.get(name) or default
        choices = tuple(choices)
        if value not in choices:
            self.errors[name] = f"{label or name.capitalize()} is one of {', '.join(choices)}"
            return None
        return value

    def fail_if_errors(self) -> None:
        if self.errors:
            raise FormErrors(self.errors)


class FormErrors(BadRequest):
    """Form values that cannot be read; ``details`` maps input names to
    messages (the same shape as ``integrations.InvalidFields``)."""

    code = "invalid_fields"

    def __init__(self, errors: Mapping[str, str]):
        super().__init__("Nothing was saved: correct the fields marked below.",
                         details=dict(errors))


def field_errors(exc: DomainError) -> dict[str, str]:
    """The per-field errors of a refusal (empty when it names no field)."""
    return dict(exc.details) if isinstance(exc.details, dict) and all(
        isinstance(v, str) for v in exc.details.values()) else {}


def page_with_errors(template: str, exc: DomainError, **context: Any):
    """The form's page again, with the refusal's message on top and its
    field errors next to the fields; nothing was saved."""
    errors = field_errors(exc)
    html = render_template(template, errors=errors, error=exc.message, **context)
    return html, exc.status


def integration_form(specs: list[dict[str, Any]], form: MultiDict | None = None,
                     reader: FormReader | None = None) -> dict[str, Any]:
    """A plugin's settings (``settings.<name>`` inputs) as typed values:
    lists one per line, mappings ``Name: value`` per line, numbers as numbers,
    check boxes as flags. Unreadable values become ``reader`` errors."""
    reader = reader or FormReader(form)
    form = reader.form
    values: dict[str, Any] = {}
    for spec in specs:
        name = spec["name"]
        key = f"settings.{name}"
        kind = spec.get("type") or "text"
        raw = form.get(key)
        if kind == "boolean":
            values[name] = reader.flag(key)
        elif kind == "list":
            # A text area (one per line) or a group of check boxes (one each).
            values[name] = [line.strip() for text in form.getlist(key)
                            for line in (text or "").splitlines() if line.strip()]
        elif kind == "mapping":
            mapping, bad = {}, None
            for line in (raw or "").splitlines():
                if not line.strip():
                    continue
                header, colon, value = line.partition(":")
                if not colon or not header.strip():
                    bad = line.strip()
                    break
                mapping[header.strip()] = value.strip()
            if bad is not None:
                reader.errors[key] = f"Write one 'Name: value' per line, not {bad[:40]!r}"
            values[name] = mapping
        elif kind == "number":
            text = (raw or "").strip()
            if text:
                try:
                    values[name] = int(text) if text.lstrip("-").isdigit() else float(text)
                except ValueError:
                    reader.errors[key] = f"{spec.get('label') or name} must be a number"
        else:
            values[name] = (raw or "").strip()
    return values


def page_args(page_size: int = PAGE_SIZE) -> tuple[int, int]:
    """``page`` from the query (1 when absent or garbled) and the page size."""
    at = lenient_paging(request.args, size=page_size)
    return at.page, at.size


def pages(total: int, page_size: int = PAGE_SIZE) -> int:
    return Paging(1, page_size).pages(total)


@blp.app_template_filter("masked")
def masked(text: str | None) -> str:
    """Text with any secret in it (a feed URL's ``apikey=``) masked."""
    return mask_text(text) if text else ""


@blp.app_template_filter("zip_labels")
def zip_labels(values: Iterable[str], labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """``[(value, label)]`` for a select, a value its own label when unnamed."""
    return [(value, labels.get(value, value)) for value in values]
