"""``comicsrv.api.hotpath``: the page and cover requests answered in front
of Flask answer exactly as the views do, and only when they may."""
from __future__ import annotations

import io
import os
import random
import zipfile

import pytest
from PIL import Image
from werkzeug.http import http_date

from comicsrv.extensions import db
from comicsrv.models import Book
from tests.factories import LibraryFactory, api_key_for
from tests.serving import live_server  # noqa: F401

# Headers that may differ between two answers to the same request.
VOLATILE = {"Date"}


@pytest.fixture
def hot(app):
    """The hot path, with a count of the requests it left to Flask."""
    hot_path = app.extensions["comicsrv.hotpath"]
    flask_app = hot_path.next
    passed = []

    def counted(environ, start_response):
        passed.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    hot_path.next = counted
    hot_path.passed = passed
    yield hot_path
    hot_path.next = flask_app
    hot_path.enabled = True


def _noise_jpeg(edge: int, seed: int) -> bytes:
    noise = random.Random(seed).randbytes(edge * edge * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (edge, edge), noise).save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture
def pages(app):
    """Three JPEGs: a large one (sent with sendfile), two small ones."""
    from comicsrv.server import COALESCE_LIMIT

    made = [_noise_jpeg(560, 1), _noise_jpeg(40, 2), _noise_jpeg(30, 3)]
    assert len(made[0]) > 4 * COALESCE_LIMIT and len(made[1]) < COALESCE_LIMIT
    return made


@pytest.fixture
def stored_book(app, tmp_path, pages):
    """A scanned CBZ whose pages are stored uncompressed, as most are."""
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB

    root = tmp_path / "stored"
    root.mkdir()
    with zipfile.ZipFile(root / "Noise 001.cbz", "w", zipfile.ZIP_STORED) as archive:
        for number, data in enumerate(pages, 1):
            archive.writestr(f"{number:02d}.jpg", data)
    library = create_library("Stored", str(root))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    book = db.session.execute(db.select(Book)).scalar_one()
    assert book.page_spans, "stored pages have byte ranges"
    return book


def _answer(client, method, url, headers):
    response = client.open(url, method=method, headers=headers)
    return (response.status_code,
            sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE),
            response.get_data())


def test_answers_as_the_views_do(client, hot, stored_book, pages, reader):
    key = {"X-API-Key": api_key_for(reader, ["PagesRead", "BooksRead"])}
    base = f"/api/v1/books/{stored_book.id}"
    first = client.get(f"{base}/pages/1", headers=key)  # resolves the key: through Flask
    etag, version = first.headers["ETag"], first.headers["ETag"].strip('"').split("-")[0]
    client.get(f"{base}/thumbnail", headers=key)  # makes the cover: through Flask
    later = http_date(stored_book.mtime + 60)
    cases = [
        ("GET", f"{base}/pages/1", {}),
        ("HEAD", f"{base}/pages/3", {}),
        ("GET", f"{base}/pages/2?v={version}", {}),
        ("GET", f"{base}/pages/2?v=0123abcd", {}),
        ("GET", f"{base}/pages/1", {"If-None-Match": etag}),
        ("GET", f"{base}/pages/1", {"If-Modified-Since": later}),
        ("GET", f"{base}/thumbnail", {}),
        ("HEAD", f"{base}/thumbnail", {}),
    ]
    for method, url, extra in cases:
        hot.enabled, hot.passed[:] = True, []
        fast = _answer(client, method, url, {**key, **extra})
        assert hot.passed == [], f"{method} {url} {extra} was left to Flask"
        hot.enabled = False
        slow = _answer(client, method, url, {**key, **extra})
        assert fast == slow, f"{method} {url} {extra}"
    hot.enabled = True
    assert _answer(client, "GET", f"{base}/pages/1", {**key, "If-None-Match": etag})[0] == 304
    assert client.get(f"{base}/pages/2", headers=key).data == pages[1]


def test_leaves_to_flask_what_it_does_not_answer_alike(client, hot, stored_book, reader,
                                                       admin_headers):
    key = api_key_for(reader, ["PagesRead"])
    headers = {"X-API-Key": key}
    base = f"/api/v1/books/{stored_book.id}"
    assert client.get(f"{base}/pages/1", headers=headers).status_code == 200
    for url in (f"{base}/pages/99", f"{base}/pages/1?width=60", f"{base}/pages/1?v=1&v=2",
                f"{base}/pages/1?unknown=1", "/api/v1/books/999999/pages/1",
                f"{base}/thumbnail?size=123"):  # a cover size not made yet
        hot.passed[:] = []
        client.get(url, headers=headers)
        assert hot.passed, url
    # Callers the cache does not hold, or may not hold: Flask checks them.
    for other in ({"X-API-Key": "csrv_nope"}, {"Authorization": "Basic cmVhZGVyOng="}):
        hot.passed[:] = []
        assert client.get(f"{base}/pages/1", headers=other).status_code == 401
        assert hot.passed
    # Moved out of the book's library: a 404 at once, from the view.
    client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
               json={"library_ids": [LibraryFactory().id]})
    response = client.get(f"{base}/pages/1", headers=headers)
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_a_key_without_the_permission_is_refused_by_the_view(client, hot, stored_book, reader):
    headers = {"X-API-Key": api_key_for(reader, ["BooksRead"])}
    url = f"/api/v1/books/{stored_book.id}/pages/1"
    for _ in range(2):
        assert client.get(url, headers=headers).status_code == 403
    assert len(hot.passed) == 2


