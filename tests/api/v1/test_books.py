"""``/api/v1/books``: lists, condition filters, detail, covers, analysis,
reading shelves and read/unread."""
import io
import os
from datetime import timedelta

import pytest
from PIL import Image

from comicsrv.archives import open_archive
from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.models import Book, Job, Page, ReadingProgress, utcnow
from tests.factories import (
    BookFactory, BookTagFactory, JobFactory, LibraryFactory, SeriesFactory, TagFactory,
    UserFactory, api_key_for,
)

BOOK_FIELDS = {"id", "arcid", "library_id", "series_id", "series_name", "publisher_id",
               "publisher", "title", "number", "volume", "year", "month", "day", "language",
               "filename", "path", "file_size", "format", "page_count", "state", "has_error",
               "error", "is_new", "version", "created_at", "updated_at", "modified_at",
               "progress"}


@pytest.fixture
def books(scanned_library):
    rows = db.session.execute(db.select(Book)).scalars().all()
    return {os.path.basename(b.path): b for b in rows}


def ids(body):
    return [item["id"] for item in body["items"]]


# -- lists ------------------------------------------------------------------------

def test_list_fields(client, books, admin_headers):
    body = client.get("/api/v1/books", headers=admin_headers).json
    assert body["total"] == 8 and body["page"] == 1 and body["page_size"] == 50
    item = next(i for i in body["items"] if i["filename"] == "Captain Science #001.cbz")
    assert set(item) == BOOK_FIELDS
    book = books["Captain Science #001.cbz"]
    assert item["id"] == book.id and item["arcid"] == book.arcid
    assert item["series_name"] == "Captain Science" and item["number"] == "1"
    assert item["publisher"] == "Youthful Adventure Stories"
    assert item["title"] == "The Beginning; The End" and item["year"] == 1950
    assert item["file_size"] == book.size and item["page_count"] == 5 and item["format"] == "cbz"
    assert item["state"] == "ok" and item["has_error"] is False and item["progress"] is None
    assert item["modified_at"].startswith(str(utcnow().year)[:2])
    broken = next(i for i in body["items"] if i["filename"] == "encrypted.cbz")
    assert broken["has_error"] is True and "password" in broken["error"]


def test_default_sort_is_title_then_file_name_ignoring_case(client, admin_headers):
    library = LibraryFactory()
    for title, filename in (("beta", "1.cbz"), (None, "Alpha.cbz"), ("Gamma", "0.cbz"),
                            (None, "delta.cbz")):
        BookFactory(library=library, title=title, filename=filename)
    body = client.get("/api/v1/books", headers=admin_headers).json
    assert [i["title"] or i["filename"] for i in body["items"]] == \
        ["Alpha.cbz", "beta", "delta.cbz", "Gamma"]
    body = client.get("/api/v1/books?sort=title&order=desc", headers=admin_headers).json
    assert [i["title"] or i["filename"] for i in body["items"]] == \
        ["Gamma", "delta.cbz", "beta", "Alpha.cbz"]


@pytest.mark.parametrize("query, attribute, reverse", [
    ("sort=file_size", "size", False),
    ("sort=file_size&order=desc", "size", True),
    ("sort=file_size,desc", "size", True),
    ("sort=page_count,asc&order=desc", "page_count", False),  # the sort's own direction wins
    ("sort=created_at,desc", "created_at", True),
    ("sort=modified_at", "mtime", False),
])
def test_sorts(client, admin_headers, query, attribute, reverse):
    library = LibraryFactory()
    now = utcnow()
    rows = [BookFactory(library=library, size=size, page_count=pages, mtime=mtime,
                        created_at=now - timedelta(days=age))
            for size, pages, mtime, age in ((300, 5, 30.0, 1), (100, 50, 10.0, 3),
                                            (200, 20, 20.0, 2))]
    expected = [b.id for b in sorted(rows, key=lambda b: getattr(b, attribute), reverse=reverse)]
    assert ids(client.get(f"/api/v1/books?{query}", headers=admin_headers).json) == expected


def test_number_sort_puts_unnumbered_books_last(client, admin_headers):
    series = SeriesFactory()
    two, none, ten, one = (BookFactory(library=series.library, series=series, number=n,
                                       number_sort=float(n) if n else None)
                           for n in ("2", None, "10", "1"))
    url = f"/api/v1/books?series_id={series.id}&sort=number"
    assert ids(client.get(url, headers=admin_headers).json) == [one.id, two.id, ten.id, none.id]
    assert ids(client.get(url + ",desc", headers=admin_headers).json) == \
        [ten.id, two.id, one.id, none.id]


