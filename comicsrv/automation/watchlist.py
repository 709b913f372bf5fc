"""The watchlist: series followed from a metadata provider, their issues and
want states, and the refresh that finds newly announced issues.

Want states when a series is added (and for issues a refresh finds):
- an issue whose book is in the library is "downloaded";
- a released issue without one is "wanted" (or "skipped" when the user
  asked not to mark missing issues wanted);
- an announced issue (store date, else cover date, after today) is "wanted"
  when the series monitors new issues, else "skipped". Searches skip wanted
  issues until ``released()`` says they are out; an issue with no date at
  all counts as released.
A refresh never changes the state of an issue it already had: a downloaded
or snatched issue stays so, and an issue the provider dropped is kept.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from flask import current_app

from .. import services
from ..errors import BadRequest, Conflict, NotFound, Unavailable
from ..events import IssueWanted
from ..extensions import db
from ..filenames import normalize_number, number_sort
from ..hookspecs import (
    IntegrationAuthError, IntegrationError, IntegrationNotFound, IntegrationRateLimited,
    IssueResult, MetadataProvider, SeriesResult,
)
from ..models import Book, Library
from ..models.automation import (
    DOWNLOADED, MONITORED, SERIES_STATUSES, SKIPPED, WANT_STATES, WANTED, WatchedIssue,
    WatchedSeries,
)
from ..models.base import utcnow
from ..settings_store import get_setting
from . import integrations
from .metadata_links import books_by_number, link_books, matching_library_series

__all__ = ["provider", "search_series", "add_series", "refresh_series", "refresh_metadata_job",
           "set_issue_state", "set_series_status", "remove_series", "link_books", "released",
           "REFRESH_JOB"]

log = logging.getLogger(__name__)
REFRESH_JOB = "automation.refresh_metadata"
T = TypeVar("T")

# What add_series(**options) may set on the watched series.
SERIES_OPTIONS = ("folder", "formats", "min_size", "max_size", "issue_offset", "aliases",
                  "include_terms", "exclude_terms", "want_annuals", "status", "volume")


class ProviderUnavailable(Unavailable):
    code = "provider_unavailable"


class ProviderRateLimited(Unavailable):
    code = "provider_rate_limited"


class ProviderAuthFailed(BadRequest):
    code = "provider_auth_failed"


# --- the configured provider ----------------------------------------------------

def _provider_settings(name: str) -> dict[str, Any]:
    if name == "comicvine":
        settings = {"api_key": get_setting("metadata.comicvine_api_key"),
                    "requests_per_hour": get_setting("metadata.comicvine_requests_per_hour")}
    elif name == "metron":
        settings = {"username": get_setting("metadata.metron_username"),
                    "password": get_setting("metadata.metron_password"),
                    "requests_per_minute": get_setting("metadata.metron_requests_per_minute")}
    else:
        settings = {}
    settings["max_wait"] = get_setting("metadata.max_wait_seconds")
    # Unset quota settings leave the plugin's own defaults.
    settings = {key: value for key, value in settings.items() if value is not None}
    url = (current_app.config.get("METADATA_URLS") or {}).get(name)
    if url:
        settings["url"] = url
    return settings


def provider(name: str | None = None) -> MetadataProvider:
    """The configured instance of a metadata provider (the default one when
    ``name`` is None); 400 for a provider no plugin offers."""
    name = (name or get_setting("metadata.default_provider") or "").strip().lower()
    instance = integrations.build("metadata", name, _provider_settings(name), name=name)
    if not isinstance(instance, MetadataProvider):
        raise BadRequest(f"{name!r} is not a metadata provider")
    return instance


_configured = provider  # for functions whose ``provider`` argument is a name


def call(what: str, fn: Callable[..., T], *args: Any) -> T:
    """Run a provider call, turning its errors into domain errors (4xx/5xx)."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    except IntegrationNotFound as exc:
        raise NotFound(f"{what}: {exc}") from exc
    except IntegrationAuthError as exc:
        raise ProviderAuthFailed(f"{what}: {exc}") from exc
    except IntegrationRateLimited as exc:
        raise ProviderRateLimited(f"{what}: {exc}",
                                  details={"retry_after": exc.retry_after}) from exc
    except IntegrationError as exc:
        raise ProviderUnavailable(f"{what}: {exc}") from exc


def search_series(query: str, year: int | None = None,
                  provider: str | None = None) -> list[SeriesResult]:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("search for a series by some words of its name")
    source = _configured(provider)
    return call(f"{source.kind} search", source.search_series, query.strip(), year)


# --- want states ------------------------------------------------------------------

def released(issue: WatchedIssue | IssueResult, today: date | None = None) -> bool:
    """Whether an issue is on sale: its store date (else cover date) is not
    after today. An issue with no date is taken as released."""
    when = issue.store_date or issue.cover_date
    if not when:
        return True
    today_text = (today or date.today()).isoformat()
    return when[:10] <= today_text[:len(when[:10])]