def test_a_kept_book_is_dropped_when_the_catalogue_changes(app, client, hot, stored_book,
                                                           pages, admin_headers, reader):
    """The hot path keeps a book's row for a moment; a write to books or
    libraries, ORM or Core, drops it at once, and a changed file is still
    left to the view."""
    headers = {"X-API-Key": api_key_for(reader, ["PagesRead"])}
    url = f"/api/v1/books/{stored_book.id}/pages/2"
    client.get(url, headers=headers)  # resolves the key: through Flask
    for _ in range(2):
        hot.passed[:] = []
        assert client.get(url, headers=headers).data == pages[1]
        assert hot.passed == []
    # A Core update (as a scan makes) hides the book: the view's 404 at once.
    db.session.execute(db.update(Book).where(Book.id == stored_book.id).values(state="missing"))
    db.session.commit()
    response = client.get(url, headers=headers)
    assert response.status_code == 404 and hot.passed == [url]
    db.session.execute(db.update(Book).where(Book.id == stored_book.id).values(state="ok"))
    db.session.commit()
    assert client.get(url, headers=headers).data == pages[1]
    # Through the API: the library disabled, then enabled again.
    library_id = stored_book.library_id
    assert client.put(f"/api/v1/libraries/{library_id}", headers=admin_headers,
                        json={"enabled": False}).status_code == 200
    hot.passed[:] = []
    assert client.get(url, headers=headers).status_code == 404 and hot.passed == [url]
    assert client.put(f"/api/v1/libraries/{library_id}", headers=admin_headers,
                        json={"enabled": True}).status_code == 200
    assert client.get(url, headers=headers).data == pages[1]
    # The file changed under a kept row: left to the view, which says so.
    os.utime(stored_book.path, (stored_book.mtime + 10, stored_book.mtime + 10))
    hot.passed[:] = []
    assert client.get(url, headers=headers).status_code != 200 and hot.passed == [url]


# -- through a real server: sendfile ----------------------------------------------

def test_pages_and_covers_through_a_real_server(stored_book, pages, reader,
                                                live_server):  # noqa: F811
    """A large stored page goes out with sendfile, a small one with its
    headers: both byte for byte, on one keep-alive connection, with 304s."""
    large, small = pages[:2]
    book_id = stored_book.id
    headers = {"X-API-Key": api_key_for(reader, ["PagesRead", "BooksRead"])}
    server = live_server()
    base = f"/api/v1/books/{book_id}"
    for _ in range(3):  # the first through Flask, the others from the hot path
        for number, expected in ((1, large), (2, small)):
            response = server.get(f"{base}/pages/{number}", headers=headers)
            assert response.status_code == 200
            assert response.headers["Content-Length"] == str(len(expected))
            assert response.content == expected and response.headers["Content-Type"] == "image/jpeg"
    head = server.request("HEAD", f"{base}/pages/1", headers=headers)
    assert head.headers["Content-Length"] == str(len(large)) and head.content == b""
    etag = response.headers["ETag"]
    assert server.get(f"{base}/pages/2", headers={**headers, "If-None-Match": etag}
                      ).status_code == 304
    covers = [server.get(f"{base}/thumbnail", headers=headers) for _ in range(3)]
    assert {c.status_code for c in covers} == {200}
    assert covers[0].content == covers[2].content and covers[0].content[:2] == b"\xff\xd8"
    assert server.get(f"{base}/thumbnail", headers={**headers, "If-None-Match":
                                                    covers[2].headers["ETag"]}).status_code == 304
    # A file changed since its scan is not served from stale byte ranges.
    path = stored_book.path
    with open(path, "r+b") as changed:
        changed.seek(0, os.SEEK_END)
        changed.write(b"\0" * 16)
    response = server.get(f"{base}/pages/1", headers=headers)
    assert response.status_code == 404 and response.json()["error"] == "media_unavailable"
    assert "changed since it was indexed" in response.json()["message"]
