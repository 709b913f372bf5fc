"""The *arr side: watched series and their issues, story arcs, the configured
indexers, download clients and notifiers, and what was grabbed and why.

A watched series comes from a metadata provider (``provider`` + its id) and
lists every issue the provider knows, each with a want state. Grabbing a
release creates a ``Download``; post-processing turns it into a library
``Book`` and links the issue to it. Every release looked at leaves a
``ReleaseDecision`` so a user can see why it was or was not grabbed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin, utcnow
from .library import PATH

# Watched series status.
MONITORED, PAUSED = "monitored", "paused"
SERIES_STATUSES = (MONITORED, PAUSED)

# Want states of an issue.
WANTED, SNATCHED, DOWNLOADED, SKIPPED, IGNORED, ARCHIVED = (
    "wanted", "snatched", "downloaded", "skipped", "ignored", "archived")
WANT_STATES = (WANTED, SNATCHED, DOWNLOADED, SKIPPED, IGNORED, ARCHIVED)

# Download states: queued/downloading at the client, completed there, then
# importing (post-processing), imported; or failed at any point.
(DL_QUEUED, DL_DOWNLOADING, DL_PAUSED, DL_COMPLETED, DL_IMPORTING, DL_IMPORTED,
 DL_FAILED, DL_REMOVED) = (
    "queued", "downloading", "paused", "completed", "importing", "imported", "failed",
    "removed")
DOWNLOAD_STATES = (DL_QUEUED, DL_DOWNLOADING, DL_PAUSED, DL_COMPLETED, DL_IMPORTING,
                   DL_IMPORTED, DL_FAILED, DL_REMOVED)
ACTIVE_DOWNLOAD_STATES = (DL_QUEUED, DL_DOWNLOADING, DL_PAUSED, DL_COMPLETED, DL_IMPORTING)


class WatchedSeries(TimestampMixin, db.Model):
    __tablename__ = "watched_series"
    __table_args__ = (UniqueConstraint("provider", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(500))
    sort_name: Mapped[str] = mapped_column(String(500), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    # The series' volume number when the provider gives one ("v2").
    volume: Mapped[int | None] = mapped_column(Integer)
    publisher: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    url: Mapped[str | None] = mapped_column(String(2000))
    issue_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=MONITORED)
    # Mark issues the provider announces later as wanted.
    monitor_new: Mapped[bool] = mapped_column(Boolean, default=True)
    library_id: Mapped[int | None] = mapped_column(
        ForeignKey("libraries.id", ondelete="SET NULL"), index=True)
    # Folder inside the library, relative to its root; None = from the template.
    folder: Mapped[str | None] = mapped_column(PATH)
    # Preferred formats, best first: ["cbz", "cbr", "cb7", "pdf"].
    formats: Mapped[list | None] = mapped_column(JSON)
    min_size: Mapped[int | None] = mapped_column(BigInteger)
    max_size: Mapped[int | None] = mapped_column(BigInteger)
    # Added to provider numbers to match release numbering (some series restart).
    issue_offset: Mapped[int] = mapped_column(Integer, default=0)
    # Other names releases use ("ASM" for "The Amazing Spider-Man").
    aliases: Mapped[list | None] = mapped_column(JSON)
    # Words a release title must contain / must not contain.
    include_terms: Mapped[list | None] = mapped_column(JSON)
    exclude_terms: Mapped[list | None] = mapped_column(JSON)
    want_annuals: Mapped[bool] = mapped_column(Boolean, default=False)
    # The library series its books were grouped into, once one exists.
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="SET NULL"), index=True)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_searched_at: Mapped[datetime | None] = mapped_column(DateTime)

    issues: Mapped[list[WatchedIssue]] = relationship(
        back_populates="series", passive_deletes=True, order_by="WatchedIssue.number_sort")


class WatchedIssue(TimestampMixin, db.Model):
    __tablename__ = "watched_issues"
    __table_args__ = (
        UniqueConstraint("watched_series_id", "provider_id"),
        Index("ix_watched_issues_state", "state", "store_date"),
        # Have/total per series (the Series pages) from the index alone.
        Index("ix_watched_issues_series_state", "watched_series_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    watched_series_id: Mapped[int] = mapped_column(
        ForeignKey("watched_series.id", ondelete="CASCADE"))
    provider_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    number_sort: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str | None] = mapped_column(String(1000))
    # ISO dates as the provider gives them ("2012-03-14", "2012-03").
    cover_date: Mapped[str | None] = mapped_column(String(10))
    store_date: Mapped[str | None] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    # {"Writer": ["Brian K. Vaughan"], "Artist": [...]}, for ComicInfo.xml.
    credits: Mapped[dict | None] = mapped_column(JSON)
    annual: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default=SKIPPED)
    state_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    book_id: Mapped[int | None] = mapped_column(
        ForeignKey("books.id", ondelete="SET NULL"), index=True)
    last_searched_at: Mapped[datetime | None] = mapped_column(DateTime)

    series: Mapped[WatchedSeries] = relationship(back_populates="issues")


class StoryArc(TimestampMixin, db.Model):
    __tablename__ = "story_arcs"
    __table_args__ = (UniqueConstraint("provider", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    last_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)

    entries: Mapped[list[StoryArcIssue]] = relationship(
        back_populates="arc", passive_deletes=True, order_by="StoryArcIssue.position")


class StoryArcIssue(db.Model):
    """One issue of an arc: its place in reading order, and the watched issue
    it is when its series is watched."""

    __tablename__ = "story_arc_issues"
    __table_args__ = (UniqueConstraint("arc_id", "provider_issue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    arc_id: Mapped[int] = mapped_column(ForeignKey("story_arcs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    provider_issue_id: Mapped[str] = mapped_column(String(64))
    provider_series_id: Mapped[str | None] = mapped_column(String(64))
    series_name: Mapped[str | None] = mapped_column(String(500))
    number: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(1000))
    cover_date: Mapped[str | None] = mapped_column(String(10))
    watched_issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("watched_issues.id", ondelete="SET NULL"), index=True)

    arc: Mapped[StoryArc] = relationship(back_populates="entries")


class IntegrationMixin(TimestampMixin):
    """A configured instance of a plugin's integration class (its ``kind``)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The plugin's own settings (url, api key, ...); secrets never leave the API.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)


