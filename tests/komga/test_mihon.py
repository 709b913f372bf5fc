"""Mihon's Komga extension (keiyoushi/extensions-source, src/all/komga),
request by request: its address is ``<server>/komga``, it sends Basic only
after a 401, and every field its kotlinx.serialization DTOs declare
non-null must be there with the right type (a missing one fails the whole
list in the app)."""
from __future__ import annotations

from typing import Any

import pytest

from comicsrv.extensions import db
from comicsrv.models import Book, Favorite, ReadingList, ReadingListEntry, utcnow

from .conftest import basic

BASE = "/komga"
# The DTOs of Mihon's extension (dto/Dto.kt, dto/PageWrapperDto.kt): field ->
# type; "?" after a type: nullable; a dict: a nested DTO; a list: its items.
AUTHOR = {"name": str, "role": str}
LIBRARY = {"id": str, "name": str}
SERIES = {
    "id": str, "libraryId": str, "name": str, "created": "str?", "lastModified": "str?",
    "fileLastModified": str, "booksCount": int,
    "metadata": {"status": str, "created": "str?", "lastModified": "str?", "title": str,
                 "titleSort": str, "summary": str, "summaryLock": bool,
                 "readingDirection": str, "readingDirectionLock": bool, "publisher": str,
                 "publisherLock": bool, "ageRating": "int?", "ageRatingLock": bool,
                 "language": str, "languageLock": bool, "genres": [str], "genresLock": bool,
                 "tags": [str], "tagsLock": bool, "totalBookCount": "int?"},
    "booksMetadata": {"authors": [AUTHOR], "tags": [str], "releaseDate": "str?",
                      "summary": str, "summaryNumber": str, "created": str,
                      "lastModified": str},
}
BOOK = {
    "id": str, "seriesId": str, "seriesTitle": str, "name": str, "number": float,
    "created": "str?", "lastModified": "str?", "fileLastModified": str, "sizeBytes": int,
    "size": str,
    "media": {"status": str, "mediaType": str, "pagesCount": int, "mediaProfile": str,
              "epubDivinaCompatible": bool},
    "metadata": {"title": str, "titleLock": bool, "summary": str, "summaryLock": bool,
                 "number": str, "numberLock": bool, "numberSort": float,
                 "numberSortLock": bool, "releaseDate": "str?", "releaseDateLock": bool,
                 "authors": [AUTHOR], "authorsLock": bool, "tags": [str], "tagsLock": bool},
}
PAGE = {"number": int, "fileName": str, "mediaType": str}
COLLECTION = {"id": str, "name": str, "ordered": bool, "seriesIds": [str], "createdDate": str,
              "lastModifiedDate": str, "filtered": bool}
READ_LIST = {"id": str, "name": str, "summary": str, "bookIds": [str], "createdDate": str,
             "lastModifiedDate": str, "filtered": bool}
WRAPPER = {"empty": bool, "first": bool, "last": bool, "number": int, "numberOfElements": int,
           "size": int, "totalElements": int, "totalPages": int}
TYPES = {"str": str, "int": int, "bool": bool, "float": float}


def check(value: Any, shape: Any, where: str = "") -> None:
    """``value`` parses as Mihon's DTO ``shape``."""
    if isinstance(shape, str):
        nullable = shape.endswith("?")
        if value is None:
            assert nullable, f"{where} is null"
            return
        shape = TYPES[shape.rstrip("?")]
    if isinstance(shape, dict):
        assert isinstance(value, dict), f"{where} is not an object"
        for name, inner in shape.items():
            assert name in value, f"{where}.{name} is missing"
            check(value[name], inner, f"{where}.{name}")
    elif isinstance(shape, list):
        assert isinstance(value, list), f"{where} is not a list"
        for index, item in enumerate(value):
            check(item, shape[0], f"{where}[{index}]")
    elif shape is float:  # Kotlin reads a JSON integer as a Float too
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    elif shape is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r}"
    else:
        assert isinstance(value, shape), f"{where}: {value!r} is not {shape.__name__}"


def page_of(body: dict, item: dict) -> list[dict]:
    check(body, WRAPPER, "page")
    check(body["content"], [item], "content")
    return body["content"]


