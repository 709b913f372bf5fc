"""/api/metadata: provider search and lookups (Metron replayed), an issue's
metadata, and ComicInfo.xml written into a real CBZ of the library."""
from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

from comicsrv.extensions import db
from comicsrv.library.reader import compute_koreader_hash
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book
from comicsrv.models.automation import WatchedIssue
from tests.api.legacy.metron_replay import add_inhumans, app, headers, metron  # noqa: F401
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import (
    BookFactory, LibraryFactory, WatchedIssueFactory, WatchedSeriesFactory,
)
from tests.serving import live_server  # noqa: F401

CBZ = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz"


def test_search_answers_provider_results_in_the_envelope(client, headers):
    data = client.post("/api/metadata/search", json={"query": "death"}, headers=headers).json["data"]
    assert [(r["comicid"], r["name"]) for r in data["results"]] == [("1", "Death of the Inhumans")]


def test_comic_reads_the_series_and_its_issues_from_the_provider(client, headers):
    response = client.get("/api/metadata/comic/1", headers=headers)
    assert response.status_code == 200
    data = response.json["data"]
    assert (data["ComicID"], data["ComicName"], data["ComicPublisher"]) == (
        "1", "Death of the Inhumans", "Marvel")
    assert [(i["IssueID"], i["Issue_Number"], i["ReleaseDate"]) for i in data["issues"]] == [
        ("1", "1", "2018-07-04"), ("2", "2", "2018-08-08")]
    missing = client.get("/api/metadata/comic/999", headers=headers)
    assert missing.status_code == 404 and missing.json["success"] is False


def test_issue_answers_the_watched_issues_metadata_and_its_comicinfo(client, headers):
    assert client.get("/api/metadata/issue/2", headers=headers).status_code == 404
    add_inhumans(client, headers)
    data = client.get("/api/metadata/issue/2", headers=headers).json["data"]
    assert (data["IssueID"], data["ComicID"], data["Issue_Number"]) == ("2", "1", "2")
    xml = ElementTree.fromstring(data["ComicInfo"])
    assert xml.findtext("Series") == "Death of the Inhumans" and xml.findtext("Number") == "2"


def _linked_book(tmp_path, name="Death of the Inhumans 002.cbz", source=CBZ):
    library = LibraryFactory(path=str(tmp_path / "lib"))
    path = tmp_path / "lib" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, path)
    book = BookFactory(library=library, path=str(path))
    issue = db.session.scalars(db.select(WatchedIssue).where(WatchedIssue.provider_id == "2")).one()
    issue.book_id = book.id
    db.session.commit()
    return path


def test_metatag_writes_comicinfo_into_the_book_keeping_every_page(client, headers, tmp_path):
    add_inhumans(client, headers)
    path = _linked_book(tmp_path)
    with zipfile.ZipFile(CBZ) as original:
        # Any old ComicInfo.xml (here a nested one) is dropped, every page kept.
        pages = {i.filename: i.CRC for i in original.infolist()
                 if not i.filename.lower().endswith("comicinfo.xml")}
    response = client.post("/api/metadata/metatag", json={"issue_id": "2", "comic_id": "1"},
                           headers=headers)
    assert response.status_code == 200, response.json
    with zipfile.ZipFile(path) as tagged:
        assert tagged.testzip() is None
        assert {i.filename: i.CRC for i in tagged.infolist()
                if i.filename != "ComicInfo.xml"} == pages
        xml = ElementTree.fromstring(tagged.read("ComicInfo.xml"))
    assert xml.findtext("Series") == "Death of the Inhumans" and xml.findtext("Number") == "2"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no partial left


def test_metatag_refuses_clearly(client, headers, tmp_path):
    add_inhumans(client, headers)
    no_book = client.post("/api/metadata/metatag", json={"issue_id": "2"}, headers=headers)
    assert no_book.status_code == 409 and no_book.json["success"] is False
    wrong_comic = client.post("/api/metadata/metatag", json={"issue_id": "2", "comic_id": "77"},
                              headers=headers)
    assert wrong_comic.status_code == 404
    path = _linked_book(tmp_path, "Death of the Inhumans 002.cbr")
    before = path.read_bytes()
    not_cbz = client.post("/api/metadata/metatag", json={"issue_id": "2"}, headers=headers)
    assert not_cbz.status_code == 400 and "CBZ" in not_cbz.json["error"]["message"]
    assert path.read_bytes() == before


