"""``/api/v1/books/{id}/pages``: the page list and page images."""
import io
import os

import pytest
from PIL import Image

from comicsrv.archives import open_archive
from comicsrv.extensions import db
from comicsrv.models import Book
from tests.factories import BookFactory, LibraryFactory, UserFactory, api_key_for

PAGE_FIELDS = {"index", "number", "name", "width", "height", "media_type", "size", "url"}


@pytest.fixture
def books(scanned_library):
    rows = db.session.execute(db.select(Book)).scalars().all()
    return {os.path.basename(b.path): b for b in rows}


def test_page_list(client, books, admin_headers):
    book = books["Captain Science #001.cbz"]
    body = client.get(f"/api/v1/books/{book.id}/pages", headers=admin_headers).json
    assert body["total"] == 5 and body["has_more"] is False
    first = body["items"][0]
    assert set(first) == PAGE_FIELDS
    assert first["index"] == 0 and first["number"] == 1
    assert first["name"] == "Captain Science 001/CaptainScience#1_01.jpg"
    assert first["media_type"] == "image/jpeg" and first["size"] == 4542
    assert first["width"] is None and first["height"] is None  # until analyzed
    version = client.get(f"/api/v1/books/{book.id}", headers=admin_headers).json["version"]
    assert first["url"] == f"/api/v1/books/{book.id}/pages/1?v={version}"
    assert [p["number"] for p in body["items"]] == [1, 2, 3, 4, 5]
    second = client.get(f"/api/v1/books/{book.id}/pages?page=2&page_size=2",
                        headers=admin_headers).json
    assert [p["number"] for p in second["items"]] == [3, 4] and second["has_more"] is True


def test_stored_page_bytes_when_nothing_is_asked(client, books, admin_headers):
    book = books["rar5-solid.cbr"]
    with open_archive(book.path) as archive:
        expected = archive.read_page(1)
    response = client.get(f"/api/v1/books/{book.id}/pages/2", headers=admin_headers)
    assert response.status_code == 200
    assert response.data == expected and response.mimetype == "image/png"


def test_etag_and_caching(client, books, admin_headers):
    book = books["Captain Science #001.cbz"]
    url = f"/api/v1/books/{book.id}/pages/1"
    response = client.get(url, headers=admin_headers)
    # Without the content version the bytes may change on a rescan: revalidate.
    assert response.headers["Cache-Control"] == "private, no-cache"
    etag = response.headers["ETag"]
    cached = client.get(url, headers={**admin_headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b"" and cached.headers["ETag"] == etag
    other = client.get(url, headers={**admin_headers, "If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == response.data

    # The URL the page list gives names the content version: cacheable for good.
    page_url = client.get(f"/api/v1/books/{book.id}/pages",
                          headers=admin_headers).json["items"][0]["url"]
    pinned = client.get(page_url, headers=admin_headers)
    assert pinned.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert pinned.headers["ETag"] == etag and pinned.data == response.data
    stale = client.get(f"{url}?v=0123456789abcdef", headers=admin_headers)
    assert stale.headers["Cache-Control"] == "private, no-cache"

    # Each rendition has its own tag.
    resized = client.get(f"{url}?width=60", headers=admin_headers)
    assert resized.headers["ETag"] not in (etag, None)


def test_resize_and_reencode(client, books, admin_headers):
    book = books["Captain Science #001.cbz"]  # pages are 114x160 JPEGs
    url = f"/api/v1/books/{book.id}/pages/1"
    response = client.get(f"{url}?width=80&format=webp", headers=admin_headers)
    assert response.status_code == 200 and response.mimetype == "image/webp"
    with Image.open(io.BytesIO(response.data)) as im:
        assert im.format == "WEBP" and im.size[0] <= 80
    png = client.get(f"{url}?height=100&format=png", headers=admin_headers)
    with Image.open(io.BytesIO(png.data)) as im:
        assert im.format == "PNG" and im.size[1] == 100
    # Never upscaled: a bigger box gives the page as it is.
    same = client.get(f"{url}?width=2000", headers=admin_headers)
    assert same.data == client.get(url, headers=admin_headers).data


@pytest.mark.parametrize("query", ["?width=0", "?height=-3", "?width=abc", "?format=gif",
                                   "?format=JPEG", "?width=1000000"])
def test_bad_parameters_are_400(client, books, admin_headers, query):
    book = books["Captain Science #001.cbz"]
    response = client.get(f"/api/v1/books/{book.id}/pages/1{query}", headers=admin_headers)
    assert response.status_code == 400 and response.json["error"] == "validation_error"


def test_out_of_range_pages_and_unknown_books_are_404(client, books, admin_headers):
    book = books["rar4.cbr"]  # three pages
    for number in (0, 4, 99):
        response = client.get(f"/api/v1/books/{book.id}/pages/{number}", headers=admin_headers)
        assert response.status_code == 404 and response.json["error"] == "not_found", number
    assert client.get("/api/v1/books/999999/pages/1", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/books/999999/pages", headers=admin_headers).status_code == 404
    # An unreadable book has no pages at all.
    empty = books["empty.cbz"]
    assert client.get(f"/api/v1/books/{empty.id}/pages/1", headers=admin_headers).status_code == 404
    assert client.get(f"/api/v1/books/{empty.id}/pages", headers=admin_headers).json["total"] == 0


def test_books_outside_the_callers_libraries_are_404(client, books):
    other = LibraryFactory()
    user = UserFactory(library_ids=[other.id])
    headers = {"X-API-Key": api_key_for(user, ["PagesRead"])}
    book = books["rar4.cbr"]
    assert client.get(f"/api/v1/books/{book.id}/pages/1", headers=headers).status_code == 404
    assert client.get(f"/api/v1/books/{book.id}/pages", headers=headers).status_code == 404


def test_missing_books_are_404(client, admin_headers):
    book = BookFactory(state="missing")
    assert client.get(f"/api/v1/books/{book.id}/pages", headers=admin_headers).status_code == 404


def test_pages_need_pages_read(client, books):
    headers = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    book = books["rar4.cbr"]
    assert client.get(f"/api/v1/books/{book.id}/pages/1", headers=headers).status_code == 403
    assert client.get(f"/api/v1/books/{book.id}/pages/1").status_code == 401
