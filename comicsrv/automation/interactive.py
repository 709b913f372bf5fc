"""Interactive search: every release every indexer offers for one issue,
each with the decision taken on it and why, and grabbing the one a user
picks (Sonarr's "interactive search", with the reasons visible).

The search asks every enabled search indexer with each query of the issue
(``search.queries_for``) and evaluates every release found, accepted or
not; the decisions are stored (source ``manual``) with the release's link,
size, seeders and age, so the page can list them again later and a grab
needs nothing but the decision's id, whichever server process answers it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, NotFound
from ..extensions import db
from ..hookspecs import Release
from ..models.automation import Download, ReleaseDecision, WatchedIssue
from ..models.base import utcnow
from .decisions import History, evaluate, record
from .grab import grab
from .releases import parse_release
from .search import _active_download, queries_for, search_indexers

MANUAL = "manual"
# How many stored decisions of an issue the page looks at (newest first).
SHOWN_DECISIONS = 500

__all__ = ["interactive_search", "issue_decisions", "grab_decision", "InteractiveResult"]


@dataclass
class InteractiveResult:
    issue: WatchedIssue
    decisions: list[ReleaseDecision] = field(default_factory=list)
    # indexer name -> why it failed; indexers not asked (backing off)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)


def _issue(issue_id: int) -> WatchedIssue:
    issue = db.session.get(WatchedIssue, issue_id)
    if issue is None:
        raise NotFound(f"No watched issue {issue_id}")
    return issue


def _release_key(release: Release) -> tuple[str, str]:
    return (release.indexer or "", release.guid or release.title)


def ordered(rows: list[ReleaseDecision]) -> list[ReleaseDecision]:
    """Accepted first, best score first; then rejected, newest first."""
    return sorted(rows, key=lambda r: (not r.accepted, -(r.score or 0) if r.accepted else 0,
                                       -(r.id or 0)))


def interactive_search(issue_id: int) -> InteractiveResult:
    """Search every indexer with every query of the issue; evaluate and
    store every release found (nothing is grabbed)."""
    issue = _issue(issue_id)
    result = InteractiveResult(issue)
    releases: list[Release] = []
    seen: set[tuple[str, str]] = set()
    for query in queries_for(issue):
        outcome = search_indexers(query)
        result.errors.update(outcome.errors)
        result.skipped = list(dict.fromkeys(result.skipped + outcome.skipped))
        result.searched = list(dict.fromkeys(result.searched + outcome.searched))
        for release in outcome.releases:
            if _release_key(release) not in seen:
                seen.add(_release_key(release))
                releases.append(release)
    history = History(releases)
    decisions = [evaluate(release, parse_release(release.title), issue, issue.series,
                          history=history) for release in releases]
    result.decisions = ordered(record(decisions, MANUAL))
    issue.last_searched_at = utcnow()
    db.session.commit()
    return result


def issue_decisions(issue_id: int) -> list[ReleaseDecision]:
    """The latest decision on each release ever looked at for this issue
    (searches, RSS checks, interactive searches), best first."""
    _issue(issue_id)
    rows = db.session.execute(
        db.select(ReleaseDecision).where(ReleaseDecision.watched_issue_id == issue_id)
        .order_by(ReleaseDecision.id.desc()).limit(SHOWN_DECISIONS)).scalars()
    latest: dict[tuple[str, str], ReleaseDecision] = {}
    for row in rows:
        latest.setdefault((row.indexer or "", row.guid or row.title), row)
    return ordered(list(latest.values()))


def grab_decision(decision_id: int) -> Download:
    """Grab the release of a stored decision, accepted or not: the user has
    read the reasons. 409 when the decision kept no link (recorded before
    links were kept), when its issue has a download on already, or when the
    release was grabbed before."""
    row = db.session.get(ReleaseDecision, decision_id)
    if row is None:
        raise NotFound(f"No release decision {decision_id}")
    if not row.download_url:
        raise Conflict("This release was looked at before comicsrv kept release links; "
                       "search again to grab it", code="no_release_link")
    issue = db.session.get(WatchedIssue, row.watched_issue_id) if row.watched_issue_id else None
    if issue is not None:
        active = _active_download(issue)
        if active is not None:
            raise Conflict(f"Download {active.id} of this issue is still {active.state}; "
                           "remove it in Activity first", code="download_active")
    release = Release(title=row.title, download_url=row.download_url, indexer=row.indexer or "",
                      protocol=row.protocol or "torrent", guid=row.guid, size=row.size,
                      seeders=row.seeders, published=row.published)
    return grab(release, issue, decision=row, source=MANUAL)


def describe(row: ReleaseDecision, now=None) -> dict[str, Any]:
    """What the page shows of one decision: age in days, the first reason
    as its summary."""
    now = now or utcnow()
    age = (now - row.published).days if row.published else None
    return {"id": row.id, "title": row.title, "indexer": row.indexer, "source": row.source,
            "accepted": row.accepted, "grabbed": row.grabbed, "score": row.score,
            "reasons": list(row.reasons or []), "size": row.size, "seeders": row.seeders,
            "protocol": row.protocol, "age_days": age, "can_grab": bool(row.download_url),
            "created_at": row.created_at}
