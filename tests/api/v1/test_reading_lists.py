"""Reading lists in ``/api/v1``: ordered, per user, and imported from real
CBL files (Komga's test lists) against a scanned library of real archives."""
from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book, ReadingList
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import UserFactory, api_key_for

LISTS = Path(__file__).parent.parent.parent / "fixtures" / "readinglists"
ZIP = FIXTURE_ARCHIVES / "komga" / "zip.zip"


@pytest.fixture
def civil_war_library(app, tmp_path):
    """Two of the Civil War list's three issues, as files named the way
    scene releases are (no ComicInfo: matched by the parsed names)."""
    root = tmp_path / "marvel"
    for relative in ("Civil War/Civil War 001 (2006).cbz", "Wolverine/Wolverine 042 (2006).cbz",
                     "Wolverine/Wolverine 042 (1991).cbz"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ZIP, root / relative)
    library = create_library("Marvel", str(root))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    return library


@pytest.fixture
def alice(app):
    return UserFactory(username="alice")


@pytest.fixture
def headers(alice):
    return {"X-API-Key": api_key_for(alice, ["BooksRead", "BooksWrite"])}


def book_named(name: str) -> Book:
    return db.session.execute(db.select(Book).where(Book.filename == name)).scalar_one()


def upload(client, headers, name: str, **query):
    return client.post("/api/v1/reading-lists/import", headers=headers, query_string=query,
                       data={"file": (io.BytesIO((LISTS / name).read_bytes()), name)},
                       content_type="multipart/form-data")


def test_import_a_cbl_matches_what_the_library_has_in_order(client, headers, civil_war_library):
    answer = upload(client, headers, "komga-civil-war.cbl")
    assert answer.status_code == 201, answer.json
    created = answer.json
    assert created["name"] == "Civil War" and created["source"] == "cbl"
    assert (created["entry_count"], created["matched_count"], created["matched_now"]) == (3, 2, 2)

    entries = client.get(f"/api/v1/reading-lists/{created['id']}/entries", headers=headers).json
    assert [(e["position"], e["series"], e["number"]) for e in entries["items"]] == [
        (0, "Civil War", "1"), (1, "Wolverine", "42"), (2, "X-Factor", "HS")]
    # Wolverine #42 of 2006, not the 1991 one: the year breaks the tie.
    assert entries["items"][1]["book_id"] == book_named("Wolverine 042 (2006).cbz").id
    assert entries["items"][2]["book_id"] is None

    books = client.get(f"/api/v1/reading-lists/{created['id']}/books", headers=headers).json
    assert [b["filename"] for b in books["items"]] == ["Civil War 001 (2006).cbz",
                                                       "Wolverine 042 (2006).cbz"]
    assert books["total"] == 2


