"""What a user keeps beside the library: reading lists, and the services
their reading is synced to (Codex's integrations).

A reading list is ordered and belongs to one user (Codex's and Komga's
read lists, ComicBookLists' CBL files). Each entry names the book it was
matched to, and keeps what its source said about the issue (series,
number, volume, year, database ids) so an issue not in the library yet is
matched when it arrives.

A sync integration is configured by an admin once (a plugin's kind with
the server's settings: the tracker's address, an app's client id); each
user who wants it connects to it with their own settings (their token),
and their reading is pushed to it from where the last sync stopped.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .automation import IntegrationMixin
from .base import TimestampMixin


class ReadingList(TimestampMixin, db.Model):
    __tablename__ = "reading_lists"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
    # "cbl" when imported from a ComicBookLists file; None when made here.
    source: Mapped[str | None] = mapped_column(String(32))

    entries: Mapped[list[ReadingListEntry]] = relationship(
        back_populates="reading_list", passive_deletes=True, cascade="all, delete-orphan",
        order_by="ReadingListEntry.position")


class ReadingListEntry(db.Model):
    __tablename__ = "reading_list_entries"
    __table_args__ = (Index("ix_reading_list_entries_list_position", "list_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("reading_lists.id", ondelete="CASCADE"))
    # 0-based place in reading order.
    position: Mapped[int] = mapped_column(Integer)
    book_id: Mapped[int | None] = mapped_column(
        ForeignKey("books.id", ondelete="SET NULL"), index=True)
    # What the list's source says the issue is.
    series: Mapped[str | None] = mapped_column(String(500))
    number: Mapped[str | None] = mapped_column(String(32))
    volume: Mapped[str | None] = mapped_column(String(32))
    year: Mapped[int | None] = mapped_column(Integer)
    # {"cv": {"series": "18166", "issue": "105545"}, "metron": {...}}
    identifiers: Mapped[dict | None] = mapped_column(JSON)

    reading_list: Mapped[ReadingList] = relationship(back_populates="entries")


class SyncIntegration(IntegrationMixin, db.Model):
    """A sync target the admin set up (``/admin/integrations``)."""

    __tablename__ = "sync_integrations"

    last_error: Mapped[str | None] = mapped_column(Text)


class UserIntegration(TimestampMixin, db.Model):
    """One user's connection to a sync integration (``/user/integrations``)."""

    __tablename__ = "user_integrations"
    __table_args__ = (UniqueConstraint("user_id", "integration_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("sync_integrations.id", ondelete="CASCADE"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The user's own settings for it (their token); secrets never shown.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # Reading changed after this was not sent yet.
    synced_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_result: Mapped[dict | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)

    integration: Mapped[SyncIntegration] = relationship()
