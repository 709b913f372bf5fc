"""One reading position behind every surface: a page streamed through PSE is
the position /api/v1 (Codex's and CLU's endpoints) and LANraragi report, a
position saved there is the next ``pse:lastRead``, and the Readium
progression API of OPDS 2 reads and writes the same row."""
from __future__ import annotations

import base64

import pytest
from lxml import etree

from comicsrv.auth.permissions import USER_PERMISSIONS
from comicsrv.extensions import db
from comicsrv.models import Book
from tests.factories import api_key_for

from .conftest import basic

NS = {"a": "http://www.w3.org/2005/Atom", "pse": "http://vaemendis.net/opds-pse/ns"}
PSE_STREAM = "http://vaemendis.net/opds-pse/stream"


@pytest.fixture
def book(scanned_library) -> Book:
    return db.session.execute(db.select(Book).where(
        Book.state == "ok", Book.page_count >= 4, Book.arcid.is_not(None),
        Book.format == "cbz").order_by(Book.id)).scalars().first()


@pytest.fixture
def reader_key(opds_reader) -> str:
    return api_key_for(opds_reader, sorted(USER_PERMISSIONS))


def lrr(key: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}


def stream_link(client, book: Book) -> etree._Element:
    feed = etree.fromstring(client.get(f"/opds/v1.2/series/{book.series_id}",
                                       headers=basic("opds")).data)
    entry = next(e for e in feed.iterfind("a:entry", NS)
                 if e.findtext("a:id", namespaces=NS) == f"urn:comicsrv:book:{book.id}")
    return entry.find(f"a:link[@rel='{PSE_STREAM}']", NS)


def test_a_streamed_page_is_the_position_every_surface_reports(client, book, reader_key):
    assert stream_link(client, book).get(f"{{{NS['pse']}}}lastRead") is None
    response = client.get(f"/opds/v1.2/books/{book.id}/pages/2", headers=basic("opds"))
    assert response.status_code == 200
    codex = client.get(f"/api/v1/books/{book.id}/progress", headers={"X-API-Key": reader_key})
    assert codex.json["current_page"] == 3  # PSE page 2 (from 0) is page 3 (from 1)
    clu = client.get("/api/v1/progress", query_string={"path": book.path},
                     headers={"X-API-Key": reader_key})
    assert clu.json["page_number"] == 3
    lanraragi = client.get(f"/api/archives/{book.arcid}/metadata", headers=lrr(reader_key))
    assert lanraragi.json["progress"] == 3
    link = stream_link(client, book)
    assert link.get(f"{{{NS['pse']}}}lastRead") == "3"
    assert link.get(f"{{{NS['pse']}}}lastReadDate").endswith("Z")
    progression = client.get(f"/opds/v2.0/books/{book.id}/progression", headers=basic("opds"))
    assert progression.json["locator"]["locations"]["position"] == 3


def test_a_position_saved_elsewhere_is_the_next_last_read(client, book, reader_key):
    saved = client.put(f"/api/v1/books/{book.id}/progress", json={"current_page": 4},
                       headers={"X-API-Key": reader_key})
    assert saved.status_code == 200
    assert stream_link(client, book).get(f"{{{NS['pse']}}}lastRead") == "4"
    lanraragi = client.put(f"/api/archives/{book.arcid}/progress/2", headers=lrr(reader_key))
    assert lanraragi.status_code == 200
    assert stream_link(client, book).get(f"{{{NS['pse']}}}lastRead") == "2"
    keep = client.get("/opds/v2.0/keep-reading", headers=basic("opds")).json
    assert [p["metadata"]["identifier"] for p in keep["publications"]] == [
        f"urn:comicsrv:book:{book.id}"]


def test_the_last_page_completes_the_book(client, book, reader_key):
    client.get(f"/opds/v1.2/books/{book.id}/pages/{book.page_count - 1}", headers=basic("opds"))
    codex = client.get(f"/api/v1/books/{book.id}/progress", headers={"X-API-Key": reader_key})
    assert codex.json["is_completed"] is True and codex.json["current_page"] == book.page_count


def test_a_key_that_may_not_write_progress_still_reads_pages(client, book, opds_reader,
                                                             reader_key):
    read_only = api_key_for(opds_reader, ["BooksRead", "PagesRead"])
    assert client.get(f"/opds/v1.2/key/{read_only}/books/{book.id}/pages/1").status_code == 200
    missing = client.get(f"/api/v1/books/{book.id}/progress", headers={"X-API-Key": reader_key})
    assert missing.status_code == 404 and missing.json["error"] == "no_progress"


def _progression(position: int, modified: str, device=("phone-1", "Thorium on a phone")) -> dict:
    return {"modified": modified, "device": {"id": device[0], "name": device[1]},
            "locator": {"href": "ignored", "type": "image/jpeg",
                        "locations": {"position": position}}}


def test_readium_progression_reads_and_writes_the_shared_position(client, book, reader_key):
    url = f"/opds/v2.0/books/{book.id}/progression"
    headers = basic("opds")
    assert client.get(url, headers=headers).status_code == 204
    put = client.put(url, json=_progression(3, "2026-01-02T10:00:00Z"), headers=headers)
    assert put.status_code == 204, put.data
    got = client.get(url, headers=headers)
    assert got.mimetype == "application/vnd.readium.progression+json"
    assert got.json["device"] == {"id": "phone-1", "name": "Thorium on a phone"}
    assert got.json["modified"] == "2026-01-02T10:00:00Z"
    assert got.json["locator"]["locations"]["position"] == 3
    assert got.json["locator"]["href"].endswith(f"/opds/v2.0/books/{book.id}/pages/3")
    codex = client.get(f"/api/v1/books/{book.id}/progress", headers={"X-API-Key": reader_key})
    assert codex.json["current_page"] == 3
    older = client.put(url, json=_progression(1, "2026-01-01T10:00:00Z"), headers=headers)
    assert older.status_code == 409 and older.json["title"] == "progression_conflict"
    # A page read through PSE afterwards names no device: it reads back empty.
    client.get(f"/opds/v1.2/books/{book.id}/pages/4", headers=headers)
    assert client.get(url, headers=headers).json["device"] == {"id": "", "name": ""}


@pytest.mark.parametrize("body", [
    _progression(0, "2030-01-01T00:00:00Z"),
    _progression(10_000, "2030-01-01T00:00:00Z"),
    {"modified": "2030-01-01T00:00:00Z", "locator": {"href": "x", "locations": {}}},
    {"modified": "yesterday", "locator": {"href": "x"}},
    {"locator": {"href": "x"}},
    [],
])
def test_a_bad_progression_is_a_400_problem(client, book, opds_reader, body):
    response = client.put(f"/opds/v2.0/books/{book.id}/progression", json=body,
                          headers=basic("opds"))
    assert response.status_code == 400, response.data
    assert response.mimetype == "application/problem+json"


def test_a_progression_can_name_the_page_by_its_href(client, book, opds_reader):
    href = f"http://localhost/opds/v2.0/books/{book.id}/pages/2"
    body = {"modified": "2030-01-01T00:00:00Z",
            "locator": {"href": href, "type": "image/jpeg", "locations": {"progression": 0}}}
    url = f"/opds/v2.0/books/{book.id}/progression"
    assert client.put(url, json=body, headers=basic("opds")).status_code == 204
    assert client.get(url, headers=basic("opds")).json["locator"]["locations"]["position"] == 2
