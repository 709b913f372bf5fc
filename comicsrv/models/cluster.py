"""What the processes of one deployment share besides the domain tables:
who is running (``cluster_nodes``), events too big for a NOTIFY
(``event_payloads``), and the requests counted against providers' quotas
(``rate_limit_hits``). See ``comicsrv.cluster``."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import utcnow


class ClusterNode(db.Model):
    """One running process, refreshed every few seconds while it lives. On
    PostgreSQL only: a SQLite deployment is one process."""

    __tablename__ = "cluster_nodes"

    # host:pid:<nonce>, as jobs name their owner.
    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    # A fingerprint of SECRET_KEY (never the key): processes that disagree on
    # it break each other's sessions and split the login throttle.
    key_id: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # Holds the scheduler's advisory lock: fires the triggers.
    leader: Mapped[bool] = mapped_column(Boolean, default=False)
    # The leader's schedules with their next run, for status pages served by
    # other processes.
    schedules: Mapped[list | None] = mapped_column(JSON)


class EventPayload(db.Model):
    """An event batch too big for one NOTIFY (8000 bytes): the notification
    carries only this row's id. Rows are deleted after an hour."""

    __tablename__ = "event_payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    body: Mapped[str] = mapped_column(Text)


class RateLimitHit(db.Model):
    """One request sent to a rate-limited service, under the key its quota
    counts (``comicvine:volume``, ``metron``). A sliding window is a count
    of a key's rows newer than the window's length."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    # Seconds since the epoch by the database's clock (PostgreSQL): every
    # host counts on the same clock, whatever their own clocks say.
    at: Mapped[float] = mapped_column(Float)
