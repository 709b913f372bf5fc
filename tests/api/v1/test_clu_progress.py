"""CLU's reading-position endpoints: ``/progress`` (one record by path, or the
caller's list), ``PUT /progress``, ``/progress/since`` and ``/issues/read``,
all on the shared progress service."""
import calendar
from datetime import datetime, timedelta

import pytest

from comicsrv.auth.users import create_client_token
from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.models import Book, ReadHistory, ReadingProgress, utcnow
from tests.factories import UserFactory

CBZ = "Youthful/Captain Science/Captain Science #001.cbz"


def book_at(path):
    return db.session.execute(db.select(Book).where(Book.path == path)).scalar_one()


@pytest.fixture
def cbz(scanned_library):
    return book_at(f"{scanned_library.path}/{CBZ}")


def put(client, headers, body):
    return client.put("/api/v1/progress", json=body, headers=headers)


def test_put_is_read_back_by_since_and_by_the_progress_service(client, clu_user, clu_headers,
                                                               cbz):
    assert put(client, clu_headers, {"path": cbz.path, "page_number": 3, "time_spent": 40}).json[
        "page_number"] == 3
    saved = put(client, clu_headers, {"path": cbz.path, "page_number": 4, "total_pages": 5,
                                      "time_spent": "garbage", "device": "phone"})
    assert saved.status_code == 200
    progress = reading.get_progress(clu_user.id, cbz.id)
    assert (progress.page, progress.total_pages, progress.time_spent) == (4, 5, 40)
    assert saved.json == {"page_number": 4, "total_pages": 5, "time_spent": 40,
                          "updated_at": progress.updated_at.strftime("%Y-%m-%d %H:%M:%S")}
    [item] = client.get("/api/v1/progress/since", headers=clu_headers,
                        query_string={"ts": 0}).json["items"]
    assert item == {"comic_path": cbz.path, "page_number": 4, "total_pages": 5, "time_spent": 40,
                    "updated_at": saved.json["updated_at"],
                    "updated_at_unix": calendar.timegm(progress.updated_at.utctimetuple())}
    # total_pages defaults to the book's page count
    other = book_at(cbz.path.replace(".cbz", " (rar).cbr"))
    assert put(client, clu_headers, {"path": other.path, "page_number": 2}).json[
        "total_pages"] == 5


def test_progress_saved_elsewhere_is_what_get_answers(client, clu_user, clu_headers, cbz):
    """A page saved through another surface (the same service) answers here."""
    reading.save_progress(clu_user.id, cbz, reading.ProgressUpdate(page=2, total_pages=5))
    body = client.get("/api/v1/progress", headers=clu_headers,
                      query_string={"path": cbz.path}).json
    assert (body["page_number"], body["total_pages"], body["time_spent"]) == (2, 5, 0)


@pytest.mark.parametrize("path", ["/etc/passwd", "{root}/Youthful/../Youthful/" + CBZ[9:],
                                  "{root}/Komga", "relative.cbz"])
def test_get_answers_null_for_what_is_not_a_book(client, clu_headers, scanned_library, path):
    response = client.get("/api/v1/progress", headers=clu_headers,
                          query_string={"path": path.format(root=scanned_library.path)})
    assert response.status_code == 200 and response.json is None


def test_get_errors(client, clu_headers):
    response = client.get("/api/v1/progress?path=", headers=clu_headers)
    assert response.status_code == 400 and response.json["error"] == "Missing 'path' parameter"
    response = client.get("/api/v1/progress", headers=clu_headers,
                          query_string={"path": "/x\x00y"})
    assert response.status_code == 400 and response.json["error"] == "invalid_path"