class Mihon:
    """OkHttp with the extension's authenticator: no credentials until a 401."""

    def __init__(self, client):
        self.client = client
        self.challenges = 0

    def get(self, url: str, headers: dict | None = None):
        response = self.client.get(BASE + url, headers=headers or {})
        if response.status_code == 401:
            self.challenges += 1
            response = self.client.get(BASE + url, headers={**(headers or {}), **basic()})
        return response

    def json(self, url: str):
        response = self.get(url)
        assert response.status_code == 200, (url, response.get_json())
        assert response.mimetype == "application/json"
        return response.get_json()


@pytest.fixture
def mihon(client, reader, scanned_library):
    return Mihon(client)


def test_the_filter_options_load(mihon):
    libraries = mihon.json("/api/v1/libraries")
    check(libraries, [LIBRARY])
    assert [lib["name"] for lib in libraries] == ["Comics"]
    assert mihon.challenges == 1
    page_of(mihon.json("/api/v1/collections?unpaged=true"), COLLECTION)
    for what in ("genres", "tags", "publishers"):
        check(mihon.json(f"/api/v1/{what}"), [str])
    check(mihon.json("/api/v1/authors"), [AUTHOR])
    assert "Youthful Adventure Stories" in mihon.json("/api/v1/publishers")


def test_browse_search_and_read_a_series(mihon):
    popular = page_of(mihon.json(
        "/api/v1/series?search=&page=0&deleted=false&sort=metadata.titleSort,asc"), SERIES)
    names = [s["metadata"]["title"] for s in popular]
    assert "Captain Science" in names and names == sorted(names, key=str.lower)
    latest = mihon.json("/api/v1/series?search=&page=0&deleted=false&sort=lastModifiedDate,desc")
    assert latest["totalElements"] == len(popular)
    found = page_of(mihon.json("/api/v1/series?search=captain&page=0&deleted=false"), SERIES)
    assert [s["name"] for s in found] == ["Captain Science"]
    series = found[0]
    library_id = mihon.json("/api/v1/libraries")[0]["id"]
    assert mihon.json(f"/api/v1/series?search=&page=0&library_id={library_id},999")[
        "totalElements"] == len(popular)

    details = mihon.json(f"/api/v1/series/{series['id']}")
    check(details, SERIES)
    assert details["booksCount"] >= 2
    thumbnail = mihon.get(f"/api/v1/series/{series['id']}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"

    chapters = page_of(mihon.json(
        f"/api/v1/series/{series['id']}/books?unpaged=true&media_status=READY&deleted=false"),
        BOOK)
    assert len(chapters) == details["booksCount"]
    assert all(c["media"]["status"] == "READY" for c in chapters)
    book = chapters[0]
    check(mihon.json(f"/api/v1/books/{book['id']}"), BOOK)
    pages = mihon.json(f"/api/v1/books/{book['id']}/pages")
    check(pages, [PAGE])
    assert [p["number"] for p in pages] == list(range(1, book["media"]["pagesCount"] + 1))
    for page in pages[:2]:
        image = mihon.get(f"/api/v1/books/{book['id']}/pages/{page['number']}",
                          headers={"Accept": "image/*,*/*;q=0.8"})
        assert image.status_code == 200 and image.mimetype.startswith("image/")
    converted = mihon.get(f"/api/v1/books/{book['id']}/pages/1?convert=png")
    assert converted.mimetype == "image/png"
    first = mihon.get(f"/api/v1/books/{book['id']}/pages/0?zero_based=true")
    assert first.data == mihon.get(f"/api/v1/books/{book['id']}/pages/1").data
    assert mihon.get(f"/api/v1/books/{book['id']}/pages/0").status_code == 404


def test_paging_follows_springs_envelope(mihon):
    everything = mihon.json("/api/v1/series?unpaged=true")
    total = everything["totalElements"]
    assert total >= 2 and everything["last"] and everything["first"]
    first = mihon.json("/api/v1/series?page=0&size=1")
    assert (first["first"], first["last"], first["totalPages"], first["size"]) == (
        True, False, total, 1)
    last = mihon.json(f"/api/v1/series?page={total - 1}&size=1")
    assert last["last"] and not last["first"] and last["number"] == total - 1
    assert last["pageable"]["pageNumber"] == total - 1
    beyond = mihon.json(f"/api/v1/series?page={total}&size=1")
    assert beyond["empty"] and beyond["content"] == []


def test_read_status_filters_and_read_progress(mihon, client, reader):
    series = mihon.json("/api/v1/series?search=captain")["content"][0]
    books = mihon.json(f"/api/v1/series/{series['id']}/books?unpaged=true")["content"]
    book = books[0]
    patch = client.patch(f"{BASE}/api/v1/books/{book['id']}/read-progress", json={"page": 1},
                         headers=basic())
    assert patch.status_code == 204
    progress = mihon.json(f"/api/v1/books/{book['id']}")["readProgress"]
    assert progress["page"] == 1 and progress["completed"] is (book["media"]["pagesCount"] == 1)
    in_progress = mihon.json("/api/v1/series?read_status=IN_PROGRESS")["content"]
    assert [s["id"] for s in in_progress] == [series["id"]]
    unread = mihon.json("/api/v1/series?read_status=UNREAD&read_status=IN_PROGRESS")
    assert series["id"] in [s["id"] for s in unread["content"]]
    assert series["id"] not in [s["id"] for s in mihon.json(
        "/api/v1/series?read_status=READ")["content"]]
    assert mihon.json(f"/api/v1/series/{series['id']}")["booksInProgressCount"] == 1
    for other in books:
        assert client.patch(f"{BASE}/api/v1/books/{other['id']}/read-progress",
                            json={"completed": True}, headers=basic()).status_code == 204
    done = mihon.json(f"/api/v1/series/{series['id']}")
    assert done["booksReadCount"] == done["booksCount"]
    assert [s["id"] for s in mihon.json("/api/v1/series?read_status=READ")["content"]] == [
        series["id"]]
    assert client.delete(f"{BASE}/api/v1/books/{book['id']}/read-progress",
                         headers=basic()).status_code == 204
    assert mihon.json(f"/api/v1/books/{book['id']}")["readProgress"] is None
    too_far = client.patch(f"{BASE}/api/v1/books/{book['id']}/read-progress",
                           json={"page": 10_000}, headers=basic())
    assert too_far.status_code == 400 and too_far.json["status"] == 400


def test_the_tracker_marks_books_read_up_to_a_number(mihon, client):
    series = mihon.json("/api/v1/series?search=captain")["content"][0]
    url = f"{BASE}/api/v2/series/{series['id']}/read-progress/tachiyomi"
    before = client.get(url, headers=basic()).json
    assert before["booksReadCount"] == 0 and before["booksCount"] >= 2
    assert client.put(url, json={"lastBookNumberSortRead": before["maxNumberSort"]},
                      headers=basic()).status_code == 204
    after = client.get(url, headers=basic()).json
    assert after["booksReadCount"] == after["booksCount"]
    assert after["lastReadContinuousNumberSort"] == before["maxNumberSort"]


def test_read_lists_are_reading_lists_and_story_arcs(mihon, reader):
    books = db.session.execute(db.select(Book).where(Book.state == "ok").order_by(Book.id)
                               ).scalars().all()
    row = ReadingList(user_id=reader.id, name="Weekend", summary="to read")
    db.session.add(row)
    db.session.flush()
    for position, book in enumerate(reversed(books[:2])):
        db.session.add(ReadingListEntry(list_id=row.id, position=position, book_id=book.id,
                                        series=book.series_name, number=book.number))
    db.session.commit()
    lists = page_of(mihon.json("/api/v1/readlists?search=&page=0&deleted=false"), READ_LIST)
    weekend = next(r for r in lists if r["name"] == "Weekend")
    assert weekend["bookIds"] == [str(books[1].id), str(books[0].id)]
    check(mihon.json(f"/api/v1/readlists/{weekend['id']}"), READ_LIST)
    chapters = page_of(mihon.json(f"/api/v1/readlists/{weekend['id']}/books?unpaged=true"
                                  f"&media_status=READY&deleted=false"), BOOK)
    assert [c["id"] for c in chapters] == weekend["bookIds"]
    assert mihon.get(f"/api/v1/readlists/{weekend['id']}/thumbnail").status_code == 200
    assert mihon.get("/api/v1/readlists/L999999").status_code == 404
    assert mihon.get("/api/v1/readlists/nonsense").status_code == 404


def test_collections_are_favourite_series(mihon, reader):
    assert mihon.json("/api/v1/collections?unpaged=true")["content"] == []
    db.session.add(Favorite(user_id=reader.id, kind="series", value="Captain Science",
                            created_at=utcnow()))
    db.session.commit()
    collections = page_of(mihon.json("/api/v1/collections?unpaged=true"), COLLECTION)
    assert [c["id"] for c in collections] == ["favorites"]
    series = page_of(mihon.json("/api/v1/collections/favorites/series?search=&page=0"), SERIES)
    assert [s["name"] for s in series] == ["Captain Science"]
    assert collections[0]["seriesIds"] == [series[0]["id"]]
    assert mihon.get("/api/v1/collections/favorites/thumbnail").status_code == 200


def test_users_me_and_actuator(mihon, reader):
    for version in ("v1", "v2"):
        me = mihon.json(f"/api/{version}/users/me")
        assert me["id"] == str(reader.id) and "USER" in me["roles"]
    assert mihon.json("/actuator/info")["build"]["version"]


def test_errors_and_the_switch(client, reader, scanned_library):
    missing = client.get(f"{BASE}/api/v1/series/abc", headers=basic())
    assert missing.status_code == 404 and missing.json["status"] == 404
    assert client.get(f"{BASE}/api/v1/books/99999999999", headers=basic()).status_code == 404
    anonymous = client.get(f"{BASE}/api/v1/series")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    bad = client.get(f"{BASE}/api/v1/series?page=-1", headers=basic())
    assert bad.status_code == 400 and bad.json["path"] == "/komga/api/v1/series"
    from comicsrv.settings_store import set_setting

    set_setting("komga.enabled", False, None)
    off = client.get(f"{BASE}/api/v1/series", headers=basic())
    assert off.status_code == 404 and off.json["code"] == "komga_disabled"


def test_an_api_key_works_too(client, reader, scanned_library):
    from tests.factories import api_key_for

    key = api_key_for(reader, ["BooksRead", "SeriesRead", "LibrariesRead"])
    response = client.get(f"{BASE}/api/v1/series", headers={"X-API-Key": key})
    assert response.status_code == 200 and response.json["totalElements"] >= 2


def test_komelias_calls(mihon, client, reader):
    """Komelia's home and reader: new and updated series, on deck, the next
    and previous book, and the POST search API of Komga 1.19+."""
    for what in ("new", "updated"):
        assert page_of(mihon.json(f"/api/v1/series/{what}?page=0&size=20"), SERIES)
    series = mihon.json("/api/v1/series?search=captain")["content"][0]
    books = mihon.json(f"/api/v1/series/{series['id']}/books?unpaged=true")["content"]
    nxt = mihon.json(f"/api/v1/books/{books[0]['id']}/next")
    assert nxt["id"] == books[1]["id"]
    assert mihon.json(f"/api/v1/books/{books[1]['id']}/previous")["id"] == books[0]["id"]
    assert mihon.get(f"/api/v1/books/{books[-1]['id']}/next").status_code == 404
    assert page_of(mihon.json("/api/v1/books/ondeck"), BOOK) == []
    client.patch(f"{BASE}/api/v1/books/{books[0]['id']}/read-progress",
                 json={"completed": True}, headers=basic())
    deck = mihon.json("/api/v1/books/ondeck")["content"]
    assert [b["id"] for b in deck] == [books[1]["id"]]
    library_id = mihon.json("/api/v1/libraries")[0]["id"]
    found = client.post(f"{BASE}/api/v1/series/list?page=0&size=5", headers=basic(), json={
        "condition": {"allOf": [{"libraryId": {"operator": "is", "value": library_id}},
                                {"readStatus": {"operator": "is", "value": "IN_PROGRESS"}}]},
        "fullTextSearch": "captain"})
    assert [s["id"] for s in page_of(found.json, SERIES)] == [series["id"]]
    in_series = client.post(f"{BASE}/api/v1/books/list?unpaged=true", headers=basic(), json={
        "condition": {"seriesId": {"operator": "is", "value": series["id"]}}})
    assert [b["id"] for b in page_of(in_series.json, BOOK)] == [b["id"] for b in books]