def _initial_state(issue: WatchedIssue, has_book: bool, *, mark_missing_wanted: bool,
                   monitor_new: bool, today: date) -> str:
    if has_book:
        return DOWNLOADED
    if not released(issue, today):
        return WANTED if monitor_new else SKIPPED
    return WANTED if mark_missing_wanted else SKIPPED


def _publish_wanted(issues: list[WatchedIssue], *, new: bool) -> None:
    bus = services.events()
    for issue in issues:
        bus.publish(IssueWanted(watched_series_id=issue.watched_series_id,
                                watched_issue_id=issue.id, series=issue.series.name,
                                number=issue.number, new=new))


def _apply_issue(row: WatchedIssue, result: IssueResult) -> bool:
    """Copy provider data onto a row; returns whether anything changed."""
    values = {
        "number": (result.number or "?")[:32],
        "number_sort": number_sort(result.number) if result.number else None,
        "title": result.title[:1000] if result.title else None,
        "cover_date": result.cover_date, "store_date": result.store_date,
        "description": result.description, "image_url": result.image_url,
        "credits": result.credits or None,
    }
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _apply_series(row: WatchedSeries, info: SeriesResult) -> None:
    row.name = info.name or row.name
    row.sort_name = (info.name or row.name).lower()
    row.year = info.year if info.year is not None else row.year
    row.publisher, row.description = info.publisher, info.description
    row.image_url, row.url, row.issue_count = info.image_url, info.url, info.issue_count


def _unique(results: list[IssueResult]) -> list[IssueResult]:
    seen: set[str] = set()
    return [r for r in results if not (r.provider_id in seen or seen.add(r.provider_id))]


# --- adding, refreshing, removing ----------------------------------------------------

def _find_watched(source: str, provider_id: str) -> WatchedSeries | None:
    return db.session.scalars(db.select(WatchedSeries).where(
        WatchedSeries.provider == source, WatchedSeries.provider_id == str(provider_id))).first()


def add_series(provider: str, provider_id: str, *, library_id: int | None = None,
               monitor_new: bool = True, mark_missing_wanted: bool = True,
               **options: Any) -> WatchedSeries:
    """Watch a series: fetch it and all its issues, create the rows, link
    books already in the library, publish IssueWanted for each wanted issue.
    409 when it is already watched."""
    unknown = sorted(set(options) - set(SERIES_OPTIONS))
    if unknown:
        raise BadRequest(f"unknown series options: {', '.join(unknown)} "
                         f"(known: {', '.join(SERIES_OPTIONS)})")
    if options.get("status", MONITORED) not in SERIES_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(SERIES_STATUSES)}")
    source = _configured(provider)
    if _find_watched(source.kind, provider_id):
        raise Conflict(f"{source.kind} series {provider_id} is already watched")
    library_id = library_id or get_setting("automation.default_library_id")
    if library_id is not None and db.session.get(Library, library_id) is None:
        raise NotFound(f"library {library_id} does not exist")

    info = call(f"{source.kind} series {provider_id}", source.get_series, str(provider_id))
    results = call(f"{source.kind} issues of {info.provider_id}", source.get_issues,
                   info.provider_id)
    # The provider may name the id differently ("4050-23437" -> "23437").
    if _find_watched(source.kind, info.provider_id):
        raise Conflict(f"{source.kind} series {info.provider_id} is already watched")

    watched = WatchedSeries(provider=source.kind, provider_id=info.provider_id,
                            name=info.name or str(provider_id), sort_name="",
                            monitor_new=monitor_new, library_id=library_id,
                            status=options.pop("status", MONITORED), **options)
    _apply_series(watched, info)
    watched.last_refreshed_at = utcnow()
    db.session.add(watched)
    issues = []
    for result in _unique(results):
        row = WatchedIssue(provider_id=result.provider_id, state=SKIPPED)
        _apply_issue(row, result)
        watched.issues.append(row)
        issues.append(row)
    db.session.flush()

    books = books_by_number(s.id for s in _library_series(watched))
    today = date.today()
    for row in issues:
        book = books.get(normalize_number(row.number))
        row.book_id = book.id if book else None
        row.state = _initial_state(row, book is not None, mark_missing_wanted=mark_missing_wanted,
                                   monitor_new=monitor_new, today=today)
    db.session.commit()
    _publish_wanted([r for r in issues if r.state == WANTED], new=False)
    log.info("watching %s %s (%s): %d issues", watched.provider, watched.provider_id,
             watched.name, len(issues))
    return watched


def _library_series(watched: WatchedSeries):
    series = matching_library_series(watched)
    if series:
        watched.series_id = series[0].id
    return series


def get_watched(watched_series_id: int) -> WatchedSeries:
    watched = db.session.get(WatchedSeries, watched_series_id)
    if watched is None:
        raise NotFound(f"watched series {watched_series_id} does not exist")
    return watched


