"""Posters of watched series (AutoBangumi's poster refresh), and the
calendar of upcoming issues.

A poster is the series' cover image as its metadata provider lists it,
fetched again on request (one series, or all in a job) and kept in the
cache folder as a thumbnail: the web UI shows it without calling the
provider's image host each time, and a provider that moved its images
(ComicVine and Metron both have) is followed. The image is decoded and
re-encoded before it is kept, so nothing but a valid picture is served.

The calendar lists watched issues by store date; refreshing it refreshes
the watched series from their providers (the metadata job), which is where
newly announced issues come from.
"""
from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select

from .. import images, services
from ..errors import NotFound, Unavailable
from ..extensions import db
from ..jobs import pool
from ..models.automation import MONITORED, WatchedIssue, WatchedSeries
from ..redact import mask_text
from .watchlist import REFRESH_JOB, call, get_watched, provider

POSTERS_JOB = "automation.refresh_posters"
POSTER_EDGE = 600
MAX_IMAGE_BYTES = 20 * 1024**2
TIMEOUT = (10, 30)


class PosterUnavailable(Unavailable):
    code = "poster_unavailable"


def poster_path(watched_id: int) -> str:
    return os.path.join(current_app.config["CACHE_DIR"], "posters", f"{watched_id}.jpg")


def _fetch_image(url: str) -> bytes:
    import requests

    try:
        response = requests.get(url, stream=True, timeout=TIMEOUT,
                                headers={"User-Agent": "comicsrv"})
    except requests.RequestException as exc:
        raise PosterUnavailable(f"cannot fetch {mask_text(url)}: {type(exc).__name__}") from None
    with response:
        if response.status_code >= 400:
            raise PosterUnavailable(f"{mask_text(url)} answered HTTP {response.status_code}")
        data = bytearray()
        for chunk in response.iter_content(1 << 16):
            data += chunk
            if len(data) > MAX_IMAGE_BYTES:
                raise PosterUnavailable(f"{mask_text(url)} is larger than "
                                        f"{MAX_IMAGE_BYTES >> 20} MiB")
    return bytes(data)


def _store(watched_id: int, data: bytes) -> str:
    """Decode and re-encode (off the request's greenlet), then replace the
    kept poster atomically."""
    if images.sniff(data) is None:
        raise PosterUnavailable("the poster is not an image")
    try:
        jpeg = pool.run_cpu(images.thumbnail, data, POSTER_EDGE)
    except Exception as exc:  # a truncated or hostile image: refused, never served
        raise PosterUnavailable(f"the poster cannot be decoded ({type(exc).__name__})") from None
    path = poster_path(watched_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        handle.write(jpeg)
    os.replace(temp, path)
    return path


def refresh_poster(watched_id: int) -> dict[str, Any]:
    """Ask the series' provider for its image again and keep it."""
    watched = get_watched(watched_id)
    source = provider(watched.provider)
    info = call(f"{watched.provider} series {watched.provider_id}", source.get_series,
                watched.provider_id)
    if info.image_url:
        watched.image_url = info.image_url
    db.session.commit()
    if not watched.image_url:
        raise NotFound(f"{watched.provider} lists no image for {watched.name}",
                       code="no_poster")
    _store(watched.id, _fetch_image(watched.image_url))
    return poster_info(watched)


def poster_info(watched: WatchedSeries) -> dict[str, Any]:
    path = poster_path(watched.id)
    kept = os.path.exists(path)
    return {"id": watched.id, "name": watched.name, "image_url": watched.image_url,
            "poster": f"/api/v1/rules/{watched.id}/poster" if kept else None,
            "poster_updated_at": datetime.fromtimestamp(os.path.getmtime(path), UTC)
            .replace(tzinfo=None) if kept else None}


def kept_poster(watched_id: int) -> str:
    get_watched(watched_id)
    path = poster_path(watched_id)
    if not os.path.exists(path):
        raise NotFound(f"No poster kept for rule {watched_id}: refresh it first",
                       code="no_poster")
    return path


def refresh_posters_job(ctx, **_: Any) -> dict[str, Any]:
    """Job "automation.refresh_posters": every watched series' poster; one
    failing is reported and the others go on."""
    ids = list(db.session.scalars(select(WatchedSeries.id).order_by(WatchedSeries.id)))
    done, failed = 0, []
    ctx.progress(0, len(ids), "refreshing posters", force=True)
    for index, watched_id in enumerate(ids):
        ctx.check_cancelled()
        try:
            refresh_poster(watched_id)
            done += 1
        except (NotFound, Unavailable) as exc:
            db.session.rollback()
            failed.append({"id": watched_id, "error": exc.message})
        except Exception as exc:  # a provider bug must not stop the others
            db.session.rollback()
            failed.append({"id": watched_id, "error": f"{type(exc).__name__}: {exc}"})
        ctx.progress(index + 1, len(ids))
    return {"refreshed": done, "failed": failed}


def submit_all() -> int:
    return services.jobs().submit(POSTERS_JOB, {})


# --- calendar -------------------------------------------------------------------

def calendar_query(start: date, end: date, monitored_only: bool = False):
    """Watched issues whose store date (else cover date) falls in
    ``[start, end]``, soonest first. Dates are ISO text ("2026-12-09" or
    "2026-12"), so text comparison orders them."""
    first, last = start.isoformat(), end.isoformat()
    when = or_(and_(WatchedIssue.store_date.is_not(None), WatchedIssue.store_date >= first,
                    WatchedIssue.store_date <= last),
               and_(WatchedIssue.store_date.is_(None), WatchedIssue.cover_date >= first[:7],
                    WatchedIssue.cover_date <= last))
    query = (select(WatchedIssue).join(WatchedSeries,
                                       WatchedSeries.id == WatchedIssue.watched_series_id)
             .where(when)
             .order_by(WatchedIssue.store_date, WatchedIssue.cover_date, WatchedSeries.sort_name,
                       WatchedIssue.number_sort, WatchedIssue.id))
    if monitored_only:
        query = query.where(WatchedSeries.status == MONITORED)
    return query


def calendar_item(issue: WatchedIssue) -> dict[str, Any]:
    day = issue.store_date or issue.cover_date
    weekday = None
    if day and len(day) == 10:
        try:
            weekday = date.fromisoformat(day).isoweekday()
        except ValueError:
            weekday = None
    series = issue.series
    return {"id": issue.id, "rule_id": series.id, "series": series.name, "year": series.year,
            "number": issue.number, "title": issue.title, "store_date": issue.store_date,
            "cover_date": issue.cover_date, "weekday": weekday, "state": issue.state,
            "image_url": issue.image_url}


def refresh_calendar() -> int:
    """Refresh every watched series from its provider (the metadata job);
    returns the job id (the running one when a refresh is under way)."""
    runner = services.jobs()
    active = runner.active_job(REFRESH_JOB, None)
    if active is not None:
        return active.id
    return runner.submit(REFRESH_JOB, {})


def default_window(days: int, past_days: int) -> tuple[date, date]:
    today = date.today()
    return today - timedelta(days=past_days), today + timedelta(days=days)
