"""Books as LANraragi tag strings, and tag strings back into tag rows."""
from datetime import datetime

from sqlalchemy import select

from comicsrv.extensions import db
from comicsrv.lrr.tags import (
    LrrTag,
    add_book_tags,
    book_tag_string,
    parse_tags,
    publication_epoch,
    set_book_tags,
)
from comicsrv.models import BookTag, Tag
from tests.factories import BookFactory, BookTagFactory, TagFactory


def test_parse_tags_splits_trims_and_deduplicates():
    assert parse_tags(" Artist:Fiona Staples ,genre:Sci-Fi, , space opera, ARTIST:fiona staples,"
                      " source:https://x.org/a:b, :odd, trailing:") == [
        LrrTag("artist", "Fiona Staples"), LrrTag("genre", "Sci-Fi"), LrrTag("", "space opera"),
        LrrTag("source", "https://x.org/a:b"), LrrTag("", ":odd"), LrrTag("", "trailing:")]
    assert parse_tags(None) == [] and parse_tags("") == []


def test_book_tags_order_and_artist_merge(app):
    book = BookFactory(series_name="Saga", web="https://example.org/saga/1", year=2012,
                       month=3, day=14, created_at=datetime(2024, 1, 2, 3, 4, 5))
    stored = [("penciller", "Fiona Staples"), ("inker", "Fiona Staples"), ("writer", "BKV"),
              ("", "space opera"), ("genre", "Sci-Fi"), ("mood", "grim"), ("language", "en"),
              ("series", "ignored: derived from the column"), ("genre", "sci-fi")]
    assert book_tag_string(book, stored) == (
        "series:Saga, artist:Fiona Staples, writer:BKV, genre:Sci-Fi, space opera, "
        "language:en, mood:grim, source:https://example.org/saga/1, timestamp:1331683200, "
        "date_added:1704164645")


def test_publication_date_tolerates_partial_and_bad_dates(app):
    assert publication_epoch(BookFactory.build(year=1950, month=None, day=None)) == -631152000
    assert publication_epoch(BookFactory.build(year=2021, month=2, day=31)) == 1612137600
    assert publication_epoch(BookFactory.build(year=None)) is None
    assert publication_epoch(BookFactory.build(year=0)) is None


def _rows(book):
    return sorted(db.session.execute(select(Tag.namespace, Tag.name, BookTag.source).join(
        BookTag, BookTag.tag_id == Tag.id).where(BookTag.book_id == book.id)).all())


def test_set_book_tags_keeps_matches_adds_user_tags_removes_the_rest(app):
    book = BookFactory()
    BookTagFactory(book=book, tag=TagFactory(namespace="penciller", name="Fiona Staples"))
    BookTagFactory(book=book, tag=TagFactory(namespace="genre", name="Sci-Fi"))
    existing = TagFactory(namespace="", name="space opera")
    set_book_tags(book, "artist:fiona staples, Space Opera, new:Thing, date_added:5, series:X")
    db.session.commit()
    assert _rows(book) == [("", "space opera", "user"), ("new", "Thing", "user"),
                           ("penciller", "Fiona Staples", "metadata")]
    assert db.session.get(Tag, existing.id) is not None
    set_book_tags(book, "")
    db.session.commit()
    assert _rows(book) == []


def test_add_book_tags_only_adds(app):
    book = BookFactory()
    BookTagFactory(book=book, tag=TagFactory(namespace="genre", name="Sci-Fi"))
    add_book_tags(book, "genre:sci-fi, extra")
    db.session.commit()
    assert _rows(book) == [("", "extra", "user"), ("genre", "Sci-Fi", "metadata")]
