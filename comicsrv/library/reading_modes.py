"""How a user reads one series: page layout, direction and fit, remembered
per series (a manga read right to left, a webtoon scrolled, the rest
paged), falling back to the user's reader preferences.

Stored as one user-preference row per series (key ``reader.series:<id>``)
beside the keys of ``comicsrv.settings_store.PREFERENCES``, so deleting the
user deletes them and ``/api/v1/user/preferences`` keeps listing only the
documented keys.
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy.exc import IntegrityError

from ..errors import BadRequest
from ..extensions import db
from ..models import UserPreference, utcnow
from ..settings_store import get_preference

LAYOUTS = ("single", "double", "vertical")
DIRECTIONS = ("ltr", "rtl")
FITS = ("screen", "width", "height", "original")
CHOICES = {"layout": LAYOUTS, "direction": DIRECTIONS, "fit": FITS}
# ComicInfo's Manga value that means "read right to left".
MANGA_RTL = "yesandrighttoleft"


def _key(series_id: int) -> str:
    return f"reader.series:{series_id}"


def defaults(user_id: int, manga: str | None = None) -> dict[str, str]:
    """The user's reader preferences; a book tagged as right-to-left manga
    starts right to left."""
    direction = get_preference(user_id, "reader_direction")
    fit = get_preference(user_id, "reader_page_fit")
    settings = {"layout": "vertical" if direction == "vertical" else "single",
                "direction": "rtl" if direction == "rtl" else "ltr", "fit": fit}
    if (manga or "").replace(" ", "").lower() == MANGA_RTL:
        settings["direction"] = "rtl"
    return settings


def series_settings(user_id: int, series_id: int | None,
                    manga: str | None = None) -> dict[str, str]:
    """The settings a series is read with: what was saved for it over the defaults."""
    settings = defaults(user_id, manga)
    if series_id is not None:
        row = db.session.get(UserPreference, (user_id, _key(series_id)))
        stored = row.value if row is not None and isinstance(row.value, dict) else {}
        settings.update({k: v for k, v in stored.items() if v in CHOICES.get(k, ())})
    return settings


def save_series_settings(user_id: int, series_id: int,
                         values: Mapping[str, Any]) -> dict[str, str]:
    """Remember ``values`` (any of layout, direction, fit) for a series."""
    unknown = sorted(set(values) - set(CHOICES))
    if unknown:
        raise BadRequest(f"Unknown reader setting(s): {', '.join(unknown)}")
    for name, value in values.items():
        if value not in CHOICES[name]:
            raise BadRequest(f"{name} is one of {', '.join(CHOICES[name])}, not {value!r}")
    row = db.session.get(UserPreference, (user_id, _key(series_id)))
    stored = dict(row.value) if row is not None and isinstance(row.value, dict) else {}
    stored.update(values)
    if row is None:
        db.session.add(UserPreference(user_id=user_id, key=_key(series_id), value=stored))
    else:
        row.value, row.updated_at = stored, utcnow()
    try:
        db.session.commit()
    except IntegrityError:  # two tabs saving the first settings at once
        db.session.rollback()
        return save_series_settings(user_id, series_id, values)
    return series_settings(user_id, series_id)