def test_get_without_path_lists_the_callers_progress(client, clu_user, clu_headers,
                                                     scanned_library, cbz):
    rar = book_at(f"{scanned_library.path}/Komga/Tests/rar4.cbr")
    reading.save_progress(clu_user.id, rar, reading.ProgressUpdate(page=1))
    reading.save_progress(clu_user.id, cbz, reading.ProgressUpdate(page=5))
    reading.save_progress(UserFactory().id, rar, reading.ProgressUpdate(page=2))
    db.session.execute(db.update(ReadingProgress).where(ReadingProgress.book_id == rar.id)
                       .values(updated_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    body = client.get("/api/v1/progress", headers=clu_headers).json
    assert set(body) == {"items", "total", "page", "page_size", "total_pages", "has_more"}
    assert body["total"] == 2
    first, second = body["items"]
    assert set(first) == {"book_id", "path", "page_number", "total_pages", "completed",
                          "updated_at"}
    assert (first["book_id"], first["path"], first["page_number"], first["completed"]) == (
        cbz.id, cbz.path, 5, True)
    assert (second["book_id"], second["page_number"], second["total_pages"]) == (rar.id, 1, 3)
    paged = client.get("/api/v1/progress?page=2&page_size=1", headers=clu_headers).json
    assert [i["book_id"] for i in paged["items"]] == [rar.id] and paged["has_more"] is False


@pytest.mark.parametrize("body, error", [
    ({"page_number": 5}, "Missing 'path' or 'page_number'"),
    ({"path": "/x.cbz"}, "Missing 'path' or 'page_number'"),
    ({"path": "", "page_number": 5}, "Missing 'path' or 'page_number'"),
    ({"path": "/x.cbz", "page_number": None}, "Missing 'path' or 'page_number'"),
    ({"path": "/x.cbz", "page_number": "five"}, "page_number must be an integer"),
    ({"path": "/x.cbz", "page_number": True}, "page_number must be an integer"),
    ({"path": "/x.cbz", "page_number": -1}, "page_number must be an integer"),
    ({"path": "/x.cbz", "page_number": 2**40}, "page_number must be an integer"),
    ({"path": "/x.cbz", "page_number": 5, "total_pages": "x"}, "total_pages must be an integer"),
    ({"path": "/x\x00.cbz", "page_number": 5}, "invalid_path"),
    (["not", "an", "object"], "Missing 'path' or 'page_number'"),
])
def test_put_validation_is_400_with_clus_errors(client, clu_headers, body, error):
    response = put(client, clu_headers, body)
    assert response.status_code == 400 and response.json["error"] == error


def test_put_for_what_is_not_a_visible_book_is_404(client, clu_headers, scanned_library,
                                                   marvel_library, cbz):
    for path in ("/etc/passwd", f"{scanned_library.path}/Komga/../Youthful/{CBZ[9:]}",
                 f"{scanned_library.path}/Komga"):
        response = put(client, clu_headers, {"path": path, "page_number": 1})
        assert response.status_code == 404 and response.json["error"] == "not_found"
    scoped = UserFactory(library_ids=[marvel_library.id])
    headers = {"Authorization": f"Bearer {create_client_token(scoped)[1]}"}
    assert put(client, headers, {"path": cbz.path, "page_number": 1}).status_code == 404
    assert db.session.execute(db.select(ReadingProgress)).first() is None


def test_since_pages_in_update_order(client, clu_user, clu_headers, scanned_library):
    base = datetime(2026, 1, 1, 12, 0, 0)
    paths = [f"{scanned_library.path}/Komga/Tests/{n}" for n in ("rar4.cbr", "rar5-solid.cbr",
                                                                 "komga.pdf")]
    for offset, path in enumerate(paths):
        progress = reading.save_progress(clu_user.id, book_at(path),
                                         reading.ProgressUpdate(page=1))
        progress.updated_at = base + timedelta(minutes=10 * (2 - offset))
    db.session.commit()
    ts = calendar.timegm(base.utctimetuple())
    url = "/api/v1/progress/since"
    pages = [client.get(url, headers=clu_headers,
                        query_string={"ts": ts, "page": p, "page_size": 1}).json
             for p in (1, 2, 3, 4)]
    assert [p["items"][0]["comic_path"] for p in pages[:3]] == list(reversed(paths))
    assert [p["count"] for p in pages] == [1, 1, 1, 0]
    assert [p["has_more"] for p in pages] == [True, True, False, False]
    assert pages[0]["items"][0]["updated_at"] == "2026-01-01 12:00:00"
    assert pages[0]["items"][0]["updated_at_unix"] == ts
    later = client.get(url, headers=clu_headers, query_string={"ts": ts + 1}).json
    assert later["total"] == 2 and later["count"] == 2  # ">= ts": 12:10 and 12:20
    for ts_value, total in ((ts + 3600, 0), (10**30, 0), (-5, 3)):
        assert client.get(url, headers=clu_headers,
                          query_string={"ts": ts_value}).json["total"] == total


@pytest.mark.parametrize("ts", ["yesterday", "1.5", ""])
def test_since_needs_an_integer_ts(client, clu_headers, ts):
    response = client.get("/api/v1/progress/since", headers=clu_headers, query_string={"ts": ts})
    assert response.status_code == 400
    assert response.json["error"] == "ts must be an integer unix timestamp"


def test_since_hides_books_out_of_scope(client, clu_user, clu_headers, scanned_library,
                                        marvel_library, cbz):
    put(client, clu_headers, {"path": cbz.path, "page_number": 1})
    clu_user.library_ids = [marvel_library.id]
    db.session.commit()
    assert client.get("/api/v1/progress/since?ts=0", headers=clu_headers).json["total"] == 0


def test_issues_read_marks_the_book_read_once(client, clu_user, clu_headers, cbz):
    url = "/api/v1/issues/read"
    body = {"path": cbz.path, "page_count": "lots", "time_spent": -3}
    for _ in range(2):
        response = client.post(url, json=body, headers=clu_headers)
        assert response.status_code == 200 and response.json == {"ok": True}
    progress = reading.get_progress(clu_user.id, cbz.id)
    assert (progress.completed, progress.page, progress.total_pages) == (True, 5, 5)
    [history] = db.session.execute(db.select(ReadHistory)).scalars().all()
    assert (history.page_count, history.time_spent) == (5, 0)


@pytest.mark.parametrize("body, status, error", [
    ({}, 400, "Missing 'path'"), ({"path": ""}, 400, "Missing 'path'"),
    ({"path": "/etc/passwd"}, 404, "not_found"), ({"path": "/x\x00"}, 400, "invalid_path"),
])
def test_issues_read_errors(client, clu_headers, body, status, error):
    response = client.post("/api/v1/issues/read", json=body, headers=clu_headers)
    assert response.status_code == status and response.json["error"] == error
