"""Reading state per user: progress, read history, favorites, to-read list.

Progress is keyed by book, not path, so it follows a file that was moved or
renamed (the scanner recognises it by ``arcid``) and is the same record for
every API surface.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import utcnow
from .library import PATH, Book, FsPath


class ReadingProgress(db.Model):
    __tablename__ = "reading_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "book_id"),
        Index("ix_reading_progress_user_updated", "user_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    # 1-based, as CLU and LANraragi clients send it.
    page: Mapped[int] = mapped_column(Integer, default=1)
    total_pages: Mapped[int | None] = mapped_column(Integer)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    time_spent: Mapped[int] = mapped_column(Integer, default=0)
    # The reader that saved this position, as the Readium progression API
    # names it (Thorium, Readest); None when the surface does not say.
    device_id: Mapped[str | None] = mapped_column(String(200))
    device_name: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    book: Mapped[Book] = relationship()


class ReadHistory(db.Model):
    """One row each time a user finishes a book (CLU's ``issues_read``)."""

    __tablename__ = "read_history"
    __table_args__ = (Index("ix_read_history_user_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    read_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    time_spent: Mapped[int] = mapped_column(Integer, default=0)


class Favorite(db.Model):
    """A favourited publisher, series, folder or book."""

    __tablename__ = "favorites"
    __table_args__ = (UniqueConstraint("user_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # publisher | series | folder | book
    kind: Mapped[str] = mapped_column(String(16))
    # A name, or the path of a folder or book (any path: see FsPath).
    value: Mapped[str] = mapped_column(FsPath(1000))
    path: Mapped[str | None] = mapped_column(PATH)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ToReadEntry(db.Model):
    """The "want to read" list: files and folders, as CLU shows them."""

    __tablename__ = "to_read"
    __table_args__ = (UniqueConstraint("user_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # file | folder
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(PATH)
    book_id: Mapped[int | None] = mapped_column(
        ForeignKey("books.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
