"""Rows of the legacy ``/api`` in Comicarr's (Mylar's) field names, and the
lookups by provider id that its paths use.

``comic_id`` is the watched series' provider id (a ComicVine "4050-" prefix
is dropped), ``issue_id`` a watched issue's provider id, ``arc_id`` a story
arc's provider id, as in Comicarr. Status words are Mylar's: issues
Wanted/Skipped/Snatched/Downloaded/Ignored/Archived, series Active/Paused.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Iterable

from marshmallow import Schema, fields, validate
from sqlalchemy import case, func

from ...errors import NotFound
from ...extensions import db
from ...hookspecs import IssueResult, SeriesResult
from ...models.automation import (
    DOWNLOADED, MONITORED, PAUSED, StoryArc, WatchedIssue, WatchedSeries,
)
from ..validators import plain_text
from ..pagination import LimitOffsetArgs, page_query
from .common import EnvelopeSchema, page

SERIES_STATUS_WORDS = {MONITORED: "Active", PAUSED: "Paused"}
MAX_ID = 64  # the provider-id column width


def issue_status(state: str) -> str:
    return state.capitalize()


def series_status(status: str) -> str:
    return SERIES_STATUS_WORDS.get(status, status.capitalize())


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


# --- lookups ------------------------------------------------------------------------

def clean_id(raw: str) -> str:
    raw = raw.strip()
    if len(raw) > MAX_ID or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in raw):
        raise NotFound("No such id")  # never a valid provider id, and PostgreSQL refuses NUL
    return raw.split("-", 1)[1] if raw.startswith("4050-") or raw.startswith("4000-") else raw


def series_by_comic_id(comic_id: str) -> WatchedSeries:
    watched = db.session.scalars(db.select(WatchedSeries).where(
        WatchedSeries.provider_id == clean_id(comic_id)).order_by(WatchedSeries.id)).first()
    if watched is None:
        raise NotFound("Comic not found")
    return watched


def issue_by_issue_id(issue_id: str) -> WatchedIssue:
    issue = db.session.scalars(db.select(WatchedIssue).where(
        WatchedIssue.provider_id == clean_id(issue_id)).order_by(WatchedIssue.id)).first()
    if issue is None:
        raise NotFound("Issue not found")
    return issue


def arc_by_arc_id(arc_id: str) -> StoryArc:
    arc = db.session.scalars(db.select(StoryArc).where(
        StoryArc.provider_id == clean_id(arc_id)).order_by(StoryArc.id)).first()
    if arc is None:
        raise NotFound("Story arc not found")
    return arc


# --- series rows ------------------------------------------------------------------

def issue_counts(series_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Total, had and latest issue of each series, in one grouped query."""
    ids = list(series_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        db.select(WatchedIssue.watched_series_id, func.count(WatchedIssue.id),
                  func.sum(case((WatchedIssue.state == DOWNLOADED, 1), else_=0)),
                  func.max(WatchedIssue.number_sort))
        .where(WatchedIssue.watched_series_id.in_(ids))
        .group_by(WatchedIssue.watched_series_id)).all()
    counts = {sid: {"total": total, "have": int(have or 0), "latest_sort": latest}
              for sid, total, have, latest in rows}
    latest = db.session.execute(
        db.select(WatchedIssue.watched_series_id, WatchedIssue.number, WatchedIssue.store_date,
                  WatchedIssue.cover_date, WatchedIssue.number_sort)
        .where(WatchedIssue.watched_series_id.in_(ids))).all()
    for sid, number, store, cover, sort in latest:
        entry = counts.get(sid)
        if entry is not None and sort is not None and sort == entry["latest_sort"]:
            entry["latest"], entry["latest_date"] = number, store or cover
    return counts


