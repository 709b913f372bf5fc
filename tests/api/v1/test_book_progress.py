"""Per-book progress (Codex) and the currently-reading list."""
import pytest

from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.models import ReadHistory, ReadingProgress
from tests.factories import BookFactory, LibraryFactory, UserFactory, api_key_for

PROGRESS_FIELDS = {"book_id", "current_page", "total_pages", "is_completed", "time_spent",
                   "started_at", "updated_at"}


@pytest.fixture
def book(app):
    return BookFactory(page_count=20)


def test_no_progress_is_404_no_progress(client, book, reader_headers):
    response = client.get(f"/api/v1/books/{book.id}/progress", headers=reader_headers)
    assert response.status_code == 404 and response.json["error"] == "no_progress"


def test_put_then_get(client, book, reader, reader_headers):
    url = f"/api/v1/books/{book.id}/progress"
    response = client.put(url, headers=reader_headers, json={"current_page": 7, "time_spent": 30})
    assert response.status_code == 200
    body = response.json
    assert set(body) == PROGRESS_FIELDS
    assert body["book_id"] == book.id and body["current_page"] == 7
    assert body["total_pages"] == 20 and body["is_completed"] is False and body["time_spent"] == 30
    assert client.get(url, headers=reader_headers).json == body
    # The shared service sees the same record: every surface reports page 7.
    assert reading.get_progress(reader.id, book.id).page == 7


def test_a_page_turn_costs_three_statements(app, client, book, reader, reader_headers):
    """Readers save their page on every turn: the book in one indexed query
    without its ORM row, the progress row, its update, and no reload of it
    to answer. The first save also clears the book's "new" mark."""
    from sqlalchemy import event

    from comicsrv.models import Book

    url = f"/api/v1/books/{book.id}/progress"
    assert book.is_new
    assert client.put(url, headers=reader_headers, json={"current_page": 3}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Book, book.id).is_new is False
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()[:3]).upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.put(url, headers=reader_headers, json={"current_page": 4})
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200 and response.json["current_page"] == 4
    assert [s.split()[0] for s in statements] == ["SELECT", "SELECT", "UPDATE"], statements
    assert "UPDATE READING_PROGRESS SET" in statements[2]


def test_last_page_completes_unless_told_otherwise(client, book, reader, reader_headers):
    url = f"/api/v1/books/{book.id}/progress"
    body = client.put(url, headers=reader_headers, json={"current_page": 20}).json
    assert body["is_completed"] is True
    assert db.session.query(ReadHistory).filter_by(user_id=reader.id).count() == 1
    body = client.put(url, headers=reader_headers,
                      json={"current_page": 20, "is_completed": False}).json
    assert body["is_completed"] is False
    body = client.put(url, headers=reader_headers,
                      json={"current_page": 3, "is_completed": True}).json
    assert body["is_completed"] is True and body["current_page"] == 3


@pytest.mark.parametrize("payload, error", [
    ({}, "validation_error"),
    ({"current_page": -1}, "validation_error"),
    ({"current_page": "five"}, "validation_error"),
    ({"current_page": 5, "is_completed": "maybe"}, "validation_error"),
    ({"current_page": 21}, "invalid_page"),
])
def test_bad_progress_is_400(client, book, reader_headers, payload, error):
    response = client.put(f"/api/v1/books/{book.id}/progress", headers=reader_headers,
                          json=payload)
    assert response.status_code == 400 and response.json["error"] == error
    assert db.session.query(ReadingProgress).count() == 0


def test_delete_clears(client, book, reader, reader_headers):
    url = f"/api/v1/books/{book.id}/progress"
    client.put(url, headers=reader_headers, json={"current_page": 4})
    response = client.delete(url, headers=reader_headers)
    assert response.status_code == 204
    assert client.get(url, headers=reader_headers).status_code == 404
    assert reading.get_progress(reader.id, book.id) is None
    # Clearing nothing is fine too.
    assert client.delete(url, headers=reader_headers).status_code == 204


def test_progress_is_per_user(client, book, reader_headers):
    client.put(f"/api/v1/books/{book.id}/progress", headers=reader_headers,
               json={"current_page": 4})
    other = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead", "BooksWrite"])}
    assert client.get(f"/api/v1/books/{book.id}/progress", headers=other).status_code == 404


def test_permissions_and_scope(client, book):
    read_only = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    url = f"/api/v1/books/{book.id}/progress"
    assert client.put(url, headers=read_only, json={"current_page": 1}).status_code == 403
    assert client.delete(url, headers=read_only).status_code == 403
    assert client.get(url).status_code == 401
    outsider = UserFactory(library_ids=[LibraryFactory().id])
    headers = {"X-API-Key": api_key_for(outsider, ["BooksRead", "BooksWrite"])}
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(url, headers=headers, json={"current_page": 1})
        assert response.status_code == 404 and response.json["error"] == "not_found", method
    missing = BookFactory(state="missing")
    assert client.put(f"/api/v1/books/{missing.id}/progress", headers=headers,
                      json={"current_page": 1}).status_code == 404


def test_currently_reading(client, reader, reader_headers):
    library = LibraryFactory()
    first, second, done, gone = (BookFactory(library=library, title=t)
                                 for t in ("First", "Second", "Done", "Gone"))
    hidden = BookFactory(title="Hidden")
    for book, page in ((first, 2), (done, 20), (gone, 3), (hidden, 4), (second, 5)):
        reading.save_progress(reader.id, book, reading.ProgressUpdate(page=page))
    other = BookFactory(library=library)
    reading.save_progress(UserFactory().id, other, reading.ProgressUpdate(page=1))
    gone.state = "missing"
    db.session.commit()
    reader.library_ids = [library.id]
    db.session.commit()

    body = client.get("/api/v1/progress/currently-reading", headers=reader_headers).json
    assert body["total"] == 2
    # Most recently read first; finished, missing, out-of-scope books and
    # other users' progress left out.
    assert [i["book"]["title"] for i in body["items"]] == ["Second", "First"]
    item = body["items"][0]
    assert set(item) == PROGRESS_FIELDS | {"book"}
    assert item["current_page"] == 5 and item["book"]["id"] == second.id
    assert item["book"]["progress"]["current_page"] == 5
    page = client.get("/api/v1/progress/currently-reading?page=2&page_size=1",
                      headers=reader_headers).json
    assert [i["book_id"] for i in page["items"]] == [first.id] and page["has_more"] is False
