"""``/api/v1/series``: lists, sorting, filters, search, shelves, covers,
analysis and read/unread."""
from datetime import timedelta

import pytest

from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.models import Job, Page, Series, utcnow
from tests.factories import (
    BookFactory, BookTagFactory, JobFactory, LibraryFactory, PublisherFactory, SeriesFactory,
    TagFactory, UserFactory, api_key_for,
)

SERIES_FIELDS = {"id", "library_id", "name", "sort_name", "volume", "year", "publisher_id",
                 "publisher", "summary", "path", "status", "issue_count", "book_count",
                 "page_count", "file_size", "read_count", "in_progress_count", "unread_count",
                 "last_read_at", "created_at", "updated_at"}


def names(body):
    return [item["name"] for item in body["items"]]


def _progress(user, book, page, completed=False, minutes_ago=0):
    reading.save_progress(user.id, book, reading.ProgressUpdate(page=page, completed=completed))
    row = reading.get_progress(user.id, book.id)
    row.updated_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.commit()


@pytest.fixture
def trio(app):
    """Three series with different figures: (name, books, pages each, size
    each, year, added days ago, last book change days ago)."""
    library = LibraryFactory()
    now = utcnow()
    made = {}
    for name, count, pages, size, year, added, changed in (
            ("Bravo", 3, 10, 100, 1990, 3, 0),
            ("alpha", 1, 50, 900, None, 1, 5),
            ("Charlie", 2, 20, 50, 1980, 2, 1)):
        series = SeriesFactory(library=library, name=name, year=year,
                               created_at=now - timedelta(days=added),
                               updated_at=now - timedelta(days=added))
        made[name] = [BookFactory(library=library, series=series, page_count=pages, size=size,
                                  number=str(n), number_sort=float(n),
                                  updated_at=now - timedelta(days=changed))
                      for n in range(1, count + 1)]
    return made


def test_list_fields_and_figures(client, scanned_library, admin_headers, admin):
    body = client.get("/api/v1/series", headers=admin_headers).json
    assert body["total"] == 6
    item = next(i for i in body["items"] if i["name"] == "Captain Science")
    assert set(item) == SERIES_FIELDS
    assert item["library_id"] == scanned_library.id
    assert item["publisher"] == "Youthful Adventure Stories" and item["year"] == 1950
    assert item["book_count"] == 3 and item["page_count"] == 15
    assert item["status"] == "ended" and item["issue_count"] == 7  # ComicInfo Count
    assert (item["read_count"], item["in_progress_count"], item["unread_count"]) == (0, 0, 3)
    series = db.session.get(Series, item["id"])
    # Taken once: the commit of mark_read expires series.books, and PostgreSQL
    # may load it again in another order (books[1] was then the read book).
    books = sorted(series.books, key=lambda b: b.id)
    reading.mark_read(admin.id, books[0])
    reading.save_progress(admin.id, books[1], reading.ProgressUpdate(page=2))
    item = client.get(f"/api/v1/series/{series.id}", headers=admin_headers).json
    assert (item["read_count"], item["in_progress_count"], item["unread_count"]) == (1, 1, 1)
    assert item["last_read_at"] is not None
    komga = next(i for i in body["items"] if i["name"] == "komga")
    assert komga["status"] == "ongoing" and komga["issue_count"] is None


@pytest.mark.parametrize("sort, expected", [
    (None, ["alpha", "Bravo", "Charlie"]),
    ("name,desc", ["Charlie", "Bravo", "alpha"]),
    ("date_added", ["Bravo", "Charlie", "alpha"]),
    ("date_added,desc", ["alpha", "Charlie", "Bravo"]),
    ("date_updated,desc", ["Bravo", "Charlie", "alpha"]),
    ("release_date", ["Charlie", "Bravo", "alpha"]),  # no year: last
    ("release_date,desc", ["Bravo", "Charlie", "alpha"]),
    ("book_count,desc", ["Bravo", "Charlie", "alpha"]),
    ("file_size", ["Charlie", "Bravo", "alpha"]),
    ("page_count", ["Bravo", "Charlie", "alpha"]),
    ("page_count,desc", ["alpha", "Charlie", "Bravo"]),
])
def test_sorts(client, trio, admin_headers, sort, expected):
    query = f"?sort={sort}" if sort else ""
    assert names(client.get(f"/api/v1/series{query}", headers=admin_headers).json) == expected