class IndexerConfig(IntegrationMixin, db.Model):
    __tablename__ = "indexers"

    protocol: Mapped[str] = mapped_column(String(16), default="usenet")
    # 1 (most preferred) .. 50, as Sonarr and Prowlarr count.
    priority: Mapped[int] = mapped_column(Integer, default=25)
    enable_rss: Mapped[bool] = mapped_column(Boolean, default=True)
    enable_search: Mapped[bool] = mapped_column(Boolean, default=True)
    # Back-off after errors: no calls before ``disabled_until``.
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_rss_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set when Prowlarr (or another app) manages this indexer.
    managed_by: Mapped[str | None] = mapped_column(String(64))


class DownloadClientConfig(IntegrationMixin, db.Model):
    __tablename__ = "download_clients"

    protocol: Mapped[str] = mapped_column(String(16), default="torrent")
    priority: Mapped[int] = mapped_column(Integer, default=1)
    category: Mapped[str | None] = mapped_column(String(200))
    remove_completed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)


class RemotePathMapping(TimestampMixin, db.Model):
    """A download client reports paths as it sees them (inside its container);
    this says where comicsrv sees the same folder."""

    __tablename__ = "remote_path_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    download_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("download_clients.id", ondelete="CASCADE"), index=True)
    remote_path: Mapped[str] = mapped_column(PATH)
    local_path: Mapped[str] = mapped_column(PATH)


class NotificationTarget(IntegrationMixin, db.Model):
    __tablename__ = "notification_targets"

    # Which events it receives: grabbed, downloaded, failed, new_issue.
    events: Mapped[list | None] = mapped_column(JSON)
    # The outcome of the last delivery, for the UI: a failing target shows why.
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)


class Download(TimestampMixin, db.Model):
    """A release handed to a download client: the queue while active, the
    history afterwards."""

    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_state", "state", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    watched_issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("watched_issues.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(1000))
    guid: Mapped[str | None] = mapped_column(String(2000))
    download_url: Mapped[str | None] = mapped_column(String(4000))
    indexer: Mapped[str | None] = mapped_column(String(200))
    protocol: Mapped[str] = mapped_column(String(16))
    size: Mapped[int | None] = mapped_column(BigInteger)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("download_clients.id", ondelete="SET NULL"), index=True)
    # The client's own id: torrent info-hash, SABnzbd nzo_id, NZBGet NZBID.
    client_item_id: Mapped[str | None] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(16), default=DL_QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # Where the finished download lies, as comicsrv sees it (mapped).
    save_path: Mapped[str | None] = mapped_column(PATH)
    error: Mapped[str | None] = mapped_column(Text)
    score: Mapped[int | None] = mapped_column(Integer)
    # The post-processing job, and the book it produced.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id", ondelete="SET NULL"))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    imported_at: Mapped[datetime | None] = mapped_column(DateTime)


class BlockedRelease(db.Model):
    """A release never to grab again (it failed, or the user said so)."""

    __tablename__ = "blocked_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    guid: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(1000), index=True)
    indexer: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(1000))
    watched_issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("watched_issues.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReleaseDecision(db.Model):
    """Why one release was accepted or rejected for one issue (or for none)."""

    __tablename__ = "release_decisions"
    __table_args__ = (Index("ix_release_decisions_issue", "watched_issue_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    watched_issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("watched_issues.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(1000))
    guid: Mapped[str | None] = mapped_column(String(2000))
    indexer: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # search | rss | manual
    accepted: Mapped[bool] = mapped_column(Boolean)
    grabbed: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[int | None] = mapped_column(Integer)
    # Human-readable reasons: ["volume 2 is not the watched volume 1", ...].
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    # The release as the indexer offered it, so a user can look at a
    # decision later (interactive search) and grab it from there.
    download_url: Mapped[str | None] = mapped_column(String(4000))
    protocol: Mapped[str | None] = mapped_column(String(16))
    size: Mapped[int | None] = mapped_column(BigInteger)
    seeders: Mapped[int | None] = mapped_column(Integer)
    published: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class FeedItem(db.Model):
    """An item an RSS check has seen, so each is considered once."""

    __tablename__ = "feed_items"
    __table_args__ = (UniqueConstraint("indexer_id", "guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indexer_id: Mapped[int] = mapped_column(ForeignKey("indexers.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(1000))
    download_url: Mapped[str | None] = mapped_column(String(4000))
    size: Mapped[int | None] = mapped_column(BigInteger)
    published: Mapped[datetime | None] = mapped_column(DateTime)
    # The parsed release name (series, number, year ...).
    parsed: Mapped[dict | None] = mapped_column(JSON)
    watched_issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("watched_issues.id", ondelete="SET NULL"), index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