def refresh_series(watched_series_id: int) -> dict[str, Any]:
    """Update a watched series and its issues from its provider. New issues
    are wanted when the series monitors new ones (IssueWanted with new=True);
    the state of known issues is never changed."""
    watched = get_watched(watched_series_id)
    source = provider(watched.provider)
    what = f"{watched.provider} series {watched.provider_id}"
    info = call(what, source.get_series, watched.provider_id)
    results = _unique(call(what, source.get_issues, watched.provider_id))
    _apply_series(watched, info)

    known = {issue.provider_id: issue for issue in watched.issues}
    updated, added = 0, []
    for result in results:
        row = known.get(result.provider_id)
        if row is not None:
            updated += _apply_issue(row, result)
            continue
        row = WatchedIssue(provider_id=result.provider_id, state=SKIPPED)
        _apply_issue(row, result)
        watched.issues.append(row)
        added.append(row)
    db.session.flush()

    books = books_by_number(s.id for s in _library_series(watched)) if added else {}
    today = date.today()
    for row in added:
        book = books.get(normalize_number(row.number))
        row.book_id = book.id if book else None
        # A newly announced issue is wanted when the series monitors new
        # issues, released or not; otherwise the user decides.
        row.state = _initial_state(row, book is not None, mark_missing_wanted=watched.monitor_new,
                                   monitor_new=watched.monitor_new, today=today)
    watched.last_refreshed_at = utcnow()
    db.session.commit()
    wanted = [r for r in added if r.state == WANTED]
    _publish_wanted(wanted, new=True)
    return {"watched_series_id": watched.id, "name": watched.name, "updated": updated,
            "added": len(added), "wanted": len(wanted),
            "missing_at_provider": len(set(known) - {r.provider_id for r in results})}


def refresh_metadata_job(ctx: Any, series_id: int | None = None) -> dict[str, Any]:
    """Job "automation.refresh_metadata": refresh one watched series or all,
    least recently refreshed first. One failing series is reported and
    skipped; a spent provider quota stops the run (the next run goes on
    from the series refreshed longest ago)."""
    if series_id is not None:
        ids = [get_watched(int(series_id)).id]
    else:
        ids = list(db.session.scalars(db.select(WatchedSeries.id).order_by(
            WatchedSeries.last_refreshed_at.is_not(None), WatchedSeries.last_refreshed_at,
            WatchedSeries.id)))
    totals = {"refreshed": 0, "added": 0, "wanted": 0, "failed": [], "stopped": None}
    ctx.progress(0, len(ids), "refreshing metadata", force=True)
    for done, watched_id in enumerate(ids):
        ctx.check_cancelled()
        try:
            outcome = refresh_series(watched_id)
        except ProviderRateLimited as exc:
            db.session.rollback()
            totals["stopped"] = exc.message
            break
        except (NotFound, BadRequest, Unavailable) as exc:
            db.session.rollback()
            totals["failed"].append({"watched_series_id": watched_id, "error": exc.message})
            continue
        totals["refreshed"] += 1
        totals["added"] += outcome["added"]
        totals["wanted"] += outcome["wanted"]
        ctx.progress(done + 1, len(ids), outcome["name"])
    ctx.progress(len(ids) if not totals["stopped"] else None, None, "done", force=True)
    return totals


def set_issue_state(issue_id: int, state: str) -> WatchedIssue:
    if state not in WANT_STATES:
        raise BadRequest(f"state must be one of {', '.join(WANT_STATES)}")
    issue = db.session.get(WatchedIssue, issue_id)
    if issue is None:
        raise NotFound(f"watched issue {issue_id} does not exist")
    if issue.state != state:
        issue.state, issue.state_changed_at = state, utcnow()
        db.session.commit()
        if state == WANTED:
            _publish_wanted([issue], new=False)
    return issue


def set_series_status(series_id: int, status: str) -> WatchedSeries:
    if status not in SERIES_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(SERIES_STATUSES)}")
    watched = get_watched(series_id)
    watched.status = status
    db.session.commit()
    return watched


def remove_series(series_id: int, delete_files: bool = False) -> dict[str, Any]:
    """Stop watching a series. Its library files stay unless ``delete_files``
    is set: then the linked books' files are deleted and the books marked
    missing (the next scan drops them)."""
    watched = get_watched(series_id)
    deleted, errors = 0, []
    if delete_files:
        for issue in watched.issues:
            book = db.session.get(Book, issue.book_id) if issue.book_id else None
            if book is None:
                continue
            try:
                os.remove(book.path)
                deleted += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                errors.append(f"{book.path}: {exc.strerror or exc}")
                continue
            book.state, book.missing_since = "missing", utcnow()
    # Loaded issues are deleted by the session itself, which would otherwise
    # try to orphan them; arc entries lose their link through ON DELETE SET NULL.
    for issue in list(watched.issues):
        db.session.delete(issue)
    db.session.delete(watched)
    db.session.commit()
    return {"removed": series_id, "deleted_files": deleted, "errors": errors}