def test_sort_by_date_read(client, trio, reader, reader_headers):
    _progress(reader, trio["Charlie"][0], 2, minutes_ago=10)
    _progress(reader, trio["alpha"][0], 2, minutes_ago=1)
    body = client.get("/api/v1/series?sort=date_read,desc", headers=reader_headers).json
    assert names(body) == ["alpha", "Charlie", "Bravo"]  # never read: last
    body = client.get("/api/v1/series?sort=date_read&order=asc", headers=reader_headers).json
    assert names(body) == ["Charlie", "alpha", "Bravo"]


def test_filters(client, admin_headers):
    first, second = LibraryFactory(), LibraryFactory()
    dc = PublisherFactory(name="DC Comics")
    batman = SeriesFactory(library=first, name="Batman", publisher_id=dc.id)
    SeriesFactory(library=second, name="Superman", publisher_id=dc.id)
    SeriesFactory(library=first, name="Spawn")
    empty = SeriesFactory(library=first, name="Only Missing")
    for series in db.session.query(Series).all():
        BookFactory(library=series.library, series=series,
                    state="missing" if series.id == empty.id else "ok")
    assert names(client.get(f"/api/v1/series?library_id={first.id}",
                            headers=admin_headers).json) == ["Batman", "Spawn"]
    assert names(client.get("/api/v1/series?publisher=dc%20comics",
                            headers=admin_headers).json) == ["Batman", "Superman"]
    assert names(client.get(f"/api/v1/series?publisher=DC%20Comics&library_id={second.id}",
                            headers=admin_headers).json) == ["Superman"]
    assert names(client.get("/api/v1/series?q=man", headers=admin_headers).json) == \
        ["Batman", "Superman"]
    # A series whose files are all missing is not shown.
    assert client.get(f"/api/v1/series/{empty.id}", headers=admin_headers).status_code == 404
    assert batman.id in [i["id"] for i in client.get("/api/v1/series",
                                                     headers=admin_headers).json["items"]]


def test_q_ranks_name_matches_first(client, admin_headers):
    library = LibraryFactory()
    for name, summary in (("Amazing Tales", "spider stories"), ("Spider-Man", None),
                          ("The Spider", None)):
        BookFactory(library=library, series=SeriesFactory(library=library, name=name,
                                                          summary=summary))
    body = client.get("/api/v1/series?q=spider&sort=name,desc", headers=admin_headers).json
    assert names(body) == ["Spider-Man", "The Spider", "Amazing Tales"]


@pytest.mark.parametrize("query, message", [
    ("sort=title", "Unknown sort field 'title'"),
    ("sort=name,up", "asc or desc"),
    ("library_id=x", "library_id"),
    ("q=", "q"),
])
def test_bad_list_arguments_are_400(client, admin_headers, query, message):
    response = client.get(f"/api/v1/series?{query}", headers=admin_headers)
    assert response.status_code == 400 and message in response.json["message"]


def test_scope(client, trio):
    other = LibraryFactory()
    BookFactory(library=other, series=SeriesFactory(library=other, name="Mine"))
    user = UserFactory(library_ids=[other.id])
    headers = {"X-API-Key": api_key_for(user, ["SeriesRead", "BooksRead"])}
    assert names(client.get("/api/v1/series", headers=headers).json) == ["Mine"]
    series_id = trio["alpha"][0].series_id
    for path in (f"/api/v1/series/{series_id}", f"/api/v1/series/{series_id}/books",
                 f"/api/v1/series/{series_id}/thumbnail"):
        assert client.get(path, headers=headers).status_code == 404, path
    assert client.post(f"/api/v1/series/{series_id}/read", headers={
        "X-API-Key": api_key_for(user, ["BooksWrite"])}).status_code == 404
    assert client.get("/api/v1/series").status_code == 401


