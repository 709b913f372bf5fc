"""Conditional requests on every page and cover URL of every surface: a
client holding the bytes gets a 304 (``If-None-Match``, or
``If-Modified-Since`` alone), and only content-addressed URLs are
``immutable``."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from werkzeug.http import http_date

from comicsrv.extensions import db
from comicsrv.models import Book
from tests.api.lanraragi.conftest import bearer

IMMUTABLE = "immutable"


@pytest.fixture
def book(scanned_library):
    return db.session.execute(db.select(Book).where(
        Book.path.like("%Captain Science #001.cbz"))).scalar_one()


def _revalidates(client, url, headers, *, by_date=True):
    """The URL answers 200 with validators, then 304 to each of them."""
    first = client.get(url, headers=headers)
    assert first.status_code == 200, (url, first.data[:200])
    etag = first.headers["ETag"]
    again = client.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"", url
    assert again.headers["ETag"] == etag
    assert client.get(url, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
    if by_date:
        modified = first.headers["Last-Modified"]
        assert client.get(url, headers={**headers, "If-Modified-Since": modified}
                          ).status_code == 304, url
        assert client.get(url, headers={**headers, "If-Modified-Since": http_date(0)}
                          ).status_code == 200, url
        # If-None-Match wins over the date (RFC 9110 13.1.3).
        assert client.get(url, headers={**headers, "If-None-Match": '"other"',
                                        "If-Modified-Since": modified}).status_code == 200
    return first


def test_v1_pages_and_covers(client, book, admin_headers):
    base = f"/api/v1/books/{book.id}"
    page = _revalidates(client, f"{base}/pages/1", admin_headers)
    assert IMMUTABLE not in page.headers["Cache-Control"]
    pinned_url = client.get(f"{base}/pages", headers=admin_headers).json["items"][0]["url"]
    pinned = _revalidates(client, pinned_url, admin_headers)
    assert pinned.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    _revalidates(client, f"{base}/pages/1?width=60", admin_headers)
    for url in (f"{base}/thumbnail", f"{base}/thumbnail?size=200"):
        cover = _revalidates(client, url, admin_headers)
        assert IMMUTABLE not in cover.headers["Cache-Control"], "a cover may be picked again"


def test_lanraragi_pages_and_thumbnails(client, book, admin_headers):
    headers = bearer(admin_headers["X-API-Key"])
    files = client.get(f"/api/archives/{book.arcid}/files", headers=headers).json["pages"]
    page_url = urlsplit(files[0])
    page = _revalidates(client, f"{page_url.path}?{page_url.query}", headers, by_date=False)
    thumbnail = _revalidates(client, f"/api/archives/{book.arcid}/thumbnail", headers,
                             by_date=False)
    for response in (page, thumbnail):
        assert IMMUTABLE not in response.headers.get("Cache-Control", "")


def test_opds_covers_and_pages(client, book, admin_headers):
    for url in (f"/opds/v1.2/books/{book.id}/cover", f"/opds/v1.2/books/{book.id}/thumbnail"):
        cover = _revalidates(client, url, admin_headers)
        assert IMMUTABLE not in cover.headers["Cache-Control"]
    page = _revalidates(client, f"/opds/v1.2/books/{book.id}/pages/0", admin_headers,
                        by_date=False)
    assert IMMUTABLE not in page.headers["Cache-Control"]
