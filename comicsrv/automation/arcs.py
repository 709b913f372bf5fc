"""Story arcs: an arc's issues in reading order, across series, linked to
the watched issues they are when their series is watched.

``want_all`` wants every issue of an arc. Issues of watched series become
wanted (a downloaded, snatched or archived one stays as it is). For a series
not watched yet, the series is added to the watchlist paused-for-the-rest:
``monitor_new`` off and its missing issues "skipped", then only the arc's
issues in it are marked wanted. An entry whose series the provider did not
name cannot be added and is reported as unresolved.
"""
from __future__ import annotations

from typing import Any

from ..errors import Conflict, NotFound
from ..extensions import db
from ..hookspecs import ArcResult
from ..models.automation import (
    ARCHIVED, DOWNLOADED, SNATCHED, WANTED, StoryArc, StoryArcIssue, WatchedIssue, WatchedSeries,
)
from ..models.base import utcnow
from . import watchlist

# States want_all leaves alone: the issue is had, or on its way.
KEPT_STATES = (DOWNLOADED, SNATCHED, ARCHIVED, WANTED)


def _fetch(provider_name: str, arc_id: str) -> tuple[str, ArcResult]:
    source = watchlist.provider(provider_name)
    return source.kind, watchlist.call(f"{source.kind} story arc {arc_id}", source.get_arc,
                                       str(arc_id))


def _get_arc(arc_id: int) -> StoryArc:
    arc = db.session.get(StoryArc, arc_id)
    if arc is None:
        raise NotFound(f"story arc {arc_id} does not exist")
    return arc


def _link(arc: StoryArc) -> int:
    """Point each entry at the watched issue it is; returns how many are linked."""
    ids = [entry.provider_issue_id for entry in arc.entries]
    if not ids:
        return 0
    rows = db.session.execute(
        db.select(WatchedIssue.provider_id, WatchedIssue.id)
        .join(WatchedSeries, WatchedIssue.watched_series_id == WatchedSeries.id)
        .where(WatchedSeries.provider == arc.provider, WatchedIssue.provider_id.in_(ids)))
    watched = dict(rows.all())
    for entry in arc.entries:
        entry.watched_issue_id = watched.get(entry.provider_issue_id)
    return sum(1 for entry in arc.entries if entry.watched_issue_id)


def _apply(arc: StoryArc, result: ArcResult) -> dict[str, int]:
    """Make the arc's entries those of ``result``, in its order."""
    arc.name = result.name or arc.name
    existing = {entry.provider_issue_id: entry for entry in arc.entries}
    seen: set[str] = set()
    added = 0
    for position, issue in enumerate(result.issues, start=1):
        if issue.provider_id in seen:  # an issue listed twice keeps its first place
            continue
        seen.add(issue.provider_id)
        entry = existing.get(issue.provider_id)
        if entry is None:
            entry = StoryArcIssue(provider_issue_id=issue.provider_id)
            arc.entries.append(entry)
            added += 1
        entry.position = position
        entry.provider_series_id = issue.series_id or None
        entry.series_name = (issue.series_name or "")[:500] or None
        entry.number = (issue.number or "")[:32] or None
        entry.title = (issue.title or "")[:1000] or None
        entry.cover_date = issue.cover_date
    removed = [entry for pid, entry in existing.items() if pid not in seen]
    for entry in removed:
        arc.entries.remove(entry)
        db.session.delete(entry)
    arc.last_refreshed_at = utcnow()
    return {"added": added, "removed": len(removed)}


def add_arc(provider: str, arc_id: str) -> StoryArc:
    """Store a provider's story arc with its issues in reading order; 409
    when it is stored already."""
    kind, result = _fetch(provider, arc_id)
    if db.session.scalars(db.select(StoryArc).where(
            StoryArc.provider == kind, StoryArc.provider_id == result.provider_id)).first():
        raise Conflict(f"{kind} story arc {result.provider_id} is already added")
    arc = StoryArc(provider=kind, provider_id=result.provider_id,
                   name=result.name or f"Arc {result.provider_id}")
    db.session.add(arc)
    _apply(arc, result)
    db.session.flush()
    _link(arc)
    db.session.commit()
    return arc


def refresh_arc(arc_id: int) -> dict[str, Any]:
    """Re-read an arc from its provider: new entries, new order, links."""
    arc = _get_arc(arc_id)
    _, result = _fetch(arc.provider, arc.provider_id)
    changes = _apply(arc, result)
    db.session.flush()
    linked = _link(arc)
    db.session.commit()
    return {"arc_id": arc.id, "entries": len(arc.entries), "linked": linked, **changes}


def want_all(arc_id: int) -> dict[str, Any]:
    """Want every issue of the arc (see the module docstring)."""
    arc = _get_arc(arc_id)
    _link(arc)
    added_series: list[int] = []
    unresolved: list[int] = []
    missing_series = sorted({e.provider_series_id for e in arc.entries
                             if not e.watched_issue_id and e.provider_series_id})
    for series_id in missing_series:
        watched = db.session.scalars(db.select(WatchedSeries).where(
            WatchedSeries.provider == arc.provider,
            WatchedSeries.provider_id == series_id)).first()
        if watched is None:
            watched = watchlist.add_series(arc.provider, series_id, monitor_new=False,
                                           mark_missing_wanted=False)
            added_series.append(watched.id)
        else:
            # Watched, but without this issue yet: the provider knows more now.
            watchlist.refresh_series(watched.id)
    if missing_series:
        _link(arc)
        db.session.commit()
    wanted = 0
    for entry in arc.entries:
        if entry.watched_issue_id is None:
            unresolved.append(entry.position)
            continue
        issue = db.session.get(WatchedIssue, entry.watched_issue_id)
        if issue is not None and issue.state not in KEPT_STATES:
            watchlist.set_issue_state(issue.id, WANTED)
            wanted += 1
    return {"arc_id": arc.id, "wanted": wanted, "added_series": added_series,
            "unresolved_positions": unresolved}
