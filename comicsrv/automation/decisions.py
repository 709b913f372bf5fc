"""Whether a release is the watched issue it seems to be, and how good it is.

``evaluate`` checks one release against one watched issue and says why it is
accepted or rejected, in words a user can read; ``match`` finds the watched
issue a release is for among candidates (the longest matching series alias
wins, so "Batman Beyond 001" is never issue 1 of "Batman"); ``rank`` orders
accepted candidates: preferred format, then indexer priority, then seeders,
then size closest to a typical issue. ``record`` keeps every decision as a
``ReleaseDecision`` row so the UI can show why something was or was not
grabbed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import or_

from ..extensions import db
from ..filenames import normalize_number, normalize_series
from ..hookspecs import Release
from ..models.automation import (
    BlockedRelease, Download, IndexerConfig, ReleaseDecision, WatchedIssue, WatchedSeries,
)
from ..settings_store import get_setting
from .releases import ParsedRelease, parse_release

# A digital single issue is usually 20-80 MB; the closest to this ranks first.
TYPICAL_ISSUE_BYTES = 45 * 1024 * 1024
DEFAULT_INDEXER_PRIORITY = 25
FORMAT_POINTS = 100  # per place in the format preference; priority adds up to 49


@dataclass
class Decision:
    release: Release
    parsed: ParsedRelease
    issue: WatchedIssue | None
    series: WatchedSeries | None
    accepted: bool = False
    score: int = 0
    reasons: list[str] = field(default_factory=list)
    # What ``rank`` sorts by; set by ``evaluate``.
    sort_key: tuple = ()
    row: ReleaseDecision | None = None

    def reject(self, reason: str) -> None:
        self.accepted = False
        self.reasons.append(reason)


class History:
    """What was blocked or grabbed before, and each indexer's priority: loaded
    once for a batch of releases instead of one query per release."""

    def __init__(self, releases: Iterable[Release]):
        releases = list(releases)
        guids = {r.guid for r in releases if r.guid}
        titles = {r.title for r in releases}
        self.blocked_guids: set[str] = set()
        self.blocked_titles: set[str] = set()
        self.grabbed_guids: set[str] = set()
        self.grabbed_titles: set[str] = set()
        if releases:
            for guid, title in db.session.execute(
                    db.select(BlockedRelease.guid, BlockedRelease.title).where(or_(
                        BlockedRelease.guid.in_(guids), BlockedRelease.title.in_(titles)))):
                self.blocked_guids.add(guid) if guid else None
                self.blocked_titles.add(title)
            for guid, title in db.session.execute(
                    db.select(Download.guid, Download.title).where(or_(
                        Download.guid.in_(guids), Download.title.in_(titles)))):
                self.grabbed_guids.add(guid) if guid else None
                self.grabbed_titles.add(title)
        self.priorities = dict(db.session.execute(
            db.select(IndexerConfig.name, IndexerConfig.priority)).all())

    def blocked(self, release: Release) -> bool:
        return (bool(release.guid) and release.guid in self.blocked_guids) or \
            release.title in self.blocked_titles

    def grabbed(self, release: Release) -> bool:
        return (bool(release.guid) and release.guid in self.grabbed_guids) or \
            release.title in self.grabbed_titles


def preferred_formats(series: WatchedSeries | None) -> list[str]:
    if series is not None and series.formats:
        return [str(f).lower() for f in series.formats]
    setting = get_setting("automation.preferred_formats") or ""
    return [f.strip().lower() for f in str(setting).split(",") if f.strip()]


def series_names(series: WatchedSeries) -> list[str]:
    """Normalized name and aliases of a watched series, longest first."""
    names = {normalize_series(series.name)}
    names.update(normalize_series(a) for a in (series.aliases or []) if a and str(a).strip())
    names.discard("")
    return sorted(names, key=len, reverse=True)


def alias_match(parsed: ParsedRelease, series: WatchedSeries) -> str | None:
    """The longest alias of ``series`` the release is named by, or None.

    The parsed series must be the alias; failing that (a name the parser split
    oddly), the title must start with the alias followed by the issue number.
    """
    names = series_names(series)
    if parsed.series_key in names:
        return parsed.series_key
    if parsed.number:
        title_key = normalize_series(parsed.title)
        number_key = normalize_series(parsed.number)
        for name in names:
            if title_key.startswith(f"{name} {number_key}"):
                return name
    return None


def _year_of(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


def _issue_number_matches(parsed: ParsedRelease, issue: WatchedIssue, offset: int) -> bool:
    if offset == 0:
        return normalize_number(parsed.number or "") == normalize_number(issue.number)
    if parsed.number_sort is None or issue.number_sort is None:
        return False
    return parsed.number_sort == issue.number_sort + offset


def evaluate(release: Release, parsed: ParsedRelease | None, issue: WatchedIssue,
             series: WatchedSeries | None = None, *, history: History | None = None,
             formats: list[str] | None = None) -> Decision:
    """Accept or reject ``release`` for ``issue``; every check leaves a reason."""
    parsed = parsed or parse_release(release.title)
    series = series or issue.series
    history = history or History([release])
    decision = Decision(release, parsed, issue, series, accepted=True)
    offset = series.issue_offset or 0
    expected = f"{series.name} #{issue.number}"

    alias = alias_match(parsed, series)
    if alias is None:
        decision.reject(f"series {parsed.series!r} is not {series.name!r} or one of its aliases")
    if parsed.number is None:
        decision.reject("the release name has no issue number"
                        + (f" (a {parsed.book_format}, not a single issue)" if parsed.book_format else ""))
    elif not _issue_number_matches(parsed, issue, offset):
        shifted = f" (with the series' issue offset {offset:+d})" if offset else ""
        decision.reject(f"issue {parsed.number} is not the wanted issue {issue.number}{shifted}")
    if parsed.book_format in ("TPB", "HC", "GN", "OGN") and not issue.annual:
        decision.reject(f"a collected edition ({parsed.book_format}), not a single issue")
    if series.volume and parsed.volume and parsed.volume < 1000 and parsed.volume != series.volume:
        decision.reject(f"volume {parsed.volume} is not the watched volume {series.volume}")
    _check_year(decision, parsed, issue, series)
    if parsed.annual and not issue.annual:
        decision.reject("an annual, and the wanted issue is not one")
    elif issue.annual and not parsed.annual:
        decision.reject("not an annual, and the wanted issue is one")
    if parsed.annual and not series.want_annuals:
        decision.reject("annuals are not wanted for this series")
    _check_terms(decision, release, series)
    _check_size(decision, release, series)
    if history.blocked(release):
        decision.reject("the release is blocklisted")
    if history.grabbed(release):
        decision.reject("the release was grabbed before; never grab the same release twice")

    formats = formats if formats is not None else preferred_formats(series)
    _score(decision, formats, history)
    if decision.accepted:
        decision.reasons.insert(0, f"matches {expected} by alias {alias!r}")
    return decision


def _check_year(decision: Decision, parsed: ParsedRelease, issue: WatchedIssue,
                series: WatchedSeries) -> None:
    if parsed.year is None:
        return
    years = {y for y in (_year_of(issue.cover_date), _year_of(issue.store_date)) if y}
    if years:
        # Cover dates run months ahead of release dates: either may be named, +-1.
        if not any(abs(parsed.year - y) <= 1 for y in years):
            decision.reject(f"year {parsed.year} is not the issue's year "
                            f"{'/'.join(str(y) for y in sorted(years))} (+-1)")
    elif series.year and parsed.year < series.year - 1:
        decision.reject(f"year {parsed.year} is before the series began ({series.year})")


def _check_terms(decision: Decision, release: Release, series: WatchedSeries) -> None:
    title = release.title.casefold()
    for term in series.include_terms or []:
        if str(term).strip() and str(term).casefold() not in title:
            decision.reject(f"the title lacks the required term {term!r}")
    for term in series.exclude_terms or []:
        if str(term).strip() and str(term).casefold() in title:
            decision.reject(f"the title contains the excluded term {term!r}")


def _check_size(decision: Decision, release: Release, series: WatchedSeries) -> None:
    size = release.size
    if size is None:
        return
    if series.min_size and size < series.min_size:
        decision.reject(f"size {_mb(size)} is below the minimum {_mb(series.min_size)}")
    if series.max_size and size > series.max_size:
        decision.reject(f"size {_mb(size)} is above the maximum {_mb(series.max_size)}")


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _score(decision: Decision, formats: list[str], history: History) -> None:
    release, parsed = decision.release, decision.parsed
    fmt = parsed.format
    if fmt and fmt in formats:
        format_points = (len(formats) - formats.index(fmt)) * FORMAT_POINTS
        decision.reasons.append(f"format {fmt} is preference {formats.index(fmt) + 1} of {len(formats)}")
    else:
        format_points = 0
        decision.reasons.append(f"format {fmt} is not a preferred format" if fmt
                                else "the format is not named in the title")
    priority = history.priorities.get(release.indexer, DEFAULT_INDEXER_PRIORITY)
    priority = min(max(int(priority), 1), 50)
    seeders = release.seeders if release.protocol == "torrent" and release.seeders is not None else 0
    distance = abs(math.log(release.size / TYPICAL_ISSUE_BYTES)) if release.size else 10.0
    decision.score = format_points + (50 - priority)
    decision.sort_key = (-format_points, priority, -seeders, distance)


def rank(decisions: Iterable[Decision]) -> list[Decision]:
    """Accepted decisions, best first."""
    return sorted((d for d in decisions if d.accepted), key=lambda d: d.sort_key)


class SeriesIndex:
    """Watched series by every normalized name and alias, built once for a
    batch of releases: finding a release's series is then a few dict lookups
    instead of normalizing every alias of every series for every release."""

    def __init__(self, series: Iterable[WatchedSeries]):
        self.by_name: dict[str, list[WatchedSeries]] = {}
        for one in {s.id: s for s in series}.values():
            for name in series_names(one):
                self.by_name.setdefault(name, []).append(one)

    def find(self, parsed: ParsedRelease) -> tuple[str | None, list[WatchedSeries]]:
        """The longest alias the release is named by, and its series."""
        if parsed.series_key in self.by_name:
            exact = parsed.series_key
        else:
            exact = None
        best = exact
        if parsed.number:
            # The same fallback as alias_match: the title starts with the alias
            # and the number; the longest such alias wins.
            words = normalize_series(parsed.title).split()
            number = normalize_series(parsed.number)
            for end in range(len(words) - 1, 0, -1):
                if words[end] != number:
                    continue
                name = " ".join(words[:end])
                if name in self.by_name and (best is None or len(name) > len(best)):
                    best = name
        return best, (self.by_name[best] if best else [])


def match(release: Release, candidates: Iterable[WatchedIssue], *, history: History | None = None,
          parsed: ParsedRelease | None = None, index: SeriesIndex | None = None) -> list[Decision]:
    """Decisions for the watched issues ``release`` may be, best first.

    Among the candidates' series the one with the longest matching alias
    wins; its issues with the release's number are evaluated. A release that
    names no watched series, or no issue of it, gives one rejected decision
    for no issue, so the reason is still kept. Pass ``index`` (a
    :class:`SeriesIndex` of the candidates' series) when matching many.
    """
    parsed = parsed or parse_release(release.title)
    candidates = list(candidates)
    index = index or SeriesIndex(issue.series for issue in candidates)
    _alias, best_series = index.find(parsed)
    if not best_series:
        decision = Decision(release, parsed, None, None)
        decision.reject(f"{parsed.series!r} is no watched series")
        return [decision]
    history = history or History([release])
    chosen = {s.id for s in best_series}
    issues = [i for i in candidates if i.watched_series_id in chosen and parsed.number is not None
              and _issue_number_matches(parsed, i, i.series.issue_offset or 0)]
    if not issues:
        decision = Decision(release, parsed, None, best_series[0])
        what = f"issue {parsed.number}" if parsed.number else "a release without an issue number"
        decision.reject(f"{what} of {best_series[0].name!r} is not wanted")
        return [decision]
    decisions = [evaluate(release, parsed, issue, issue.series, history=history) for issue in issues]
    return sorted(decisions, key=lambda d: (not d.accepted, d.sort_key))


def naive_utc(moment: datetime | None) -> datetime | None:
    """A feed's aware timestamp as the naive UTC the columns store."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def record(decisions: Iterable[Decision], source: str) -> list[ReleaseDecision]:
    """Store decisions as ReleaseDecision rows (flushed, not committed)."""
    rows = []
    for decision in decisions:
        release = decision.release
        row = ReleaseDecision(
            watched_issue_id=decision.issue.id if decision.issue is not None else None,
            title=release.title[:1000], guid=(release.guid or None) and release.guid[:2000],
            indexer=release.indexer, source=source, accepted=decision.accepted,
            score=decision.score, reasons=list(decision.reasons),
            download_url=(release.download_url or None) and release.download_url[:4000],
            protocol=release.protocol, size=release.size, seeders=release.seeders,
            published=naive_utc(release.published))
        db.session.add(row)
        decision.row = row
        rows.append(row)
    db.session.flush()
    return rows
