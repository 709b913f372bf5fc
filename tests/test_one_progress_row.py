"""One reading position behind every surface: a page set through OPDS page
streaming, the Komga API, KOReader sync, ``/api/v1`` or the LANraragi API
is the page each of the others (and OPDS 2's progression) then reports."""
from __future__ import annotations

import base64

import pytest
from lxml import etree

from comicsrv.auth.permissions import USER_PERMISSIONS
from comicsrv.extensions import db
from comicsrv.models import Book, ReadingProgress
from tests.factories import PASSWORD, UserFactory, api_key_for

NS = {"a": "http://www.w3.org/2005/Atom", "pse": "http://vaemendis.net/opds-pse/ns"}


@pytest.fixture
def setup(scanned_library):
    user = UserFactory(username="everywhere")
    key = api_key_for(user, sorted(USER_PERMISSIONS))
    book = db.session.execute(db.select(Book).where(
        Book.state == "ok", Book.page_count >= 3, Book.format == "cbz",
        Book.koreader_hash.is_not(None), Book.arcid.is_not(None)).order_by(Book.id)
    ).scalars().first()
    basic = "Basic " + base64.b64encode(f"everywhere:{PASSWORD}".encode()).decode()
    return user, key, book, {"Authorization": basic}


def test_every_surface_reads_and_writes_the_same_row(client, setup):
    user, key, book, basic = setup
    lrr = {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}
    kosync = {"X-Auth-User": key, "X-Auth-Key": "0" * 32}
    x_key = {"X-API-Key": key}

    def set_pse(page):
        assert client.get(f"/opds/v1.2/books/{book.id}/pages/{page - 1}",
                          headers=basic).status_code == 200

    def set_komga(page):
        assert client.patch(f"/komga/api/v1/books/{book.id}/read-progress", json={"page": page},
                            headers=basic).status_code == 204

    def set_koreader(page):
        assert client.put("/koreader/syncs/progress", headers=kosync, json={
            "document": book.koreader_hash, "progress": str(page),
            "percentage": page / book.page_count, "device": "Kobo",
            "device_id": "K1"}).status_code == 200

    def set_v1(page):
        assert client.put(f"/api/v1/books/{book.id}/progress", json={"current_page": page},
                          headers=x_key).status_code == 200

    def set_lanraragi(page):
        assert client.put(f"/api/archives/{book.arcid}/progress/{page}",
                          headers=lrr).status_code == 200

    def read_pse():
        feed = etree.fromstring(client.get(f"/opds/v1.2/series/{book.series_id}",
                                           headers=basic).data)
        entry = next(e for e in feed.iterfind("a:entry", NS)
                     if e.findtext("a:id", namespaces=NS) == f"urn:comicsrv:book:{book.id}")
        stream = entry.find("a:link[@rel='http://vaemendis.net/opds-pse/stream']", NS)
        return int(stream.get(f"{{{NS['pse']}}}lastRead"))

    readers = {
        "pse": read_pse,
        "opds2": lambda: client.get(f"/opds/v2.0/books/{book.id}/progression", headers=basic
                                    ).json["locator"]["locations"]["position"],
        "komga": lambda: client.get(f"/komga/api/v1/books/{book.id}", headers=basic
                                    ).json["readProgress"]["page"],
        "koreader": lambda: int(client.get(f"/koreader/syncs/progress/{book.koreader_hash}",
                                           headers=kosync).json["progress"]),
        "v1": lambda: client.get(f"/api/v1/books/{book.id}/progress", headers=x_key
                                 ).json["current_page"],
        "lanraragi": lambda: client.get(f"/api/archives/{book.arcid}/metadata", headers=lrr
                                        ).json["progress"],
    }
    setters = {"pse": set_pse, "komga": set_komga, "koreader": set_koreader, "v1": set_v1,
               "lanraragi": set_lanraragi}
    for index, (name, setter) in enumerate(setters.items()):
        page = 1 + index % (book.page_count - 1)  # never the last page: no completion
        setter(page)
        seen = {reader: read() for reader, read in readers.items()}
        assert seen == dict.fromkeys(readers, page), f"set through {name}"
    rows = db.session.execute(db.select(ReadingProgress).where(
        ReadingProgress.user_id == user.id)).scalars().all()
    assert [(r.book_id, r.completed) for r in rows] == [(book.id, False)]