def test_metatag_of_a_scanned_book_keeps_it_readable_under_every_id(
        app, client, headers, admin, scanned_library):
    """The book is re-indexed in the metatag request itself: no 404
    "media_unavailable ... rescan" in between, the same book id and reading
    progress, and LANraragi clients holding the old archive id still reach
    it on every /api/archives/<arcid> route."""
    add_inhumans(client, headers)
    book = db.session.scalars(db.select(Book).where(Book.filename == "Captain Science #001.cbz")).one()
    book_id, old_arcid, path = book.id, book.arcid, Path(book.path)
    issue = db.session.scalars(db.select(WatchedIssue).where(WatchedIssue.provider_id == "2")).one()
    issue.book_id = book.id
    db.session.commit()
    with zipfile.ZipFile(path) as zf:
        pages = {i.filename: zf.read(i) for i in zf.infolist() if i.filename.endswith(".jpg")}
    lrr = {"Authorization": "Bearer " + base64.b64encode(headers["X-Api-Key"].encode()).decode()}
    assert client.put(f"/api/archives/{old_arcid}/progress/3", headers=lrr).status_code == 200

    response = client.post("/api/metadata/metatag", json={"issue_id": "2"}, headers=headers)
    assert response.status_code == 200, response.json
    data = response.json["data"]
    new_arcid = data["arcid"]
    assert data["book_id"] == book_id and data["previous_arcid"] == old_arcid
    assert new_arcid == hashlib.sha1(path.read_bytes()[:512_000]).hexdigest() != old_arcid

    # /api/v1, by book id, at once.
    detail = client.get(f"/api/v1/books/{book_id}", headers=headers)
    assert detail.status_code == 200
    assert (detail.json["arcid"], detail.json["file_size"]) == (new_arcid, path.stat().st_size)
    assert client.get(f"/api/v1/books/{book_id}/thumbnail", headers=headers).status_code == 200
    # KOReader knows the new file by its own document id at once.
    db.session.expire_all()
    assert db.session.get(Book, book_id).koreader_hash == compute_koreader_hash(str(path))
    listing = client.get(f"/api/v1/books/{book_id}/pages", headers=headers).json
    assert listing["total"] == 5
    for number in range(1, 6):
        page = client.get(f"/api/v1/books/{book_id}/pages/{number}", headers=headers)
        assert page.status_code == 200, page.json
        assert page.data == pages[f"Captain Science 001/CaptainScience#1_0{number}.jpg"]
    progress = client.get(f"/api/v1/books/{book_id}/progress", headers=headers)
    assert progress.status_code == 200 and progress.json["current_page"] == 3

    # LANraragi, under the new id and the one clients cached.
    for arcid in (new_arcid, old_arcid):
        metadata = client.get(f"/api/archives/{arcid}/metadata", headers=lrr)
        assert metadata.status_code == 200
        assert (metadata.json["arcid"], metadata.json["progress"]) == (new_arcid, 3)
        assert "series:Death of the Inhumans" in metadata.json["tags"]
        assert client.get(f"/api/archives/{arcid}", headers=lrr).status_code == 200
        assert client.get(f"/api/archives/{arcid}/thumbnail", headers=lrr).status_code == 200
        files = client.get(f"/api/archives/{arcid}/files", headers=lrr)
        assert files.status_code == 200 and len(files.json["pages"]) == 5
        first = client.get(files.json["pages"][0], headers=lrr)
        assert first.status_code == 200
        assert first.data == pages["Captain Science 001/CaptainScience#1_01.jpg"]
        name = quote("Captain Science 001/CaptainScience#1_05.jpg")
        last = client.get(f"/api/archives/{arcid}/page?path={name}", headers=lrr)
        assert last.status_code == 200
        assert last.data == pages["Captain Science 001/CaptainScience#1_05.jpg"]
        download = client.get(f"/api/archives/{arcid}/download", headers=lrr)
        assert download.status_code == 200 and download.data == path.read_bytes()
        assert client.get(f"/api/archives/{arcid}/categories", headers=lrr).status_code == 200
    assert client.put(f"/api/archives/{old_arcid}/progress/4", headers=lrr).json["id"] == new_arcid
    assert client.get(f"/api/v1/books/{book_id}/progress", headers=headers).json["current_page"] == 4
    assert client.get(f"/api/archives/{'0' * 40}/metadata", headers=lrr).status_code == 400

    # A rescan finds nothing to redo, and the old id still answers after it.
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": scanned_library.id})
    assert job.state == "finished" and job.result["updated"] == 0 and job.result["created"] == 0
    db.session.expire_all()
    book = db.session.get(Book, book_id)
    assert (book.arcid, book.state, book.series_name) == (new_arcid, "ok", "Death of the Inhumans")
    assert client.get(f"/api/archives/{old_arcid}/metadata", headers=lrr).status_code == 200
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".comicsrv")]



def test_metatag_under_comicsrv_serve_answers_at_once(live_server, headers, scanned_library):
    """Through a real server process (the writer and the re-index run on
    gevent's thread pool): pages read before the rewrite and right after it,
    under the book id and under both archive ids."""
    book = db.session.scalars(db.select(Book).where(Book.filename == "Captain Science #001.cbz")).one()
    book_id, old_arcid, path = book.id, book.arcid, Path(book.path)
    series = WatchedSeriesFactory(name="Saga", publisher="Image", provider_id="4242")
    WatchedIssueFactory(series=series, number="7", number_sort=7.0, provider_id="777",
                        book_id=book_id)
    with zipfile.ZipFile(path) as zf:
        first_page = zf.read("Captain Science 001/CaptainScience#1_01.jpg")
    lrr = {"Authorization": "Bearer " + base64.b64encode(headers["X-Api-Key"].encode()).decode()}
    server = live_server()
    assert server.get(f"/api/v1/books/{book_id}/pages/1", headers=headers).content == first_page
    response = server.post("/api/metadata/metatag", json={"issue_id": "777"}, headers=headers)
    assert response.status_code == 200, response.text
    new_arcid = response.json()["data"]["arcid"]
    assert new_arcid != old_arcid
    for number in range(1, 6):
        assert server.get(f"/api/v1/books/{book_id}/pages/{number}",
                          headers=headers).status_code == 200
    assert server.get(f"/api/v1/books/{book_id}/pages/1", headers=headers).content == first_page
    assert server.get(f"/api/v1/books/{book_id}/thumbnail", headers=headers).status_code == 200
    for arcid in (old_arcid, new_arcid):
        files = server.get(f"/api/archives/{arcid}/files", headers=lrr)
        assert files.status_code == 200
        assert server.get(files.json()["pages"][0], headers=lrr).content == first_page
        metadata = server.get(f"/api/archives/{arcid}/metadata", headers=lrr).json()
        assert metadata["arcid"] == new_arcid and "series:Saga" in metadata["tags"]
