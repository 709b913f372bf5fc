"""Searching indexers for wanted issues, and the RSS check.

``search_indexers`` asks every enabled search indexer at once (threads, which
are greenlets under gevent's monkey patching); an indexer that fails is
recorded and skipped, and one that asked to back off (HTTP 429/5xx, newznab
error 500/501) is not called until its ``disabled_until`` has passed, with an
exponentially growing wait. ``search_issue`` searches, decides and grabs the
best accepted release of one issue; the download monitor calls it to try the
next candidate after a failure. The two jobs run it on a schedule:
``automation.search_wanted`` for every wanted issue, one issue every
``automation.search_spacing_seconds`` so an indexer never sees a burst, and
``automation.rss`` over each indexer's newest releases.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import func, or_, update

from ..errors import DomainError, NotFound
from ..extensions import db
from ..hookspecs import IntegrationRateLimited, Release, SearchQuery
from ..models.automation import (
    ACTIVE_DOWNLOAD_STATES, MONITORED, WANTED, Download, FeedItem, IndexerConfig, WatchedIssue,
    WatchedSeries,
)
from ..models.base import utcnow
from ..redact import mask_text
from ..settings_store import get_setting
from . import integrations
from .decisions import Decision, History, SeriesIndex, evaluate, match, naive_utc, rank, record
from .grab import grab
from .releases import parse_release

log = logging.getLogger(__name__)

SEARCH_WANTED_JOB = "automation.search_wanted"
RSS_JOB = "automation.rss"
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 24 * 3600.0
MAX_PARALLEL_INDEXERS = 8
# Injectable so tests can see the spacing without waiting for it.
sleep: Callable[[float], None] = time.sleep


@dataclass
class SearchOutcome:
    releases: list[Release] = field(default_factory=list)
    # indexer name -> what went wrong
    errors: dict[str, str] = field(default_factory=dict)
    searched: list[str] = field(default_factory=list)
    # indexers not called because they are backing off
    skipped: list[str] = field(default_factory=list)


# --- indexers ----------------------------------------------------------------

def _usable(rows: list[IndexerConfig], outcome: SearchOutcome) -> list[IndexerConfig]:
    now = utcnow()
    usable = []
    for row in rows:
        if row.disabled_until is not None and row.disabled_until > now:
            outcome.skipped.append(row.name)
        else:
            usable.append(row)
    return usable


def _record_result(row: IndexerConfig, error: BaseException | None) -> None:
    """Record an indexer's answer on its row, committed at once.

    Several processes may search the same indexer at the same time, so the
    count is changed in the database (``failure_count + 1``), not from what
    this process read: two failures are two, and the back-off doubles as it
    should. A back-off another process set is never shortened. Each record
    is its own short transaction, so no process holds an indexer's row while
    it waits for the other indexers to answer.
    """
    table = IndexerConfig.__table__
    if error is None:
        if row.failure_count or row.last_error is not None or row.disabled_until is not None:
            db.session.execute(update(table).where(table.c.id == row.id).values(
                failure_count=0, last_error=None, disabled_until=None))
    else:
        # Plugins name the URL they failed on; its apikey= stays out of the row.
        message = (mask_text(str(error)) or type(error).__name__)[:2000]
        failures = db.session.execute(
            update(table).where(table.c.id == row.id)
            .values(failure_count=func.coalesce(table.c.failure_count, 0) + 1,
                    last_error=message)
            .returning(table.c.failure_count)).scalar_one()
        if isinstance(error, IntegrationRateLimited):
            wait = BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 30)
            wait = min(max(wait, error.retry_after or 0.0), BACKOFF_MAX_SECONDS)
            until = utcnow() + timedelta(seconds=wait)
            db.session.execute(update(table).where(
                table.c.id == row.id,
                or_(table.c.disabled_until.is_(None), table.c.disabled_until < until))
                .values(disabled_until=until))
    db.session.commit()
    db.session.expire(row, ["failure_count", "last_error", "disabled_until"])


def fan_out(rows: list[IndexerConfig], call: Callable[[Any], list[Release]],
            outcome: SearchOutcome) -> Iterator[tuple[IndexerConfig, list[Release] | None]]:
    """Run ``call(plugin)`` for every row concurrently and yield ``(row,
    releases)`` as each indexer answers (``None`` for one that failed); each
    result is recorded on its row. Plugins are built here, in the app
    context; they need none."""
    plugins = {}
    for row in rows:
        try:
            plugins[row.id] = integrations.instance_for("indexer", row)
        except Exception as exc:
            outcome.errors[row.name] = mask_text(str(exc))
            _record_result(row, exc)
            yield row, None
    by_id = {row.id: row for row in rows}
    if plugins:
        with ThreadPoolExecutor(max_workers=min(len(plugins), MAX_PARALLEL_INDEXERS)) as pool:
            futures = {pool.submit(call, plugin): row_id for row_id, plugin in plugins.items()}
            for future in as_completed(futures):
                row = by_id[futures[future]]
                try:
                    releases = future.result()
                except Exception as exc:  # one failing indexer never stops the others
                    log.warning("indexer %s failed: %s", row.name, exc)
                    outcome.errors[row.name] = mask_text(str(exc)) or type(exc).__name__
                    _record_result(row, exc)
                    yield row, None
                    continue
                _record_result(row, None)
                outcome.searched.append(row.name)
                for release in releases:
                    release.indexer = row.name  # the configured name, whatever the plugin said
                    if row.protocol and row.kind == "rss":
                        release.protocol = row.protocol
                yield row, releases
    db.session.commit()


def _fan_out(rows: list[IndexerConfig], call: Callable[[Any], list[Release]],
             outcome: SearchOutcome) -> dict[int, list[Release]]:
    """``fan_out`` collected: ``{row id: releases}`` of the indexers that answered."""
    found = {row.id: releases for row, releases in fan_out(rows, call, outcome)
             if releases is not None}
    # Keep the rows' order in ``outcome.searched`` whatever order they answered in.
    order = {row.name: i for i, row in enumerate(rows)}
    outcome.searched.sort(key=lambda name: order.get(name, len(order)))
    return found


def enabled_search_indexers() -> list[IndexerConfig]:
    return list(db.session.execute(
        db.select(IndexerConfig).where(IndexerConfig.enabled.is_(True),
                                       IndexerConfig.enable_search.is_(True))
        .order_by(IndexerConfig.priority, IndexerConfig.id)).scalars())


def search_indexers(query: SearchQuery, indexers: list[IndexerConfig] | None = None) -> SearchOutcome:
    """Search every enabled search indexer (or ``indexers``) concurrently."""
    outcome = SearchOutcome()
    rows = _usable(enabled_search_indexers() if indexers is None else indexers, outcome)
    found = _fan_out(rows, lambda plugin: plugin.search(query), outcome)
    for row in rows:
        outcome.releases.extend(found.get(row.id, []))
    return outcome


def stream_search(query: SearchQuery) -> Iterator[tuple[str, dict[str, Any]]]:
    """Search every enabled search indexer and yield ``(event, data)`` as each
    answers: ``skipped`` (in back-off), ``results`` (one indexer's releases,
    parsed), ``error`` (one indexer failed), then ``done`` with the counts."""
    outcome = SearchOutcome()
    rows = _usable(enabled_search_indexers(), outcome)
    for name in outcome.skipped:
        yield "skipped", {"indexer": name, "reason": "backing off after errors"}
    total = 0
    for row, releases in fan_out(rows, lambda plugin: plugin.search(query), outcome):
        if releases is None:
            yield "error", {"indexer": row.name, "message": outcome.errors.get(row.name, "")}
            continue
        total += len(releases)
        yield "results", {"indexer": row.name, "releases": [
            {"title": r.title, "guid": r.guid, "download_url": r.download_url,
             "protocol": r.protocol, "size": r.size, "seeders": r.seeders,
             "published": r.published.isoformat() if r.published else None,
             "parsed": parse_release(r.title).to_dict()} for r in releases]}
    yield "done", {"indexers": len(rows), "answered": len(outcome.searched),
                   "failed": len(outcome.errors), "skipped": len(outcome.skipped),
                   "releases": total}


# --- one issue -----------------------------------------------------------------

def queries_for(issue: WatchedIssue) -> list[SearchQuery]:
    """Release names pad numbers to three digits ("Saga 054"); indexers match
    whole words, so the padded form is asked first and the plain one second."""
    series = issue.series
    number = str(int(issue.number_sort) + (series.issue_offset or 0)) \
        if issue.number_sort is not None and float(issue.number_sort).is_integer() else issue.number
    texts = [f"{series.name} {number.zfill(3) if number.isdigit() else number}", f"{series.name} {number}"]
    if issue.annual:
        texts = [f"{series.name} Annual {number}"]
    return [SearchQuery(text=text, series=series.name, number=number, year=series.year)
            for text in dict.fromkeys(texts)]


def _active_download(issue: WatchedIssue) -> Download | None:
    return db.session.execute(
        db.select(Download).where(Download.watched_issue_id == issue.id,
                                  Download.state.in_(ACTIVE_DOWNLOAD_STATES)).limit(1)).scalar()


def search_issue(issue_id: int, grab: bool = True, *, source: str = "search") -> dict[str, Any]:
    """Search for one watched issue, record every decision, and grab the best
    accepted release (unless ``grab`` is false or a download is already on)."""
    issue = db.session.get(WatchedIssue, issue_id)
    if issue is None:
        raise NotFound(f"no watched issue {issue_id}")
    decisions: list[Decision] = []
    outcome = SearchOutcome()
    for query in queries_for(issue):
        outcome = _merge(outcome, search_indexers(query))
        history = History(outcome.releases)
        seen = {d.release.guid or d.release.title for d in decisions}
        fresh = [r for r in outcome.releases if (r.guid or r.title) not in seen]
        decisions += [evaluate(r, parse_release(r.title), issue, issue.series, history=history)
                      for r in fresh]
        if any(d.accepted for d in decisions):
            break
    record(decisions, source)
    issue.last_searched_at = utcnow()
    issue.series.last_searched_at = issue.last_searched_at
    db.session.commit()
    best = rank(decisions)
    result: dict[str, Any] = {
        "issue_id": issue.id, "releases": len(outcome.releases), "accepted": len(best),
        "errors": outcome.errors, "skipped": outcome.skipped, "grabbed": None,
        "best": best[0].release.title if best else None,
    }
    if not grab or not best:
        return result
    active = _active_download(issue)
    if active is not None:
        result["grab_error"] = f"download {active.id} for this issue is still {active.state}"
        return result
    for decision in best:
        try:
            download = _grab(decision, source)
        except DomainError as exc:
            result["grab_error"] = exc.message
            if getattr(exc, "code", "") == "no_download_client":
                break
            continue
        result["grabbed"] = download.id
        result["title"] = download.title
        break
    return result


def _grab(decision: Decision, source: str) -> Download:
    return grab(decision.release, decision.issue, decision=decision, source=source)


def _merge(first: SearchOutcome, second: SearchOutcome) -> SearchOutcome:
    return SearchOutcome(first.releases + second.releases, {**first.errors, **second.errors},
                         list(dict.fromkeys(first.searched + second.searched)),
                         list(dict.fromkeys(first.skipped + second.skipped)))


# --- jobs ----------------------------------------------------------------------

def released_condition(today: str | None = None):
    """SQL: the issue is out (a store or cover date not in the future, or no
    date at all)."""
    today = today or date.today().isoformat()
    return or_(WatchedIssue.store_date.is_(None) & WatchedIssue.cover_date.is_(None),
               WatchedIssue.store_date <= today,
               WatchedIssue.store_date.is_(None) & (WatchedIssue.cover_date <= today))


def wanted_issues(limit: int | None = None, *, watched_series_id: int | None = None,
                  issue_ids: Iterable[int] | None = None) -> list[WatchedIssue]:
    """Wanted issues of monitored series that are out, least recently
    searched first; only of one series, or only ``issue_ids``, when given."""
    query = (db.select(WatchedIssue).join(WatchedSeries)
             .where(WatchedIssue.state == WANTED, WatchedSeries.status == MONITORED,
                    released_condition())
             .order_by(WatchedIssue.last_searched_at.is_not(None), WatchedIssue.last_searched_at,
                       WatchedIssue.id))
    if watched_series_id is not None:
        query = query.where(WatchedIssue.watched_series_id == watched_series_id)
    if issue_ids is not None:
        query = query.where(WatchedIssue.id.in_(list(issue_ids)))
    if limit:
        query = query.limit(limit)
    return list(db.session.execute(query).scalars())


def search_wanted_job(ctx, max_issues: int | None = None, watched_series_id: int | None = None,
                      issue_ids: list[int] | None = None, **_: Any) -> dict[str, Any]:
    """Search every wanted, released issue (of one series, or the ones
    chosen, when the params say so), one every spacing seconds."""
    issue_ids = [issue.id for issue in wanted_issues(
        max_issues, watched_series_id=watched_series_id, issue_ids=issue_ids)]
    spacing = float(get_setting("automation.search_spacing_seconds") or 0)
    ctx.progress(0, len(issue_ids), "searching wanted issues", force=True)
    grabbed = failed = 0
    for index, issue_id in enumerate(issue_ids):
        ctx.check_cancelled()
        if index and spacing > 0:
            sleep(spacing)  # never a burst against an indexer
        try:
            result = search_issue(issue_id)
        except DomainError as exc:
            failed += 1
            log.warning("search for issue %s failed: %s", issue_id, exc.message)
            continue
        grabbed += bool(result["grabbed"])
        ctx.progress(index + 1, len(issue_ids), f"searched issue {index + 1} of {len(issue_ids)}")
    ctx.progress(len(issue_ids), len(issue_ids), f"{grabbed} grabbed", force=True)
    return {"searched": len(issue_ids), "grabbed": grabbed, "failed": failed}


def check_rss(rows: list[IndexerConfig] | None = None) -> dict[str, Any]:
    """Read the newest releases of ``rows`` (default: every enabled indexer
    with RSS on); keep the new ones as FeedItems, match them to wanted issues
    and grab the best per issue."""
    outcome = SearchOutcome()
    if rows is None:
        rows = list(db.session.execute(
            db.select(IndexerConfig).where(IndexerConfig.enabled.is_(True),
                                           IndexerConfig.enable_rss.is_(True))
            .order_by(IndexerConfig.priority, IndexerConfig.id)).scalars())
    rows = _usable(rows, outcome)
    found = _fan_out(rows, lambda plugin: plugin.rss(), outcome)
    candidates = wanted_issues()
    new_releases: list[tuple[int, Release]] = []
    for row in rows:
        if row.id not in found:
            continue
        row.last_rss_at = utcnow()
        releases = found[row.id]
        keys = [(r.guid or r.download_url)[:2000] for r in releases]
        known = set(db.session.execute(
            db.select(FeedItem.guid).where(FeedItem.indexer_id == row.id, FeedItem.guid.in_(keys))
        ).scalars()) if keys else set()
        for key, release in zip(keys, releases):
            if key in known:
                continue
            known.add(key)
            new_releases.append((row.id, release))
    history = History([r for _, r in new_releases])
    index = SeriesIndex(issue.series for issue in candidates)
    best: dict[int, Decision] = {}
    matched = 0
    for indexer_id, release in new_releases:
        parsed = parse_release(release.title)
        decisions = match(release, candidates, history=history, parsed=parsed, index=index)
        record(decisions, "rss")
        accepted = [d for d in decisions if d.accepted]
        db.session.add(FeedItem(
            indexer_id=indexer_id, guid=(release.guid or release.download_url)[:2000],
            title=release.title[:1000], download_url=release.download_url, size=release.size,
            published=naive_utc(release.published),
            parsed=parsed.to_dict(),
            watched_issue_id=accepted[0].issue.id if accepted else None))
        for decision in accepted:
            matched += 1
            current = best.get(decision.issue.id)
            if current is None or decision.sort_key < current.sort_key:
                best[decision.issue.id] = decision
    db.session.commit()
    grabbed, grab_errors = grab_best(best.values(), "rss")
    return {"indexers": outcome.searched, "errors": outcome.errors, "skipped": outcome.skipped,
            "new": len(new_releases), "matched": matched, "grabbed": grabbed,
            "grab_errors": grab_errors}


def grab_best(decisions: Iterable[Decision], source: str) -> tuple[list[int], dict[str, str]]:
    """Grab each decision's release unless its issue already has a download
    on; ``(download ids, {release title: why it failed})``."""
    grabbed, errors = [], {}
    for decision in decisions:
        if _active_download(decision.issue) is not None:
            continue
        try:
            grabbed.append(_grab(decision, source).id)
        except DomainError as exc:
            errors[decision.release.title] = exc.message
    return grabbed, errors


def rss_job(ctx, **_: Any) -> dict[str, Any]:
    ctx.progress(0, 1, "checking RSS feeds", force=True)
    result = check_rss()
    ctx.progress(1, 1, f"{result['new']} new releases, {len(result['grabbed'])} grabbed", force=True)
    return result
