"""``comicsrv.library.spans``: a book's stored pages as one compact array,
read with the book instead of its page rows."""
from __future__ import annotations

import zipfile

import pytest
from sqlalchemy import event

from comicsrv.extensions import db
from comicsrv.library import spans
from comicsrv.models import Book, Page
from tests.factories import api_key_for

PNG = b"\x89PNG\r\n\x1a\n"


def test_encode_and_read_back():
    encoded = spans.encode([(30, 100), (None, None), (200, 0), (-1, 5)])
    assert len(encoded) == 4 * 16
    assert spans.span(encoded, 0) == (30, 100)
    assert spans.span(encoded, 1) is None and spans.span(encoded, 3) is None
    assert spans.span(encoded, 2) == (200, 0)
    for outside in (-1, 4, 10**6):
        assert spans.span(encoded, outside) is None
    assert spans.encode([(None, 3), (None, None)]) is None  # nothing stored: no array
    assert spans.span(None, 0) is None and spans.span(b"", 0) is None


@pytest.fixture
def mixed_book(app, tmp_path):
    """A scanned CBZ of two stored pages around a deflated one."""
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB

    root = tmp_path / "mixed"
    root.mkdir()
    with zipfile.ZipFile(root / "Mixed 001.cbz", "w") as archive:
        archive.writestr("01.png", PNG + bytes(300), zipfile.ZIP_STORED)
        archive.writestr("02.png", PNG + bytes(3000), zipfile.ZIP_DEFLATED)
        archive.writestr("03.png", PNG + bytes(30), zipfile.ZIP_STORED)
    library = create_library("Mixed", str(root))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    return db.session.execute(db.select(Book)).scalar_one()


def test_a_scan_stores_the_ranges_of_the_pages_table(mixed_book):
    book = mixed_book
    rows = db.session.execute(db.select(Page).where(Page.book_id == book.id)
                              .order_by(Page.index)).scalars().all()
    assert [spans.span(book.page_spans, p.index) for p in rows] == [
        (rows[0].data_offset, rows[0].size), None, (rows[2].data_offset, rows[2].size)]
    with open(book.path, "rb") as raw:
        raw.seek(rows[2].data_offset)
        assert raw.read(rows[2].size) == PNG + bytes(30)


def test_a_page_request_is_one_query_and_reads_no_page_rows(client, mixed_book, reader):
    """Before: ``book.pages`` loaded every page row of the book for one."""
    headers = {"X-API-Key": api_key_for(reader, ["PagesRead"])}
    url = f"/api/v1/books/{mixed_book.id}/pages"
    assert client.get(f"{url}/1", headers=headers).status_code == 200  # resolves the key
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for number, expected in ((1, PNG + bytes(300)), (3, PNG + bytes(30)),
                                 (2, PNG + bytes(3000))):
            seen.clear()
            response = client.get(f"{url}/{number}", headers=headers)
            assert response.status_code == 200 and response.data == expected
            assert not [s for s in seen if "from pages" in s], number
            if number != 2:  # a stored page: the book's row and nothing else (no
                # query at all while the hot path still holds the row it read)
                assert len(seen) <= 1 and all("from books" in s for s in seen), seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