def test_filters_and_paging(client, admin_headers):
    first, second = LibraryFactory(), LibraryFactory()
    series = SeriesFactory(library=first)
    in_series = [BookFactory(library=first, series=series, title=f"S{i}") for i in range(3)]
    BookFactory(library=first, title="Loose")
    BookFactory(library=second, title="Elsewhere")
    BookFactory(library=first, title="Gone", state="missing")
    body = client.get(f"/api/v1/books?library_id={first.id}", headers=admin_headers).json
    assert body["total"] == 4
    body = client.get(f"/api/v1/books?series_id={series.id}&page_size=2",
                      headers=admin_headers).json
    assert ids(body) == [b.id for b in in_series[:2]]
    assert (body["total"], body["total_pages"], body["has_more"]) == (3, 2, True)
    body = client.get(f"/api/v1/books?series_id={series.id}&page_size=2&page=2",
                      headers=admin_headers).json
    assert ids(body) == [in_series[2].id] and body["has_more"] is False
    assert client.get("/api/v1/books?page=0&page_size=5000",
                      headers=admin_headers).json["page_size"] == 200


@pytest.mark.parametrize("query, message", [
    ("sort=colour", "Unknown sort field 'colour'"),
    ("sort=title,sideways", "Sort direction is asc or desc"),
    ("order=up", "order"),
    ("library_id=abc", "library_id"),
    ("series_id=0", "series_id"),
])
def test_bad_list_arguments_are_400(client, admin_headers, query, message):
    response = client.get(f"/api/v1/books?{query}", headers=admin_headers)
    assert response.status_code == 400 and message in response.json["message"]


def test_books_outside_the_callers_libraries_are_hidden(client, books):
    other = LibraryFactory()
    mine = BookFactory(library=other)
    user = UserFactory(library_ids=[other.id])
    headers = {"X-API-Key": api_key_for(user, ["BooksRead"])}
    assert ids(client.get("/api/v1/books", headers=headers).json) == [mine.id]
    book = books["rar4.cbr"]
    for path in (f"/api/v1/books/{book.id}", f"/api/v1/books/{book.id}/thumbnail"):
        assert client.get(path, headers=headers).status_code == 404, path
    disabled = LibraryFactory(enabled=False)
    hidden = BookFactory(library=disabled)
    admin = client.get(f"/api/v1/books/{hidden.id}", headers={"X-API-Key": api_key_for(
        UserFactory(is_admin=True), ["SystemAdmin"])})
    assert admin.status_code == 404  # a disabled library's books are hidden from everyone


# -- condition list -------------------------------------------------------------------

def test_condition_list(client, books, admin_headers):
    body = client.post("/api/v1/books/list", headers=admin_headers, json={
        "condition": {"allOf": [{"genre": {"operator": "is", "value": "science fiction"}},
                                {"tag": {"operator": "isNull"}}]},
        "sort": "file_size,desc"}).json
    expected = sorted((b for b in books.values() if b.series_name == "Captain Science"),
                      key=lambda b: b.size, reverse=True)
    assert ids(body) == [b.id for b in expected]
    body = client.post("/api/v1/books/list", headers=admin_headers, json={
        "condition": {"hasError": {"operator": "is", "value": True}}, "pageSize": 1}).json
    assert body["total"] == 2 and body["page_size"] == 1 and body["has_more"] is True
    everything = client.post("/api/v1/books/list", headers=admin_headers, json={}).json
    assert everything["total"] == 8


def test_condition_list_with_full_text_search(client, books, admin_headers):
    body = client.post("/api/v1/books/list", headers=admin_headers, json={
        "fullTextSearch": "gordon",  # a character tag
        "condition": {"seriesId": {"operator": "isNotNull"}}}).json
    assert sorted(ids(body)) == sorted(books[n].id for n in ("Captain Science #001.cbz",
                                                              "Captain Science #001.cb7"))


@pytest.mark.parametrize("payload, message", [
    ({"condition": {"publisher": {"operator": "is", "value": "DC"}}}, "unknown field 'publisher'"),
    ({"condition": {"title": {"operator": "like", "value": "x"}}}, "unknown operator 'like'"),
    ({"condition": "title"}, "condition"),
    ({"sort": "name,asc"}, "Unknown sort field 'name'"),
    ({"fullTextSearch": "   "}, "empty"),
    ({"page": "two", "page_size": 3, "extra": 1}, "extra"),
])
def test_bad_condition_lists_are_400(client, admin_headers, payload, message):
    response = client.post("/api/v1/books/list", headers=admin_headers, json=payload)
    assert response.status_code == 400 and message in response.json["message"], response.json


def test_bad_bodies_are_400(client, admin_headers):
    for data in ("[1, 2]", "not json"):
        response = client.post("/api/v1/books/list", headers=admin_headers, data=data,
                               content_type="application/json")
        assert response.status_code == 400, data


