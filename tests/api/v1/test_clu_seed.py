"""Every example request of seed 001 (CLU's ``/api/v1`` reference), in order,
against a real scan of real archives, as a reader app sends it: a client
token as ``Authorization: Bearer``. Each test checks the documented fields
exactly (DC Comics/Batman of the examples become this fixture's folders)."""
import io
import re
from urllib.parse import quote

import pytest
from PIL import Image

from comicsrv import __version__
from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.models import Book, ReadHistory
from comicsrv.settings_store import set_preference

CLU_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
ENVELOPE = {"items", "total", "page", "page_size", "total_pages", "has_more"}


@pytest.fixture
def root(scanned_library):
    return scanned_library.path


def book_at(path: str) -> Book:
    return db.session.execute(db.select(Book).where(Book.path == path)).scalar_one()


def cbz(root: str) -> str:
    return f"{root}/Youthful/Captain Science/Captain Science #001.cbz"


def test_auth_ping(client, clu_headers):
    response = client.get("/api/v1/auth/ping", headers=clu_headers)
    assert response.status_code == 200
    assert response.json == {"ok": True, "version": __version__, "browse_mode": "metadata"}


def test_library_publishers_filesystem(client, clu_headers, root):
    response = client.get("/api/v1/library/publishers?mode=filesystem&page=1&page_size=20",
                          headers=clu_headers)
    assert response.status_code == 200
    assert response.json == {
        "items": [
            {"value": "Komga", "name": "Komga", "path": f"{root}/Komga",
             "has_thumbnail": False, "count": 5},
            {"value": "Youthful", "name": "Youthful", "path": f"{root}/Youthful",
             "has_thumbnail": False, "count": 3},
        ],
        "total": 2, "page": 1, "page_size": 20, "total_pages": 1, "has_more": False,
        "mode": "filesystem"}


def test_library_series_in_the_saved_metadata_mode(client, clu_headers, root):
    response = client.get(
        "/api/v1/library/series?publisher=Youthful Adventure Stories&page=1&page_size=20",
        headers=clu_headers)
    assert response.status_code == 200
    assert response.json == {
        "items": [{"value": "Captain Science", "name": "Captain Science",
                   "publisher": "Youthful Adventure Stories", "count": 3, "year": "1950",
                   "cover_path": f"{root}/Youthful/Captain Science/"
                                 "Captain Science #001 (rar).cbr"}],
        "total": 1, "page": 1, "page_size": 20, "total_pages": 1, "has_more": False,
        "mode": "metadata"}


def test_library_series_in_the_saved_filesystem_mode(client, clu_user, clu_headers, root):
    set_preference(clu_user.id, "api_browse_mode", "filesystem")
    response = client.get("/api/v1/library/series?publisher=Youthful&page=1&page_size=20",
                          headers=clu_headers)
    assert response.status_code == 200
    # Comics at the top of the folder: a single-volume series, no "volumes".
    assert response.json["items"] == [
        {"value": "Captain Science", "name": "Captain Science",
         "path": f"{root}/Youthful/Captain Science", "has_thumbnail": False, "count": 3}]
    assert response.json["mode"] == "filesystem" and response.json["total"] == 1


def test_library_issues_in_the_saved_filesystem_mode(client, clu_user, clu_headers, root):
    set_preference(clu_user.id, "api_browse_mode", "filesystem")
    reading.save_progress(clu_user.id, book_at(cbz(root)), reading.ProgressUpdate(page=3))
    response = client.get(
        "/api/v1/library/issues?publisher=Youthful&series=Captain Science&page=1&page_size=10",
        headers=clu_headers)
    assert response.status_code == 200
    folder = f"{root}/Youthful/Captain Science"
    rar, zip_ = book_at(f"{folder}/Captain Science #001 (rar).cbr"), book_at(cbz(root))
    assert response.json == {
        "items": [
            {"id": rar.id, "name": "Captain Science #001 (rar).cbr", "path": rar.path,
             "size": 21704, "has_comicinfo": False, "has_progress": False, "last_page": None},
            {"id": zip_.id, "name": "Captain Science #001.cbz", "path": zip_.path,
             "size": 23606, "has_comicinfo": True, "has_progress": True, "last_page": 3},
        ],
        "total": 2, "page": 1, "page_size": 10, "total_pages": 1, "has_more": False,
        "mode": "filesystem"}


