"""RSS feeds as AutoBangumi manages them, in comic terms.

A feed is an ``IndexerConfig`` row of kind ``rss`` (any indexer with
``enable_rss`` is read as a feed too). Adding, enabling, refreshing one feed
or all of them, looking at what a feed held (``FeedItem`` rows with their
decision), analysing a URL without subscribing, and collecting every issue a
feed of a finished series offers. Refreshing goes through the same matching
and grabbing as the scheduled RSS check (``comicsrv.automation.search``).
"""
from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urlsplit

from sqlalchemy import or_

from ..errors import BadRequest, Conflict, NotFound
from ..extensions import db
from ..hookspecs import IntegrationError, Release
from ..models.automation import (
    SKIPPED, WANTED, FeedItem, IndexerConfig, ReleaseDecision, WatchedIssue, WatchedSeries,
)
from . import integrations
from .decisions import History, SeriesIndex, match, record
from .releases import parse_release

RSS_KIND = "rss"
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns
PROTOCOLS = ("torrent", "usenet")
# What collect considers missing: wanted, or skipped because the series was
# added after those issues came out.
COLLECTABLE_STATES = (WANTED, SKIPPED)


class FeedUnreadable(BadRequest):
    code = "feed_unreadable"


def feeds_query():
    return (db.select(IndexerConfig)
            .where(or_(IndexerConfig.kind == RSS_KIND, IndexerConfig.enable_rss.is_(True)))
            .order_by(IndexerConfig.priority, IndexerConfig.id))


def get_feed(feed_id: int) -> IndexerConfig:
    row = db.session.get(IndexerConfig, feed_id) if 0 < feed_id <= MAX_ID else None
    if row is None or not (row.kind == RSS_KIND or row.enable_rss):
        raise NotFound(f"No RSS feed {feed_id}")
    return row


def _feeds(ids: Iterable[int]) -> list[IndexerConfig]:
    ids = list(dict.fromkeys(ids))
    rows = [get_feed(feed_id) for feed_id in ids]  # all known, or nothing changes
    return rows


def _default_name(url: str) -> str:
    parts = urlsplit(url)
    return (f"{parts.netloc}{parts.path}".strip("/") or url)[:200]


def _unique_name(name: str, exclude_id: int | None = None) -> str:
    taken = db.session.execute(db.select(IndexerConfig.id).where(IndexerConfig.name == name)).scalar()
    if taken is not None and taken != exclude_id:
        raise Conflict(f"An indexer or feed named {name!r} exists already", code="name_taken")
    return name


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"{url!r} is not an http(s) URL", code="invalid_url")
    return url


def add_feed(url: str, *, name: str | None = None, protocol: str = "torrent",
             enabled: bool = True, priority: int = 25) -> IndexerConfig:
    """A new feed; an existing feed with the same URL is a 409."""
    _check_url(url)
    existing = [r for r in db.session.execute(
        db.select(IndexerConfig).where(IndexerConfig.kind == RSS_KIND)).scalars()
        if (r.settings or {}).get("url") == url]
    if existing:
        raise Conflict(f"Feed {existing[0].id} already reads {url}", code="feed_exists")
    row = IndexerConfig(name=_unique_name(name or _default_name(url)), kind=RSS_KIND,
                        protocol=protocol, enabled=enabled, priority=priority,
                        enable_rss=True, enable_search=False,
                        settings={"url": url, "protocol": protocol})
    db.session.add(row)
    db.session.commit()
    return row


def update_feed(feed_id: int, changes: dict[str, Any]) -> IndexerConfig:
    row = get_feed(feed_id)
    if "name" in changes:
        row.name = _unique_name(changes["name"], exclude_id=row.id)
    if "url" in changes or "protocol" in changes:
        if row.kind != RSS_KIND:
            raise BadRequest(f"{row.name} is a {row.kind} indexer: change its URL in its "
                             "indexer settings", code="not_a_feed")
        settings = dict(row.settings or {})
        if "url" in changes:
            settings["url"] = _check_url(changes["url"])
        if "protocol" in changes:
            settings["protocol"] = row.protocol = changes["protocol"]
        row.settings = settings
    for key in ("enabled", "priority"):
        if key in changes:
            setattr(row, key, changes[key])
    db.session.commit()
    return row


def set_enabled(ids: Iterable[int], enabled: bool) -> list[IndexerConfig]:
    rows = _feeds(ids)
    for row in rows:
        row.enabled = enabled
        if enabled:  # a feed switched back on is tried at once, not after its back-off
            row.disabled_until = None
    db.session.commit()
    return rows


def delete_feeds(ids: Iterable[int]) -> list[int]:
    rows = _feeds(ids)
    deleted = [row.id for row in rows]
    for row in rows:
        db.session.delete(row)
    db.session.commit()
    return deleted