# -- one book ---------------------------------------------------------------------------

def test_detail(client, books, admin_headers, admin):
    book = books["Captain Science #001.cbz"]
    body = client.get(f"/api/v1/books/{book.id}", headers=admin_headers).json
    assert set(body) == BOOK_FIELDS | {"metadata", "tags"}
    assert body["tags"] == {
        "age_rating": ["Teen"], "arc": ["Captain Arc", "Other Arc"],
        "character": ["Captain Science", "Gordon Dane"], "genre": ["Science Fiction"],
        "inker": ["Wally Wood"], "language": ["en"], "penciller": ["Wally Wood"],
        "publisher": ["Youthful Adventure Stories"], "writer": ["Joe Orlando"]}
    assert body["metadata"]["has_comicinfo"] is True and body["metadata"]["issue_count"] == 7
    assert set(body["metadata"]) == {"summary", "issue_count", "age_rating", "manga", "web",
                                     "has_comicinfo", "source", "identifiers"}
    assert body["page_count"] == 5 and body["progress"] is None
    reading.save_progress(admin.id, book, reading.ProgressUpdate(page=2))
    body = client.get(f"/api/v1/books/{book.id}", headers=admin_headers).json
    assert body["progress"]["current_page"] == 2 and body["progress"]["is_completed"] is False


def test_tags_without_namespace_are_listed_under_tag(client, admin_headers):
    book = BookFactory()
    BookTagFactory(book=book, tag=TagFactory(namespace="", name="favourite"))
    assert client.get(f"/api/v1/books/{book.id}", headers=admin_headers).json["tags"] == \
        {"tag": ["favourite"]}


def test_unknown_and_missing_books_are_404(client, admin_headers):
    missing = BookFactory(state="missing")
    for path in ("/api/v1/books/999999", f"/api/v1/books/{missing.id}",
                 f"/api/v1/books/{missing.id}/thumbnail"):
        response = client.get(path, headers=admin_headers)
        assert response.status_code == 404 and response.json["error"] == "not_found", path