# -- condition list and search ---------------------------------------------------------

def test_condition_list(client, trio, reader, reader_headers):
    action, horror = TagFactory(namespace="genre", name="Action"), TagFactory(namespace="genre",
                                                                               name="Horror")
    BookTagFactory(book=trio["Bravo"][0], tag=action)
    BookTagFactory(book=trio["Charlie"][0], tag=action)
    BookTagFactory(book=trio["Charlie"][1], tag=horror)
    _progress(reader, trio["alpha"][0], 50, completed=True)
    payload = {"condition": {"allOf": [{"genre": {"operator": "is", "value": "Action"}},
                                       {"genre": {"operator": "isNot", "value": "Horror"}}]}}
    body = client.post("/api/v1/series/list", headers=reader_headers, json=payload).json
    assert names(body) == ["Bravo"]
    body = client.post("/api/v1/series/list", headers=reader_headers, json={
        "condition": {"anyOf": [{"genre": {"operator": "isNotNull"}},
                                {"readStatus": {"operator": "is", "value": "read"}}]},
        "sort": "book_count,desc", "page": 1, "pageSize": 2}).json
    assert names(body) == ["Bravo", "Charlie"] and body["total"] == 3 and body["has_more"]
    body = client.post("/api/v1/series/list", headers=reader_headers,
                       json={"fullTextSearch": "char"}).json
    assert names(body) == ["Charlie"]


@pytest.mark.parametrize("payload, message", [
    ({"condition": {"title": {"operator": "is", "value": "x"}}}, "unknown field 'title'"),
    ({"condition": {"name": {"operator": "matches", "value": "x"}}}, "unknown operator 'matches'"),
    ({"condition": {"readStatus": {"operator": "is", "value": "half"}}}, "readStatus is one of"),
    ({"sort": "size"}, "Unknown sort field 'size'"),
])
def test_bad_condition_lists_are_400(client, admin_headers, payload, message):
    response = client.post("/api/v1/series/list", headers=admin_headers, json=payload)
    assert response.status_code == 400 and message in response.json["message"]


def test_search(client, scanned_library, admin_headers):
    body = client.post("/api/v1/series/search", headers=admin_headers,
                       json={"query": "wally wood"}).json  # a penciller tag
    assert names(body) == ["Captain Science"]
    body = client.post("/api/v1/series/search", headers=admin_headers,
                       json={"query": "komga", "page_size": 2}).json
    # The publisher of five series: the one named so first, then by name.
    assert body["total"] == 5 and names(body) == ["komga", "empty"]
    body = client.post("/api/v1/series/search", headers=admin_headers,
                       json={"query": "komga", "library_id": scanned_library.id + 1}).json
    assert body["total"] == 0
    for payload in ({}, {"query": ""}, {"query": "x" * 201}):
        response = client.post("/api/v1/series/search", headers=admin_headers, json=payload)
        assert response.status_code == 400, payload


# -- shelves ---------------------------------------------------------------------------

def test_in_progress(client, trio, reader, reader_headers):
    _progress(reader, trio["Bravo"][0], 10, completed=True, minutes_ago=20)  # 1 of 3 read
    _progress(reader, trio["Charlie"][0], 3, minutes_ago=5)  # started
    for book in trio["alpha"]:
        _progress(reader, book, 50, completed=True)  # finished: not in progress
    body = client.get("/api/v1/series/in-progress", headers=reader_headers).json
    assert names(body) == ["Charlie", "Bravo"]
    other = {"X-API-Key": api_key_for(UserFactory(), ["SeriesRead"])}
    assert client.get("/api/v1/series/in-progress", headers=other).json["total"] == 0


def test_recently_added_and_updated(client, trio, admin_headers):
    assert names(client.get("/api/v1/series/recently-added", headers=admin_headers).json) == \
        ["alpha", "Charlie", "Bravo"]
    assert names(client.get("/api/v1/series/recently-updated", headers=admin_headers).json) == \
        ["Bravo", "Charlie", "alpha"]
    library_id = trio["alpha"][0].library_id
    body = client.get(f"/api/v1/series/recently-added?library_id={library_id + 1}",
                      headers=admin_headers).json
    assert body["total"] == 0


