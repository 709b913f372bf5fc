"""Metadata editing with locks and thumbnail regeneration in ``/api/v1``,
on a real scanned library of fixture archives: what a user edited survives
a deep rescan, what they unlocked comes back from the file, ComicInfo.xml
written into a CBZ reads back, a renamed series keeps its books."""
from __future__ import annotations

import os
import zipfile

import pytest

from comicsrv.comicinfo import read_comicinfo
from comicsrv.extensions import db
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book, Job, Series
from tests.factories import api_key_for

CBZ = "Youthful/Captain Science/Captain Science #001.cbz"
CBR = "Youthful/Captain Science/Captain Science #001 (rar).cbr"


@pytest.fixture
def editor_headers(reader):
    """A plain user an admin granted MetadataWrite."""
    reader.granted_permissions = ["MetadataWrite"]
    db.session.commit()
    return {"X-API-Key": api_key_for(reader, ["BooksRead", "SeriesRead", "MetadataWrite"])}


def book_at(library, relative: str) -> Book:
    return db.session.execute(db.select(Book).where(
        Book.path == os.path.join(library.path, relative))).scalar_one()


def rescan(app, library):
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id,
                                                              "deep": True})
    assert job.state == "finished", job.error
    db.session.expire_all()


def test_edited_book_fields_and_tags_are_locked_against_a_rescan(
        app, client, scanned_library, editor_headers):
    book = book_at(scanned_library, CBZ)
    assert book.title == "The Beginning; The End"
    answer = client.patch(f"/api/v1/books/{book.id}", headers=editor_headers, json={
        "title": "Captain Science Begins", "tags": {"genre": ["Adventure", "Pulp"]}})
    assert answer.status_code == 200, answer.json
    assert answer.json["title"] == "Captain Science Begins"
    assert answer.json["tags"]["genre"] == ["Adventure", "Pulp"]
    assert answer.json["locked_fields"] == {"tags.genre": True, "title": True}

    rescan(app, scanned_library)
    shown = client.get(f"/api/v1/books/{book.id}", headers=editor_headers).json
    assert shown["title"] == "Captain Science Begins"
    assert shown["tags"]["genre"] == ["Adventure", "Pulp"]
    # What was not edited still comes from the file.
    assert shown["tags"]["writer"] == ["Joe Orlando"] and shown["year"] == 1950

    unlocked = client.patch(f"/api/v1/books/{book.id}", headers=editor_headers,
                            json={"locks": {"title": False}})
    assert unlocked.json["locked_fields"] == {"tags.genre": True}
    rescan(app, scanned_library)
    assert db.session.get(Book, book.id).title == "The Beginning; The End"


def test_an_edit_written_into_the_cbz_reads_back_from_the_file(
        app, client, scanned_library, editor_headers):
    book = book_at(scanned_library, CBZ)
    old_arcid = book.arcid
    answer = client.patch(f"/api/v1/books/{book.id}", headers=editor_headers, json={
        "title": "Retitled", "summary": "Written by the API.",
        "tags": {"writer": ["Joe Orlando", "Someone Else"]}, "write_comicinfo": True})
    assert answer.status_code == 200, answer.json
    assert answer.json["previous_arcid"] == old_arcid and answer.json["arcid"] != old_arcid
    with zipfile.ZipFile(book_at(scanned_library, CBZ).path) as archive:
        names = [n for n in archive.namelist() if n.lower() == "comicinfo.xml"]
        meta = read_comicinfo(archive.read(names[0]))
    assert meta.title == "Retitled" and meta.summary == "Written by the API."
    assert meta.writer == ["Joe Orlando", "Someone Else"]
    assert meta.series == "Captain Science" and meta.month == 11  # kept from the file
    assert meta.story_arc == ["Captain Arc", "Other Arc"]


