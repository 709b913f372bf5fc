"""/api/metadata: provider search and lookups (Metron replayed), an issue's
metadata, and ComicInfo.xml written into a real CBZ of the library."""
from __future__ import annotations

import shutil
import zipfile
from xml.etree import ElementTree

from comicsrv.extensions import db
from comicsrv.models.automation import WatchedIssue
from tests.api.legacy.metron_replay import add_inhumans, app, headers, metron  # noqa: F401
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import BookFactory, LibraryFactory

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
