"""The catalogue's bulk writes (``comicsrv.library.catalog``), on either database."""
from __future__ import annotations

from sqlalchemy import event, select

from comicsrv.events import SeriesCreated
from comicsrv.extensions import db
from comicsrv.library.catalog import PAGE_COLUMNS, Catalog, bulk_insert
from comicsrv.library.reader import ScannedFile
from comicsrv.models import Page, Series
from tests.factories import BookFactory, LibraryFactory

# Characters PostgreSQL's COPY text format escapes, and strings it could
# take for its NULL marker.
AWKWARD_NAMES = ["a\tb.jpg", "c\\d.jpg", "e\nf.jpg", "g\rh.jpg", "\\N", "NULL", "", "caf\\xe9.jpg",
                 "ünïcödé 漫画.jpg", "x" * 2048]


def test_bulk_insert_keeps_every_character_and_null(app):
    book = BookFactory()
    rows = [(book.id, index, name, None if index % 2 else index * 1000, None, None,
             None if index % 3 else 640, None, None if index % 2 else "image/jpeg")
            for index, name in enumerate(AWKWARD_NAMES)]
    bulk_insert(Page.__table__, PAGE_COLUMNS, rows)
    db.session.commit()
    stored = db.session.execute(
        select(*(getattr(Page, column) for column in PAGE_COLUMNS))
        .where(Page.book_id == book.id).order_by(Page.index)).all()
    assert [tuple(row) for row in stored] == rows


def test_a_batch_creates_its_new_series_in_one_go(app, tmp_path):
    """Books of one series share it; each new series is announced once."""
    library = LibraryFactory(path=str(tmp_path))
    events = []

    class Bus:
        def publish(self, event, **kwargs):
            events.append(event)

    existing = Series(library_id=library.id, name="Old", sort_name="old")
    db.session.add(existing)
    db.session.commit()
    catalog = Catalog(library.id, str(tmp_path), Bus())
    items = [ScannedFile(path=str(tmp_path / series / f"{series} {n:03}.cbz"), size=1, mtime=0.0)
             for series in ("Alpha", "Beta", "Old") for n in (1, 2)]
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        written = catalog.write_batch(items, [])
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert sum(s.lstrip().upper().startswith("INSERT INTO SERIES") for s in statements) == 1, statements
    series = dict(db.session.execute(select(Series.name, Series.id)).all())
    assert set(series) == {"Alpha", "Beta", "Old"} and series["Old"] == existing.id
    assert [created.series_id for created in events if isinstance(created, SeriesCreated)] == [
        series["Alpha"], series["Beta"]]
    assert catalog.counts.series_created == 2
    by_path = {item.path: book_id for book_id, item in written}
    books = db.session.execute(select(Series.name).join(Series.books)
                               .where(Series.library_id == library.id)).scalars().all()
    assert sorted(books) == ["Alpha", "Alpha", "Beta", "Beta", "Old", "Old"]
    assert len(by_path) == 6