def series_row(watched: WatchedSeries, counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """A series list row (Comicarr's COMICS_COLUMNS)."""
    counts = counts or {}
    return {
        "ComicID": watched.provider_id, "ComicName": watched.name,
        "ComicImage": watched.image_url, "Status": series_status(watched.status),
        "ComicPublisher": watched.publisher, "ComicYear": watched.year,
        "LatestIssue": counts.get("latest"), "Total": counts.get("total", 0),
        "Have": counts.get("have", 0), "DetailURL": watched.url, "ContentType": "comic",
        "MetadataSource": watched.provider,
    }


def watchlist_row(watched: WatchedSeries, counts: dict[str, Any] | None = None) -> dict[str, Any]:
    counts = counts or {}
    total, have = counts.get("total", 0), counts.get("have", 0)
    return {
        "ComicID": watched.provider_id, "ComicName": watched.name,
        "ComicSortName": watched.sort_name, "ComicPublisher": watched.publisher,
        "ComicYear": watched.year, "ComicImage": watched.image_url,
        "LatestIssue": counts.get("latest"), "LatestDate": counts.get("latest_date"),
        "ComicVolume": watched.volume, "Status": series_status(watched.status),
        "recentstatus": "Continuing" if watched.monitor_new else "Ended",
        "percent": round(100 * have / total) if total else 0,
        "totalissues": total, "haveissues": have, "DateAdded": _iso(watched.created_at),
        "Type": "Print", "MetadataSource": watched.provider,
    }


def comic_row(watched: WatchedSeries, counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every column of a series, for /api/comics and /api/comic/{id}."""
    return {**series_row(watched, counts), **watchlist_row(watched, counts),
            "ComicDescription": watched.description, "IssueCount": watched.issue_count,
            "LastUpdated": _iso(watched.last_refreshed_at),
            "LastSearched": _iso(watched.last_searched_at),
            "Aliases": watched.aliases or [], "MonitorNew": watched.monitor_new}


def with_counts(rows: list[WatchedSeries], serialize) -> list[dict[str, Any]]:
    counts = issue_counts(row.id for row in rows)
    return [serialize(row, counts.get(row.id)) for row in rows]


def series_page(args: dict[str, int], serialize) -> dict[str, Any]:
    """One page of watched series by name, their counts in one query."""
    rows, total = page_query(db.select(WatchedSeries).order_by(
        WatchedSeries.sort_name, WatchedSeries.id), args)
    return page(with_counts(rows, serialize), total, args["limit"], args["offset"])


# --- issue rows -------------------------------------------------------------------

def issue_detail(issue: WatchedIssue) -> dict[str, Any]:
    """An issue of a series detail (Comicarr's camelCase ISSUES_COLUMNS)."""
    return {"id": issue.provider_id, "name": issue.title, "imageURL": issue.image_url,
            "number": issue.number, "releaseDate": issue.store_date,
            "issueDate": issue.cover_date, "status": issue_status(issue.state),
            "comicName": issue.series.name}


def issue_row(issue: WatchedIssue) -> dict[str, Any]:
    """An issue in Mylar's column names (wanted, /comic/{id}/issues)."""
    series = issue.series
    return {"ComicName": series.name, "ComicYear": series.year, "ComicVersion": series.volume,
            "BookType": "Print", "ComicPublisher": series.publisher,
            "Issue_Number": issue.number, "IssueName": issue.title,
            "ReleaseDate": issue.store_date, "IssueDate": issue.cover_date,
            "Status": issue_status(issue.state), "ComicID": series.provider_id,
            "IssueID": issue.provider_id, "DateAdded": _iso(issue.created_at),
            "ImageURL": issue.image_url, "BookID": issue.book_id}


# --- provider results ---------------------------------------------------------------

def search_result(result: SeriesResult, watched_ids: set[str]) -> dict[str, Any]:
    """A provider search result (Comicarr's findComic row)."""
    have = result.provider_id in watched_ids
    return {"name": result.name, "comicyear": result.year, "comicid": result.provider_id,
            "url": result.url, "issues": result.issue_count, "comicimage": result.image_url,
            "comicthumb": result.image_url, "publisher": result.publisher,
            "description": result.description, "haveit": "Yes" if have else "No",
            "metadata_source": result.provider, "in_library": have}


def watched_ids(provider: str) -> set[str]:
    return set(db.session.scalars(db.select(WatchedSeries.provider_id).where(
        WatchedSeries.provider == provider)))


def provider_issue(result: IssueResult) -> dict[str, Any]:
    return {"IssueID": result.provider_id, "ComicID": result.series_id,
            "Issue_Number": result.number, "IssueName": result.title,
            "IssueDate": result.cover_date, "ReleaseDate": result.store_date,
            "Description": result.description, "ImageURL": result.image_url,
            "Credits": result.credits or {}}


# --- request bodies ---------------------------------------------------------------

class ProviderId(fields.String):
    """A provider id as Comicarr clients send it: ``12345`` or ``"4050-12345"``."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


def provider_id_field(description: str, **kwargs) -> ProviderId:
    return ProviderId(validate=[validate.Length(min=1, max=MAX_ID), plain_text],
                      metadata={"description": description}, **kwargs)


PROVIDER_FIELD = {"validate": [validate.Length(min=1, max=64), plain_text],
                  "metadata": {"description": "metadata provider (the default one if absent)"}}


class ComicIdBody(Schema):
    comic_id = provider_id_field("the provider's series id (a number or a string)")
    id = provider_id_field("same as comic_id (Comicarr accepts both)")
    provider = fields.String(**PROVIDER_FIELD)


class ProviderArgs(Schema):
    provider = fields.String(**PROVIDER_FIELD)


class SearchBody(LimitOffsetArgs):
    query = fields.String(validate=[validate.Length(min=1, max=200), plain_text])
    name = fields.String(validate=[validate.Length(min=1, max=200), plain_text],
                         metadata={"description": "same as query (Comicarr's name)"})
    year = fields.Integer(allow_none=True, validate=validate.Range(min=1800, max=3000))
    provider = fields.String(**PROVIDER_FIELD)


# Answers are the envelope; ``data`` is described by each endpoint's doc.
Envelope = EnvelopeSchema
