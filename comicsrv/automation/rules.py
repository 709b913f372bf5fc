"""Release rules: what AutoBangumi calls a bangumi rule is, for comics, a
watched series' matching settings (aliases, include and exclude terms, the
issue-number offset, preferred formats, size limits, annuals) and whether it
is monitored. Deleting a rule stops watching the series (files are kept
unless asked), exactly as removing it from the watchlist does.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import BadRequest, NotFound
from ..extensions import db
from ..models.automation import MONITORED, PAUSED, WatchedSeries

# Matching settings and their defaults (what a freshly added series has).
MATCHING_DEFAULTS: dict[str, Any] = {
    "aliases": None, "include_terms": None, "exclude_terms": None, "issue_offset": 0,
    "formats": None, "min_size": None, "max_size": None, "want_annuals": False,
}
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns
RULE_FIELDS = (*MATCHING_DEFAULTS, "status", "monitor_new")


def get_rule(series_id: int) -> WatchedSeries:
    row = db.session.get(WatchedSeries, series_id) if 0 < series_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No release rule (watched series) {series_id}")
    return row


def _rules(ids: Iterable[int]) -> list[WatchedSeries]:
    return [get_rule(series_id) for series_id in dict.fromkeys(ids)]


def _clean_terms(values: list[str] | None) -> list[str] | None:
    """Trimmed, without blanks or repeats (case-insensitive); empty is None."""
    if values is None:
        return None
    seen, kept = set(), []
    for value in values:
        value = value.strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept or None


def update_rule(series_id: int, changes: dict[str, Any]) -> WatchedSeries:
    row = get_rule(series_id)
    for key in ("aliases", "include_terms", "exclude_terms"):
        if key in changes:
            changes[key] = _clean_terms(changes[key])
    if "formats" in changes and changes["formats"] is not None:
        changes["formats"] = list(dict.fromkeys(f.lower() for f in changes["formats"])) or None
    min_size = changes.get("min_size", row.min_size)
    max_size = changes.get("max_size", row.max_size)
    if min_size is not None and max_size is not None and min_size > max_size:
        raise BadRequest("min_size is larger than max_size", code="invalid_size_range")
    for key in RULE_FIELDS:
        if key in changes:
            setattr(row, key, changes[key])
    db.session.commit()
    return row


def set_status(ids: Iterable[int], enabled: bool) -> list[WatchedSeries]:
    rows = _rules(ids)
    for row in rows:
        row.status = MONITORED if enabled else PAUSED
    db.session.commit()
    return rows


def reset(series_id: int) -> WatchedSeries:
    """Matching settings back to their defaults; the status stays."""
    row = get_rule(series_id)
    for key, value in MATCHING_DEFAULTS.items():
        setattr(row, key, value)
    db.session.commit()
    return row


def delete_rules(ids: Iterable[int], delete_files: bool = False) -> list[dict[str, Any]]:
    """Stop watching the series (all must exist, or none is removed)."""
    from .watchlist import remove_series

    rows = _rules(ids)
    return [remove_series(row.id, delete_files=delete_files) for row in rows]


def delete_all(delete_files: bool = False) -> list[dict[str, Any]]:
    """AutoBangumi's "reset all": stop watching every series (their files
    stay unless ``delete_files``)."""
    from .watchlist import remove_series

    ids = list(db.session.scalars(db.select(WatchedSeries.id).order_by(WatchedSeries.id)))
    return [remove_series(series_id, delete_files=delete_files) for series_id in ids]