def test_only_a_cbz_can_take_comicinfo_and_bad_edits_are_400s(client, scanned_library,
                                                               editor_headers):
    cbr = book_at(scanned_library, CBR)
    answer = client.patch(f"/api/v1/books/{cbr.id}", headers=editor_headers,
                          json={"title": "x", "write_comicinfo": True})
    assert answer.status_code == 400 and "not a CBZ" in answer.json["message"]
    for body in ({"month": 13}, {"tags": {"sidekick": ["Robin"]}}, {"locks": {"colour": True}},
                 {"year": "1950"}):
        bad = client.patch(f"/api/v1/books/{cbr.id}", headers=editor_headers, json=body)
        assert bad.status_code == 400, (body, bad.json)


def test_a_renamed_series_keeps_its_books_through_a_rescan(
        app, client, scanned_library, editor_headers):
    book = book_at(scanned_library, CBZ)
    series_id = book.series_id
    series_count = db.session.execute(db.select(db.func.count(Series.id))).scalar()
    answer = client.patch(f"/api/v1/series/{series_id}", headers=editor_headers, json={
        "name": "Captain Science (1950)", "summary": "A 1950s science fiction comic."})
    assert answer.status_code == 200, answer.json
    assert answer.json["name"] == "Captain Science (1950)"
    assert answer.json["locked_fields"] == {"name": True, "summary": True}
    assert client.get(f"/api/v1/books/{book.id}",
                      headers=editor_headers).json["series_name"] == "Captain Science (1950)"

    rescan(app, scanned_library)
    book = db.session.get(Book, book.id)
    assert book.series_id == series_id and book.series_name == "Captain Science (1950)"
    assert db.session.execute(db.select(db.func.count(Series.id))).scalar() == series_count
    series = db.session.get(Series, series_id)
    assert series.name == "Captain Science (1950)" and series.summary.startswith("A 1950s")


def test_editing_needs_metadata_write(client, scanned_library, reader_headers):
    book = book_at(scanned_library, CBZ)
    answer = client.patch(f"/api/v1/books/{book.id}", headers=reader_headers,
                          json={"title": "x"})
    assert answer.status_code == 403
    assert client.patch(f"/api/v1/series/{book.series_id}", headers=reader_headers,
                        json={"name": "x"}).status_code == 403


def test_thumbnails_regenerate_for_a_book_a_series_and_a_library(
        app, client, scanned_library, editor_headers):
    media = app.extensions["comicsrv.media"]
    book = book_at(scanned_library, CBZ)
    assert client.get(f"/api/v1/books/{book.id}/thumbnail", headers=editor_headers,
                      query_string={"size": 120}).status_code == 200
    small = media.cover_path(media.cover_key(book, 120))
    assert small.exists()
    seen = []
    app.extensions["comicsrv.events"].add_listener(
        lambda event: seen.append(event) if event.name == "cover_updated" else None)
    answer = client.post(f"/api/v1/books/{book.id}/thumbnail/regenerate", headers=editor_headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["removed"] >= 1 and answer.json["edge"] == 400
    assert not small.exists() and media.cover_path(media.cover_key(book, 400)).exists()
    assert [e.book_id for e in seen] == [book.id]

    job_id = client.post(f"/api/v1/series/{book.series_id}/thumbnail/regenerate",
                         headers=editor_headers).json["job_id"]
    assert app.extensions["comicsrv.jobs"].wait(job_id, 60)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.state == "finished" and job.result["regenerated"] == 3

    job_id = client.post(f"/api/v1/libraries/{scanned_library.id}/thumbnails/regenerate",
                         headers=editor_headers).json["job_id"]
    assert app.extensions["comicsrv.jobs"].wait(job_id, 60)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.state == "finished"
    readable = db.session.execute(db.select(db.func.count(Book.id)).where(
        Book.library_id == scanned_library.id, Book.state == "ok")).scalar()
    assert job.result["regenerated"] + job.result["failed_count"] == readable
    assert client.post("/api/v1/books/999999/thumbnail/regenerate",
                       headers=editor_headers).status_code == 404