def refresh(feed_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """Check one or more feeds now (enabled or not: the user asked), or with
    no ids every enabled feed through the scheduled check itself."""
    from . import search

    if feed_ids is None:
        return search.check_rss()
    return check_feeds(_feeds(feed_ids))


def check_feeds(rows: list[IndexerConfig]) -> dict[str, Any]:
    """The scheduled RSS check over ``rows`` only: new items kept as
    FeedItems with their decisions, the best release per wanted issue grabbed."""
    from .search import check_rss

    return check_rss(rows)


def items_query(feed_id: int):
    get_feed(feed_id)
    return (db.select(FeedItem).where(FeedItem.indexer_id == feed_id)
            .order_by(FeedItem.seen_at.desc(), FeedItem.id.desc()))


def describe_items(feed: IndexerConfig, items: list[FeedItem]) -> list[dict[str, Any]]:
    """Each item with the decision its RSS check left (accepted or not, why)."""
    guids = [item.guid for item in items]
    decisions: dict[str, ReleaseDecision] = {}
    if guids:
        for row in db.session.execute(
                db.select(ReleaseDecision)
                .where(ReleaseDecision.source == "rss", ReleaseDecision.indexer == feed.name,
                       ReleaseDecision.guid.in_(guids))
                .order_by(ReleaseDecision.accepted, ReleaseDecision.id)).scalars():
            decisions[row.guid] = row  # accepted (and newest) rows come last and win
    described = []
    for item in items:
        decision = decisions.get(item.guid)
        described.append({
            "id": item.id, "title": item.title, "guid": item.guid,
            "download_url": item.download_url, "size": item.size, "published": item.published,
            "seen_at": item.seen_at, "parsed": item.parsed or {},
            "watched_issue_id": item.watched_issue_id,
            "decision": None if decision is None else {
                "accepted": decision.accepted, "grabbed": decision.grabbed,
                "score": decision.score, "reasons": list(decision.reasons or [])}})
    return described


def read(url: str, protocol: str = "torrent") -> list[Release]:
    """A feed's releases, read once; an unreadable feed is a 400."""
    _check_url(url)
    plugin = integrations.build("indexer", RSS_KIND, {"url": url, "protocol": protocol},
                                name="analysis")
    try:
        return plugin.rss()
    except IntegrationError as exc:
        raise FeedUnreadable(str(exc) or "the feed cannot be read") from None
    except Exception as exc:  # whatever a hostile URL provokes, it is the URL's fault
        raise FeedUnreadable(f"the feed cannot be read: {type(exc).__name__}") from None


def analyse(url: str, protocol: str = "torrent") -> dict[str, Any]:
    """Read a feed without subscribing: each item parsed (series, number,
    year, format) with the watched series it names, if any."""
    releases = read(url, protocol)
    index = SeriesIndex(db.session.execute(db.select(WatchedSeries)).scalars())
    items, series_seen = [], {}
    for release in releases:
        parsed = parse_release(release.title)
        _alias, found = index.find(parsed)
        watched = found[0] if found else None
        if parsed.series_key:
            series_seen.setdefault(parsed.series_key, parsed.series)
        items.append({"title": release.title, "download_url": release.download_url,
                      "guid": release.guid, "size": release.size, "published": release.published,
                      "parsed": parsed.to_dict(),
                      "watched_series_id": watched.id if watched else None,
                      "watched_series": watched.name if watched else None})
    return {"url": url, "protocol": protocol, "total": len(items), "items": items,
            "series": sorted(series_seen.values(), key=str.casefold)}


def subscribe(url: str, **options: Any) -> tuple[IndexerConfig, dict[str, Any]]:
    """Add a feed and check it at once."""
    row = add_feed(url, **options)
    return row, check_feeds([row])


def collect(feed_id: int, watched_series_id: int | None = None) -> dict[str, Any]:
    """Grab every issue the feed offers that is still missing (wanted or
    skipped), as for a series whose run is complete; only of one watched
    series when given. The feed is read whole, not only its new items."""
    feed = get_feed(feed_id)
    query = (db.select(WatchedIssue).join(WatchedSeries)
             .where(WatchedIssue.state.in_(COLLECTABLE_STATES)))
    if watched_series_id is not None:
        if db.session.get(WatchedSeries, watched_series_id) is None:
            raise NotFound(f"No watched series {watched_series_id}")
        query = query.where(WatchedIssue.watched_series_id == watched_series_id)
    candidates = list(db.session.execute(query).scalars())
    try:
        releases = integrations.instance_for("indexer", feed).rss()
    except Exception as exc:  # IntegrationError, or settings the plugin cannot use
        raise FeedUnreadable(f"{feed.name}: {exc or type(exc).__name__}") from None
    for release in releases:
        release.indexer = feed.name
        if feed.kind == RSS_KIND:
            release.protocol = feed.protocol
    history = History(releases)
    index = SeriesIndex(issue.series for issue in candidates)
    best: dict[int, Any] = {}
    for release in releases:
        decisions = match(release, candidates, history=history, index=index)
        for decision in decisions:
            if decision.accepted and (decision.issue.id not in best or
                                      decision.sort_key < best[decision.issue.id].sort_key):
                best[decision.issue.id] = decision
    record(best.values(), "rss")
    db.session.commit()
    from .search import grab_best

    grabbed, errors = grab_best(best.values(), "rss")
    return {"feed_id": feed.id, "releases": len(releases), "candidates": len(candidates),
            "matched": len(best), "grabbed": grabbed, "grab_errors": errors}
