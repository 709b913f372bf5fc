"""LANraragi categories: named collections of books for the archive API.

A static category lists its books; a dynamic one is a saved search (``search``
holds a LANraragi filter) and lists none. Ids keep LANraragi's form,
``SET_`` and ten digits, because clients check that length.

LANraragi has one user, so its categories are everyone's. Here a category
is either the server's (``owner_id`` None: every user sees it, and changing
it needs MetadataWrite) or one user's own, seen and changed by that user
only, like their favorites. Either way a user sees in it only the books of
the libraries they may see.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import TimestampMixin, utcnow


class Category(TimestampMixin, db.Model):
    __tablename__ = "categories"

    id: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    # Empty for a static category; a LANraragi search filter for a dynamic one.
    search: Mapped[str] = mapped_column(String(2000), default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    # The one category LANraragi's bookmark button adds to (at most one row).
    bookmark: Mapped[bool] = mapped_column(Boolean, default=False)
    last_used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # None: a server category; else the user whose own category this is
    # (deleted with them, like the rest of their reading data).
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)


class CategoryBook(db.Model):
    __tablename__ = "category_books"

    category_id: Mapped[str] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True)
    book_id: Mapped[int] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), primary_key=True, index=True)
    # Keeps the order books were added in, which LANraragi lists them by.
    position: Mapped[int] = mapped_column(Integer, default=0)


class TocEntry(db.Model):
    """A chapter mark of an archive (LANraragi's ``toc``): page and name."""

    __tablename__ = "lrr_toc_entries"

    book_id: Mapped[int] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(1000))


class Tankoubon(TimestampMixin, db.Model):
    """LANraragi's tankoubon: an ordered collection of archives read as one
    volume, with its own name, summary and tags. Ids keep LANraragi's form,
    ``TANK_`` and ten digits. Tankoubons are the server's, like LANraragi's:
    each user sees in one only the archives of the libraries they may see."""

    __tablename__ = "tankoubons"

    id: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(1000))
    summary: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="")
    # The cover a client chose (PUT thumbnail): one archive's page; None:
    # the first page of the first archive.
    cover_book_id: Mapped[int | None] = mapped_column(
        ForeignKey("books.id", ondelete="SET NULL"))
    cover_page: Mapped[int | None] = mapped_column(Integer)


class TankoubonBook(db.Model):
    __tablename__ = "tankoubon_books"

    tankoubon_id: Mapped[str] = mapped_column(
        ForeignKey("tankoubons.id", ondelete="CASCADE"), primary_key=True)
    book_id: Mapped[int] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Stamp(db.Model):
    """A stamp: a note pinned at a position on one page of an archive
    (LANraragi's stamp annotations). Ids keep LANraragi's form, ``STAMP_``
    and ten digits."""

    __tablename__ = "lrr_stamps"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    page: Mapped[int] = mapped_column(Integer)
    position: Mapped[str] = mapped_column(String(100), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