def test_library_issues_in_the_saved_metadata_mode(client, clu_headers, root):
    response = client.get(
        "/api/v1/library/issues?publisher=Youthful Adventure Stories&series=Captain Science"
        "&page=1&page_size=10", headers=clu_headers)
    assert response.status_code == 200
    assert response.json["total"] == 3 and response.json["mode"] == "metadata"
    item = next(i for i in response.json["items"] if i["path"] == cbz(root))
    assert item == {"id": book_at(cbz(root)).id, "name": "Captain Science #001.cbz",
                    "path": cbz(root), "size": 23606, "title": "The Beginning; The End",
                    "series": "Captain Science", "number": "1", "year": "1950",
                    "publisher": "Youthful Adventure Stories", "has_comicinfo": True,
                    "has_progress": False, "last_page": None}


def test_library_favorites(client, clu_headers, root):
    added = client.post("/api/v1/library/favorites",
                        json={"path": f"{root}/Youthful", "type": "publisher"},
                        headers=clu_headers)
    assert added.status_code == 201
    response = client.get("/api/v1/library/favorites?page=1&page_size=20", headers=clu_headers)
    assert response.status_code == 200
    body = response.json
    assert set(body) == ENVELOPE | {"scope"} and body["scope"] == "favorites"
    assert body["total"] == 1 and body["page_size"] == 20
    [item] = body["items"]
    assert CLU_TIME.match(item.pop("created_at"))
    assert item == {"value": "Youthful", "name": "Youthful", "path": f"{root}/Youthful",
                    "type": "publisher"}
    # value drills through as ?publisher= in filesystem mode
    series = client.get(f"/api/v1/library/series?mode=filesystem&publisher={item['value']}",
                        headers=clu_headers).json
    assert [s["name"] for s in series["items"]] == ["Captain Science"]


def test_library_to_read(client, clu_user, clu_headers, root, volume_library):
    archie = f"{volume_library.path}/Archie Comics"
    sabrina = f"{archie}/Sabrina the Teenage Witch"
    for path in (cbz(root), sabrina, f"{sabrina}/v1971", archie):
        assert client.post("/api/v1/library/to-read", json={"path": path},
                           headers=clu_headers).status_code == 201
    reading.save_progress(clu_user.id, book_at(cbz(root)), reading.ProgressUpdate(page=5))

    response = client.get("/api/v1/library/to-read?page=1&page_size=20", headers=clu_headers)
    assert response.status_code == 200
    body = response.json
    assert body["scope"] == "to_read" and body["total"] == 4 and set(body) == ENVELOPE | {"scope"}
    for item in body["items"]:
        assert CLU_TIME.match(item.pop("created_at"))
    # newest first, as added in reverse
    assert body["items"] == [
        {"value": "Archie Comics", "name": "Archie Comics", "path": archie, "type": "folder"},
        {"value": "Sabrina the Teenage Witch v1971", "name": "Sabrina the Teenage Witch v1971",
         "path": f"{sabrina}/v1971", "type": "folder", "series": "Sabrina the Teenage Witch",
         "volume": "v1971"},
        {"value": "Sabrina the Teenage Witch", "name": "Sabrina the Teenage Witch",
         "path": sabrina, "type": "folder", "volumes": ["v1971", "v1997"]},
        {"value": "Captain Science #001", "name": "Captain Science #001", "path": cbz(root),
         "type": "file", "id": book_at(cbz(root)).id, "has_progress": True, "last_page": 5},
    ]


def test_library_recent(client, clu_headers, root):
    response = client.get("/api/v1/library/recent?page=1&page_size=20", headers=clu_headers)
    assert response.status_code == 200
    body = response.json
    assert body["scope"] == "recent" and set(body) == ENVELOPE | {"scope"}
    # CBZ and CBR only: not the PDF nor the CB7
    assert sorted(i["name"] for i in body["items"]) == [
        "Captain Science #001 (rar).cbr", "Captain Science #001.cbz", "empty.cbz",
        "encrypted.cbz", "rar4.cbr", "rar5-solid.cbr"]
    assert body["total"] == 6
    item = next(i for i in body["items"] if i["path"] == cbz(root))
    assert CLU_TIME.match(item.pop("added_at"))
    assert item == {"id": book_at(cbz(root)).id, "value": "Captain Science #001.cbz",
                    "name": "Captain Science #001.cbz", "path": cbz(root), "size": 23606,
                    "type": "file", "has_progress": False, "last_page": None}