# -- one series ------------------------------------------------------------------------

def test_books_of_a_series_in_issue_order(client, trio, admin_headers):
    series_id = trio["Bravo"][0].series_id
    body = client.get(f"/api/v1/series/{series_id}/books", headers=admin_headers).json
    assert [i["number"] for i in body["items"]] == ["1", "2", "3"]
    body = client.get(f"/api/v1/series/{series_id}/books?sort=number,desc&page_size=2",
                      headers=admin_headers).json
    assert [i["number"] for i in body["items"]] == ["3", "2"] and body["has_more"] is True
    assert client.get("/api/v1/series/999999", headers=admin_headers).status_code == 404


def test_thumbnail_is_the_first_issues_cover(client, scanned_library, admin_headers):
    series = db.session.query(Series).filter_by(name="Captain Science").one()
    first = sorted((b for b in series.books if b.state == "ok"),
                   key=lambda b: (b.number_sort, b.filename, b.id))[0]
    url = f"/api/v1/series/{series.id}/thumbnail"
    response = client.get(url, headers=admin_headers)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["ETag"] == f'"{first.arcid}-0-400"'
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    cached = client.get(url, headers={**admin_headers, "If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304
    broken = db.session.query(Series).filter_by(name="encrypted").one()
    response = client.get(f"/api/v1/series/{broken.id}/thumbnail", headers=admin_headers)
    assert response.status_code == 404 and response.json["error"] == "cover_unavailable"


def test_analyze_a_series(app, client, scanned_library, admin_headers):
    series = db.session.query(Series).filter_by(name="Captain Science").one()
    response = client.post(f"/api/v1/series/{series.id}/analyze", headers=admin_headers)
    assert response.status_code == 202
    assert app.extensions["comicsrv.jobs"].wait(response.json["id"], timeout=60)
    job = db.session.get(Job, response.json["id"])
    db.session.refresh(job)
    assert job.state == "finished" and job.result["books"] == 3 and job.result["pages"] == 15
    assert job.target == f"series:{series.id}"
    db.session.expire_all()
    unmeasured = db.session.query(Page).filter(
        Page.book_id.in_([b.id for b in series.books]), Page.width.is_(None)).count()
    assert unmeasured == 0


def test_analyze_409_and_permissions(client, trio, admin_headers, reader_headers):
    series_id = trio["alpha"][0].series_id
    JobFactory(type="library.analyze", target=f"series:{series_id}", state="queued")
    response = client.post(f"/api/v1/series/{series_id}/analyze", headers=admin_headers)
    assert response.status_code == 409 and response.json["error"] == "analysis_running"
    assert client.post(f"/api/v1/series/{series_id}/analyze",
                       headers=reader_headers).status_code == 403


def test_read_and_unread(client, trio, reader, reader_headers):
    books = trio["Bravo"]
    _progress(reader, books[0], 10, completed=True, minutes_ago=60)
    kept = reading.get_progress(reader.id, books[0].id).updated_at
    series_id = books[0].series_id
    response = client.post(f"/api/v1/series/{series_id}/read", headers=reader_headers)
    assert response.status_code == 200
    assert response.json["changed"] == 2
    assert response.json["series"]["read_count"] == 3
    assert response.json["series"]["unread_count"] == 0
    assert all(reading.get_progress(reader.id, b.id).completed for b in books)
    assert reading.get_progress(reader.id, books[0].id).updated_at == kept
    response = client.post(f"/api/v1/series/{series_id}/unread", headers=reader_headers)
    assert response.status_code == 200 and response.json["changed"] == 3
    assert response.json["series"]["read_count"] == 0
    assert all(reading.get_progress(reader.id, b.id) is None for b in books)
    read_only = {"X-API-Key": api_key_for(reader, ["SeriesRead"])}
    assert client.post(f"/api/v1/series/{series_id}/read", headers=read_only).status_code == 403