def test_an_issue_that_arrives_later_is_matched_when_asked(app, client, headers,
                                                            civil_war_library):
    created = upload(client, headers, "komga-civil-war.cbl").json
    # X-Factor's "HS" is no number a file name gives: the file says it in ComicInfo.
    target = Path(civil_war_library.path) / "X-Factor" / "X-Factor Special (2006).cbz"
    target.parent.mkdir()
    shutil.copy(ZIP, target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("ComicInfo.xml", "<?xml version='1.0'?><ComicInfo><Series>X-Factor"
                                          "</Series><Number>HS</Number><Year>2006</Year>"
                                          "</ComicInfo>")
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": civil_war_library.id})
    assert job.state == "finished"
    matched = client.post(f"/api/v1/reading-lists/{created['id']}/match", headers=headers).json
    assert matched["matched_now"] == 1 and matched["unmatched_count"] == 0


def test_a_comicvine_id_in_the_cbl_picks_the_book_that_has_it(client, headers, scanned_library):
    """The CBZ's and CB7's ComicInfo name ComicVine issue 145269; the CBR of
    the same issue (older, and first by id) does not, nor does the year match."""
    cbz = db.session.execute(db.select(Book).where(
        Book.filename == "Captain Science #001.cbz")).scalar_one()
    assert (cbz.extra or {}).get("identifiers", {}).get("comicvine") == "145269"
    cbr = db.session.execute(db.select(Book).where(
        Book.filename == "Captain Science #001 (rar).cbr")).scalar_one()
    assert cbr.id < cbz.id and not (cbr.extra or {}).get("identifiers")
    cbl = b"""<?xml version="1.0" encoding="utf-8"?>
<ReadingList><Name>Science</Name><Books>
<Book Series="Captain Science" Number="1" Volume="1999" Year="1999">
<Database Name="cv" Series="9999" Issue="145269" /></Book>
</Books></ReadingList>"""
    answer = client.post("/api/v1/reading-lists/import", headers=headers,
                         data={"file": (io.BytesIO(cbl), "science.cbl")},
                         content_type="multipart/form-data")
    assert answer.status_code == 201, answer.json
    entries = client.get(f"/api/v1/reading-lists/{answer.json['id']}/entries",
                         headers=headers).json["items"]
    matched = db.session.get(Book, entries[0]["book_id"])
    assert matched.extra["identifiers"]["comicvine"] == "145269"
    assert entries[0]["identifiers"] == {"cv": {"series": "9999", "issue": "145269"}}


def test_what_is_not_a_reading_list_is_refused(client, headers):
    smart = upload(client, headers, "komga-golden-age-smart.cbl")
    assert smart.status_code == 400 and "smart list" in smart.json["message"]
    for body in (b"<html><body>not xml", b"<ComicInfo/>",
                 b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><ReadingList/>'):
        bad = client.post("/api/v1/reading-lists/import", headers=headers,
                          data={"file": (io.BytesIO(body), "x.cbl")},
                          content_type="multipart/form-data")
        assert bad.status_code == 400 and bad.json["error"] == "invalid_cbl", body
    missing = client.post("/api/v1/reading-lists/import", headers=headers, data={},
                          content_type="multipart/form-data")
    assert missing.status_code == 400
    assert db.session.execute(db.select(ReadingList)).first() is None


def test_make_reorder_add_and_remove_entries(client, headers, civil_war_library):
    civil, wolverine = book_named("Civil War 001 (2006).cbz"), book_named("Wolverine 042 (2006).cbz")
    old = book_named("Wolverine 042 (1991).cbz")
    created = client.post("/api/v1/reading-lists", headers=headers, json={
        "name": "Mine", "book_ids": [wolverine.id, civil.id]})
    assert created.status_code == 201 and created.json["entry_count"] == 2
    list_id = created.json["id"]
    client.post(f"/api/v1/reading-lists/{list_id}/entries", headers=headers,
                json={"book_ids": [old.id], "position": 0})
    entries = client.get(f"/api/v1/reading-lists/{list_id}/entries", headers=headers).json["items"]
    assert [e["book_id"] for e in entries] == [old.id, wolverine.id, civil.id]
    assert [e["position"] for e in entries] == [0, 1, 2]

    ids = [e["id"] for e in entries]
    reordered = client.put(f"/api/v1/reading-lists/{list_id}/entries/order", headers=headers,
                           json={"entry_ids": [ids[2], ids[0], ids[1]]})
    assert reordered.status_code == 200
    books = client.get(f"/api/v1/reading-lists/{list_id}/books", headers=headers).json["items"]
    assert [b["id"] for b in books] == [civil.id, old.id, wolverine.id]
    partial = client.put(f"/api/v1/reading-lists/{list_id}/entries/order", headers=headers,
                         json={"entry_ids": [ids[0]]})
    assert partial.status_code == 400

    assert client.delete(f"/api/v1/reading-lists/{list_id}/entries/{ids[0]}",
                         headers=headers).status_code == 204
    books = client.get(f"/api/v1/reading-lists/{list_id}/books", headers=headers).json["items"]
    assert [b["id"] for b in books] == [civil.id, wolverine.id]

    renamed = client.patch(f"/api/v1/reading-lists/{list_id}", headers=headers,
                           json={"name": "Civil War, my order", "summary": "Read this first."})
    assert renamed.json["name"] == "Civil War, my order"
    listed = client.get("/api/v1/reading-lists", headers=headers).json
    assert [r["name"] for r in listed["items"]] == ["Civil War, my order"]
    assert client.delete(f"/api/v1/reading-lists/{list_id}", headers=headers).status_code == 204
    assert db.session.get(Book, civil.id) is not None


def test_lists_are_private_to_their_user(client, headers, civil_war_library):
    created = client.post("/api/v1/reading-lists", headers=headers, json={"name": "Mine"}).json
    taken = client.post("/api/v1/reading-lists", headers=headers, json={"name": "Mine"})
    assert taken.status_code == 409
    bob = UserFactory(username="bob")
    bob_headers = {"X-API-Key": api_key_for(bob, ["BooksRead", "BooksWrite"])}
    assert client.get(f"/api/v1/reading-lists/{created['id']}", headers=bob_headers).status_code == 404
    assert client.delete(f"/api/v1/reading-lists/{created['id']}",
                         headers=bob_headers).status_code == 404
    assert client.get("/api/v1/reading-lists", headers=bob_headers).json["total"] == 0
    # Bob may have his own "Mine".
    assert client.post("/api/v1/reading-lists", headers=bob_headers,
                       json={"name": "Mine"}).status_code == 201


def test_a_book_outside_the_users_libraries_cannot_be_listed(client, civil_war_library, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    other = create_library("Elsewhere", str(tmp_path / "elsewhere"))
    carol = UserFactory(username="carol", library_ids=[other.id])
    carol_headers = {"X-API-Key": api_key_for(carol, ["BooksRead", "BooksWrite"])}
    hidden = book_named("Civil War 001 (2006).cbz")
    answer = client.post("/api/v1/reading-lists", headers=carol_headers,
                         json={"name": "x", "book_ids": [hidden.id]})
    assert answer.status_code == 404
    imported = upload(client, carol_headers, "komga-civil-war.cbl").json
    assert imported["matched_count"] == 0