def test_issue(client, clu_user, clu_headers, root):
    book = book_at(cbz(root))
    reading.save_progress(clu_user.id, book, reading.ProgressUpdate(page=2))
    response = client.get(f"/api/v1/issue/{book.id}", headers=clu_headers)
    assert response.status_code == 200
    assert response.json == {
        "id": book.id, "name": "Captain Science #001.cbz", "path": cbz(root), "size": 23606,
        "modified_at": int(book.mtime), "has_comicinfo": True,
        "metadata": {"title": "The Beginning; The End", "series": "Captain Science",
                     "number": "1", "count": "7", "volume": "1950", "year": "1950",
                     "writer": "Joe Orlando", "penciller": "Wally Wood", "inker": "Wally Wood",
                     "colorist": "", "letterer": "", "coverartist": "",
                     "publisher": "Youthful Adventure Stories", "genre": "Science Fiction",
                     "characters": "Captain Science, Gordon Dane"},
        "progress": {"page_number": 2, "total_pages": 5}}


def test_issue_cover(client, clu_headers, root):
    book = book_at(cbz(root))
    response = client.get(f"/api/v1/issue/{book.id}/cover?size=400", headers=clu_headers)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "JPEG" and max(image.size) <= 400
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    assert response.headers["ETag"]


def test_issue_download(client, clu_headers, root):
    book = book_at(cbz(root))
    response = client.get(f"/api/v1/issue/{book.id}/download", headers=clu_headers)
    assert response.status_code == 200
    with open(cbz(root), "rb") as handle:
        assert response.data == handle.read()
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "application/vnd.comicbook+zip"
    assert response.headers["Content-Length"] == "23606"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Captain Science #001.cbz"')


def test_progress_get(client, clu_user, clu_headers, root):
    # URL-encoded, as the seed says: the file name holds a "#"
    url = f"/api/v1/progress?path={quote(cbz(root))}"
    before = client.get(url, headers=clu_headers)
    assert before.status_code == 200 and before.data.strip() == b"null"
    reading.save_progress(clu_user.id, book_at(cbz(root)),
                          reading.ProgressUpdate(page=5, total_pages=32, time_spent=60))
    body = client.get(url, headers=clu_headers).json
    assert CLU_TIME.match(body.pop("updated_at"))
    assert body == {"page_number": 5, "total_pages": 32, "time_spent": 60}


def test_progress_put(client, clu_user, clu_headers, root):
    response = client.put("/api/v1/progress", headers=clu_headers, json={
        "page_number": 5, "path": cbz(root), "time_spent": 120, "total_pages": 32})
    assert response.status_code == 200
    body = response.json
    assert CLU_TIME.match(body.pop("updated_at"))
    assert body == {"page_number": 5, "total_pages": 32, "time_spent": 120}
    stored = reading.get_progress(clu_user.id, book_at(cbz(root)).id)
    assert (stored.page, stored.total_pages, stored.time_spent) == (5, 32, 120)


def test_progress_since(client, clu_headers, root):
    client.put("/api/v1/progress", headers=clu_headers,
               json={"page_number": 5, "path": cbz(root), "time_spent": 120, "total_pages": 32})
    response = client.get("/api/v1/progress/since?ts=1700000000&page=1&page_size=50",
                          headers=clu_headers)
    assert response.status_code == 200
    body = response.json
    [item] = body["items"]
    assert CLU_TIME.match(item.pop("updated_at")) and item.pop("updated_at_unix") > 1700000000
    assert item == {"comic_path": cbz(root), "page_number": 5, "total_pages": 32,
                    "time_spent": 120}
    assert {k: body[k] for k in body if k != "items"} == {
        "count": 1, "total": 1, "page": 1, "page_size": 50, "total_pages": 1, "has_more": False}


def test_issues_read(client, clu_user, clu_headers, root):
    response = client.post("/api/v1/issues/read", headers=clu_headers, json={
        "page_count": 32, "path": cbz(root), "time_spent": 1800})
    assert response.status_code == 200 and response.json == {"ok": True}
    book = book_at(cbz(root))
    progress = reading.get_progress(clu_user.id, book.id)
    assert progress.completed is True and progress.total_pages == 32
    [history] = db.session.execute(db.select(ReadHistory)).scalars().all()
    assert (history.user_id, history.book_id, history.page_count, history.time_spent) == (
        clu_user.id, book.id, 32, 1800)