def test_thumbnail(client, books, admin_headers):
    book = books["rar4.cbr"]
    url = f"/api/v1/books/{book.id}/thumbnail"
    response = client.get(url, headers=admin_headers)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    with Image.open(io.BytesIO(response.data)) as im:
        assert im.format == "JPEG"
    etag = response.headers["ETag"]
    assert etag == f'"{book.arcid}-0-400"'
    again = client.get(url, headers=admin_headers)  # now from the cover cache
    assert again.data == response.data and again.headers["ETag"] == etag
    cached = client.get(url, headers={**admin_headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""
    # Sizes are clamped to 64..2000 (and a cover is never upscaled).
    assert client.get(f"{url}?size=1", headers=admin_headers).headers["ETag"].endswith('-64"')
    unreadable = client.get(f"/api/v1/books/{books['encrypted.cbz'].id}/thumbnail",
                            headers=admin_headers)
    assert unreadable.status_code == 404 and unreadable.json["error"] == "media_unavailable"


def test_analyze_records_page_sizes(app, client, books, admin_headers):
    book = books["Captain Science #001.cbz"]
    response = client.post(f"/api/v1/books/{book.id}/analyze", headers=admin_headers)
    assert response.status_code == 202
    task = response.json
    assert task["task_type"] == "library.analyze"
    assert app.extensions["comicsrv.jobs"].wait(task["id"], timeout=60)
    job = db.session.get(Job, task["id"])
    db.session.refresh(job)
    assert job.state == "finished", job.error
    assert job.result == {"books": 1, "pages": 5, "unreadable_pages": 0, "unreadable_books": 0}
    with open_archive(book.path) as archive:
        expected = []
        for index in range(book.page_count):
            with Image.open(io.BytesIO(archive.read_page(index))) as im:
                expected.append(im.size)
    db.session.expire_all()
    rows = db.session.query(Page).filter_by(book_id=book.id).order_by(Page.index)
    assert [(p.width, p.height) for p in rows] == expected
    pages = client.get(f"/api/v1/books/{book.id}/pages", headers=admin_headers).json["items"]
    assert [(p["width"], p["height"]) for p in pages] == expected


def test_analyze_409_while_running_and_permissions(client, admin_headers, reader_headers):
    book = BookFactory()
    running = JobFactory(type="library.analyze", target=f"book:{book.id}", state="running")
    response = client.post(f"/api/v1/books/{book.id}/analyze", headers=admin_headers)
    assert response.status_code == 409 and response.json["details"]["id"] == running.id
    assert client.post(f"/api/v1/books/{book.id}/analyze", headers=reader_headers).status_code == 403
    assert client.post("/api/v1/books/999999/analyze", headers=admin_headers).status_code == 404


# -- read state and shelves ---------------------------------------------------------------

def test_read_and_unread(client, reader, reader_headers):
    book = BookFactory(page_count=12)
    response = client.post(f"/api/v1/books/{book.id}/read", headers=reader_headers)
    assert response.status_code == 200
    assert response.json["is_completed"] is True and response.json["current_page"] == 12
    assert reading.get_progress(reader.id, book.id).completed is True
    response = client.post(f"/api/v1/books/{book.id}/unread", headers=reader_headers)
    assert response.status_code == 204
    assert reading.get_progress(reader.id, book.id) is None
    read_only = {"X-API-Key": api_key_for(reader, ["BooksRead"])}
    assert client.post(f"/api/v1/books/{book.id}/read", headers=read_only).status_code == 403


def _progress(user, book, page, completed=False, minutes_ago=0):
    reading.save_progress(user.id, book, reading.ProgressUpdate(page=page, completed=completed))
    row = reading.get_progress(user.id, book.id)
    row.updated_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.commit()


def test_in_progress_and_recently_read(client, reader, reader_headers):
    library = LibraryFactory()
    older, newer, done, earlier_done = (BookFactory(library=library) for _ in range(4))
    _progress(reader, older, 2, minutes_ago=30)
    _progress(reader, newer, 3, minutes_ago=5)
    _progress(reader, done, 20, completed=True, minutes_ago=1)
    _progress(reader, earlier_done, 20, completed=True, minutes_ago=60)
    _progress(UserFactory(), BookFactory(library=library), 1)
    body = client.get("/api/v1/books/in-progress", headers=reader_headers).json
    assert ids(body) == [newer.id, older.id]
    assert body["items"][0]["progress"]["current_page"] == 3
    body = client.get("/api/v1/books/recently-read", headers=reader_headers).json
    assert ids(body) == [done.id, earlier_done.id]


def test_recently_added(client, admin_headers):
    library = LibraryFactory()
    now = utcnow()
    old = BookFactory(library=library, created_at=now - timedelta(days=2))
    new = BookFactory(library=library, created_at=now)
    middle = BookFactory(library=library, created_at=now - timedelta(days=1))
    BookFactory(library=library, created_at=now, state="missing")
    body = client.get("/api/v1/books/recently-added?page_size=2", headers=admin_headers).json
    assert ids(body) == [new.id, middle.id] and body["total"] == 3
    assert ids(client.get("/api/v1/books/recently-added?page=2&page_size=2",
                          headers=admin_headers).json) == [old.id]


def test_on_deck(client, reader, reader_headers):
    library = LibraryFactory()

    def series(count):
        s = SeriesFactory(library=library)
        return [BookFactory(library=library, series=s, number=str(n), number_sort=float(n))
                for n in range(1, count + 1)]

    started = series(3)  # #1 read: #2 is next
    _progress(reader, started[0], 20, completed=True, minutes_ago=30)
    busy = series(3)  # #1 read, #2 in progress: nothing on deck
    _progress(reader, busy[0], 20, completed=True)
    _progress(reader, busy[1], 4)
    series(2)  # never started
    finished = series(2)  # all read
    for book in finished:
        _progress(reader, book, 20, completed=True)
    gap = series(3)  # only #2 read: #1 is the first unopened
    _progress(reader, gap[1], 20, completed=True, minutes_ago=10)
    broken = series(3)  # #1 read, #2 unreadable: #3 is next
    _progress(reader, broken[0], 20, completed=True, minutes_ago=20)
    broken[1].state = "error"
    db.session.commit()
    shown = client.get("/api/v1/books/on-deck", headers=reader_headers).json
    # Series read most recently first.
    assert ids(shown) == [gap[0].id, broken[2].id, started[1].id]
    assert shown["total"] == 3
    # Someone else's reading puts nothing on this reader's deck.
    other = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    assert client.get("/api/v1/books/on-deck", headers=other).json["total"] == 0


def test_shelves_respect_scope(client, reader, reader_headers):
    shown, hidden = LibraryFactory(), LibraryFactory()
    visible_book, hidden_book = BookFactory(library=shown), BookFactory(library=hidden)
    for book in (visible_book, hidden_book):
        _progress(reader, book, 2)
    reader.library_ids = [shown.id]
    db.session.commit()
    for path in ("/api/v1/books/in-progress", "/api/v1/books/recently-added"):
        assert ids(client.get(path, headers=reader_headers).json) == [visible_book.id], path
    assert db.session.query(ReadingProgress).count() == 2
