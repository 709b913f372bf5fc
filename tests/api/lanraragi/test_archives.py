"""``/api/archives``: archive objects, edits, thumbnails, pages, progress."""
import io
import os
from urllib.parse import parse_qs, urlsplit

from PIL import Image
from sqlalchemy import select

from comicsrv.extensions import db
from comicsrv.library.reading import get_progress
from comicsrv.lrr.tags import epoch
from comicsrv.models import Book, BookTag, Job, Tag
from tests.factories import CategoryBookFactory, CategoryFactory

from .conftest import book_named

ARCHIVE_FIELDS = {"arcid": str, "title": str, "filename": str, "extension": str, "tags": str,
                  "isnew": str, "pagecount": int, "progress": int, "lastreadtime": int,
                  "size": int, "toc": list}


def check_archive_object(item: dict) -> None:
    assert set(item) == set(ARCHIVE_FIELDS) | {"summary"}
    for name, kind in ARCHIVE_FIELDS.items():
        assert type(item[name]) is kind, (name, item[name])
    assert isinstance(item["summary"], str)  # "" when none, never null
    assert item["isnew"] in ("true", "false")
    assert len(item["arcid"]) == 40


def test_metadata_of_a_comic_with_comicinfo(client, captain, lrr_admin):
    item = client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json
    check_archive_object(item)
    assert item == {
        "arcid": captain.arcid,
        "title": "Captain Science #1 - The Beginning; The End",
        "filename": "Captain Science #001",
        "extension": "cbz",
        "tags": ("series:Captain Science, artist:Wally Wood, writer:Joe Orlando, "
                 "genre:Science Fiction, character:Captain Science, character:Gordon Dane, "
                 "arc:Captain Arc, arc:Other Arc, publisher:Youthful Adventure Stories, "
                 "age_rating:Teen, language:en, "
                 "source:https://comicvine.gamespot.com/c/4000-145269/, "
                 f"timestamp:-604886400, date_added:{epoch(captain.created_at)}"),
        "summary": captain.summary or "",
        "isnew": "true",
        "pagecount": 5,
        "progress": 0,
        "lastreadtime": 0,
        "size": os.path.getsize(captain.path),
        "toc": [],
    }
    assert client.get(f"/api/archives/{captain.arcid}", headers=lrr_admin).json == item


def test_a_file_without_metadata_is_titled_by_its_name(client, scanned_library, lrr_admin):
    book = book_named("rar4.cbr")
    item = client.get(f"/api/archives/{book.arcid}/metadata", headers=lrr_admin).json
    assert (item["title"], item["filename"], item["extension"]) == ("rar4", "rar4", "cbr")
    assert item["pagecount"] == 3


def test_list_has_every_archive_on_disk(client, scanned_library, lrr_admin):
    book_named("rar4.cbr").state = "missing"
    db.session.commit()
    items = client.get("/api/archives", headers=lrr_admin).json
    assert len(items) == 7
    for item in items:
        check_archive_object(item)
    assert book_named("rar4.cbr").arcid not in {item["arcid"] for item in items}


def test_untagged_lists_archives_without_real_tags(client, scanned_library, lrr_admin):
    untagged = client.get("/api/archives/untagged", headers=lrr_admin).json
    names = {book.filename for book in db.session.execute(
        select(Book).where(Book.arcid.in_(untagged))).scalars()}
    # The rar copy carries ComicInfo credits: tagged. The others have no tags at all.
    assert names == {"rar4.cbr", "rar5-solid.cbr", "komga.pdf", "encrypted.cbz", "empty.cbz"}


def test_metadata_edit_is_stored_for_every_surface(client, captain, lrr_admin):
    response = client.put(
        f"/api/archives/{captain.arcid}/metadata",
        query_string={"title": "Captain Science #1 - First Flight",
                      "tags": "artist:wally wood, writer:Joe Orlando, horror, Mood:Grim, "
                              "date_added:1, series:Other",
                      "summary": "A new summary"},
        headers=lrr_admin)
    assert response.json == {"operation": "update_metadata", "error": "", "success": 1,
                             "successMessage": 'Updated metadata for "Captain Science #1 - First Flight"!'}
    db.session.refresh(captain)
    assert captain.title == "First Flight"
    assert captain.summary == "A new summary"
    rows = db.session.execute(select(Tag.namespace, Tag.name, BookTag.source).join(
        BookTag, BookTag.tag_id == Tag.id).where(BookTag.book_id == captain.id)).all()
    assert sorted(rows) == [("", "horror", "user"), ("inker", "Wally Wood", "metadata"),
                            ("mood", "Grim", "user"), ("penciller", "Wally Wood", "metadata"),
                            ("writer", "Joe Orlando", "metadata")]
    tags = client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json["tags"]
    assert tags.startswith("series:Captain Science, artist:Wally Wood, writer:Joe Orlando, horror, mood:Grim, ")


def test_metadata_fields_may_come_as_form_fields_and_missing_ones_stay(client, captain, lrr_admin):
    tags = client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json["tags"]
    response = client.put(f"/api/archives/{captain.arcid}/metadata", data={"summary": "Form"},
                          headers=lrr_admin)
    assert response.status_code == 200
    db.session.refresh(captain)
    assert (captain.summary, captain.title) == ("Form", "The Beginning; The End")
    assert client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json["tags"] == tags


def test_user_tags_survive_a_rescan(client, app, captain, lrr_admin):
    from comicsrv.library.scanner import SCAN_JOB

    client.put(f"/api/archives/{captain.arcid}/metadata",
               query_string={"tags": "writer:Joe Orlando, keeper"}, headers=lrr_admin)
    app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": captain.library_id,
                                                       "deep": True})
    tags = client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json["tags"]
    assert ", keeper," in tags


def test_new_flag_set_and_cleared(client, captain, lrr_admin):
    response = client.delete(f"/api/archives/{captain.arcid}/isnew", headers=lrr_admin)
    assert response.json == {"operation": "clear_new", "id": captain.arcid, "success": 1}
    assert client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json["isnew"] == "false"
    response = client.put(f"/api/archives/{captain.arcid}/isnew", headers=lrr_admin)
    assert response.json == {"operation": "add_new", "error": "", "success": 1, "successMessage": ""}
    db.session.refresh(captain)
    assert captain.is_new is True


def test_delete_removes_file_and_record(client, captain, lrr_admin):
    path, arcid = captain.path, captain.arcid
    response = client.delete(f"/api/archives/{arcid}", headers=lrr_admin)
    assert response.json == {"operation": "delete_archive", "id": arcid,
                             "filename": "Captain Science #001.cbz", "success": 1}
    assert not os.path.exists(path)
    assert db.session.execute(select(Book).where(Book.path == path)).first() is None
    again = client.delete(f"/api/archives/{arcid}", headers=lrr_admin)
    assert again.status_code == 200
    assert again.json == {"operation": "delete_archive", "id": arcid, "filename": "0", "success": 0}


def _image(response):
    return Image.open(io.BytesIO(response.data))


def test_thumbnail_is_the_cover_jpeg_made_on_demand(client, captain, lrr_admin):
    response = client.get(f"/api/archives/{captain.arcid}/thumbnail", headers=lrr_admin)
    assert response.status_code == 200
    assert response.content_type == "image/jpeg"
    image = _image(response)
    assert image.format == "JPEG" and max(image.size) <= 400
    etag = response.headers["ETag"]
    cached = client.get(f"/api/archives/{captain.arcid}/thumbnail",
                        headers={**lrr_admin, "If-None-Match": etag})
    assert cached.status_code == 304


def test_thumbnail_of_an_unreadable_archive_is_a_placeholder(client, scanned_library, lrr_admin):
    from comicsrv import images

    book = book_named("encrypted.cbz")
    for query in ("", "?no_fallback=true"):
        response = client.get(f"/api/archives/{book.arcid}/thumbnail{query}", headers=lrr_admin)
        assert response.status_code == 200
        assert response.data == images.placeholder(400, "encrypted")


def test_thumbnail_with_no_fallback_is_a_minion_job(client, app, captain, lrr_admin):
    response = client.get(f"/api/archives/{captain.arcid}/thumbnail?no_fallback=true&page=2",
                          headers=lrr_admin)
    assert response.status_code == 202
    job_id = response.json["job"]
    assert response.json == {"operation": "serve_thumbnail", "success": 1, "job": job_id}
    assert app.extensions["comicsrv.jobs"].wait(job_id, 30)
    status = client.get(f"/api/minion/{job_id}", headers=lrr_admin).json
    assert status["state"] == "finished" and status["task"] == "thumbnail_task"
    ready = client.get(f"/api/archives/{captain.arcid}/thumbnail?no_fallback=true&page=2",
                       headers=lrr_admin)
    assert ready.status_code == 200 and ready.content_type == "image/jpeg"
    cover = client.get(f"/api/archives/{captain.arcid}/thumbnail", headers=lrr_admin)
    assert cover.data != ready.data


def test_thumbnail_of_a_page_past_the_end_is_refused(client, captain, lrr_admin):
    response = client.get(f"/api/archives/{captain.arcid}/thumbnail?page=6", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json["operation"] == "serve_thumbnail"
    response = client.get(f"/api/archives/{captain.arcid}/thumbnail?page=-1", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json["errors"][0]["path"] == "/page"


def test_choosing_the_cover_page(client, app, captain, lrr_admin):
    before = client.get(f"/api/archives/{captain.arcid}/thumbnail", headers=lrr_admin).data
    response = client.put(f"/api/archives/{captain.arcid}/thumbnail?page=3", headers=lrr_admin)
    assert response.json == {"operation": "update_thumbnail", "success": 1,
                             "new_thumbnail": f"/api/archives/{captain.arcid}/thumbnail"}
    db.session.refresh(captain)
    assert captain.cover_page == 2
    after = client.get(f"/api/archives/{captain.arcid}/thumbnail", headers=lrr_admin).data
    page3 = client.get(f"/api/archives/{captain.arcid}/thumbnail?page=3", headers=lrr_admin).data
    assert after != before and after == page3
    bad = client.put(f"/api/archives/{captain.arcid}/thumbnail?page=9", headers=lrr_admin)
    assert bad.status_code == 400 and bad.json["operation"] == "update_thumbnail"


def test_files_lists_root_relative_page_urls(client, captain, lrr_admin):
    body = client.get(f"/api/archives/{captain.arcid}/files", headers=lrr_admin).json
    assert body["job"] == 0
    assert body["pages"][0] == (f"/api/archives/{captain.arcid}/page"
                                "?path=Captain%20Science%20001/CaptainScience%231_01.jpg")
    assert len(body["pages"]) == 5
    for number, url in enumerate(body["pages"], start=1):
        page = client.get(url, headers=lrr_admin)
        assert page.status_code == 200
        assert page.content_type == "image/jpeg"
        assert page.headers["Content-Disposition"] == "inline"
        expected = app_page(client, captain, number)
        assert page.data == expected


def app_page(client, book, number):
    return client.application.extensions["comicsrv.media"].page(book, number).data


def test_files_urls_carry_the_url_base(client, captain, lrr_admin):
    body = client.get(f"/api/archives/{captain.arcid}/files", headers=lrr_admin,
                      base_url="http://localhost/comics/").json
    assert body["pages"][0].startswith(f"/comics/api/archives/{captain.arcid}/page?path=")


def test_files_of_an_unreadable_archive_is_an_error(client, scanned_library, lrr_admin):
    book = book_named("encrypted.cbz")
    response = client.get(f"/api/archives/{book.arcid}/files", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json["operation"] == "get_file_list"
    assert "password-protected" in response.json["error"]


def test_files_records_the_page_count(client, captain, lrr_admin):
    captain.page_count = 0
    db.session.commit()
    client.get(f"/api/archives/{captain.arcid}/files", headers=lrr_admin)
    db.session.refresh(captain)
    assert captain.page_count == 5


def test_page_serves_only_entries_of_that_archive(client, captain, lrr_admin):
    other = book_named("rar4.cbr")
    for path in ("komga-1.png", "../../etc/passwd", "ComicInfo.xml"):
        response = client.get(f"/api/archives/{captain.arcid}/page", query_string={"path": path},
                              headers=lrr_admin)
        assert response.status_code == 404, path
        assert response.json["operation"] == "serve_page"
    assert client.get(f"/api/archives/{other.arcid}/page?path=komga-1.png",
                      headers=lrr_admin).status_code == 200
    missing = client.get(f"/api/archives/{captain.arcid}/page", headers=lrr_admin)
    assert missing.status_code == 400
    assert missing.json["errors"][0]["path"] == "/path"


def test_download_sends_the_file(client, captain, lrr_admin):
    response = client.get(f"/api/archives/{captain.arcid}/download", headers=lrr_admin)
    assert response.status_code == 200
    with open(captain.path, "rb") as fh:
        assert response.data == fh.read()
    assert 'filename="Captain Science #001.cbz"' in response.headers["Content-Disposition"]


def test_progress_is_shared_with_the_other_surfaces(client, captain, admin, lrr_admin):
    response = client.put(f"/api/archives/{captain.arcid}/progress/3", headers=lrr_admin)
    progress = get_progress(admin.id, captain.id)
    assert progress.page == 3 and not progress.completed
    assert response.json == {"operation": "update_progress", "id": captain.arcid, "page": 3,
                             "lastreadtime": epoch(progress.updated_at), "success": 1}
    item = client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json
    assert (item["progress"], item["lastreadtime"]) == (3, epoch(progress.updated_at))
    client.put(f"/api/archives/{captain.arcid}/progress/5", headers=lrr_admin)
    assert get_progress(admin.id, captain.id).completed


def test_progress_is_per_user(client, captain, lrr_admin, lrr_reader, reader):
    client.put(f"/api/archives/{captain.arcid}/progress/4", headers=lrr_admin)
    assert client.get(f"/api/archives/{captain.arcid}/metadata",
                      headers=lrr_reader).json["progress"] == 0
    assert get_progress(reader.id, captain.id) is None


def test_progress_checks_lanraragi_does(client, captain, lrr_admin):
    for page, message in ((0, "Invalid progress value."), (6, "Invalid progress value.")):
        response = client.put(f"/api/archives/{captain.arcid}/progress/{page}", headers=lrr_admin)
        assert response.status_code == 400
        assert response.json["error"] == message
    response = client.put(f"/api/archives/{captain.arcid}/progress/x", headers=lrr_admin)
    assert response.json == {"errors": [{"message": "Expected integer - got string.",
                                         "path": "/page"}], "status": 400}
    captain.page_count = 0
    db.session.commit()
    response = client.put(f"/api/archives/{captain.arcid}/progress/2", headers=lrr_admin)
    assert response.json["error"] == "Archive doesn't have a total page count recorded yet."
    forced = client.put(f"/api/archives/{captain.arcid}/progress/2?force=true", headers=lrr_admin)
    assert forced.status_code == 200


def test_page_thumbnails_job(client, app, captain, lrr_admin):
    url = f"/api/archives/{captain.arcid}/files/thumbnails"
    response = client.post(url, headers=lrr_admin)
    assert response.status_code == 202
    job_id = response.json["job"]
    assert app.extensions["comicsrv.jobs"].wait(job_id, 30)
    status = client.get(f"/api/minion/{job_id}", headers=lrr_admin).json
    assert status == {"task": "page_thumbnails", "state": "finished",
                      "notes": {"progress": "5", "pages": "5"}, "error": ""}
    done = client.post(url, headers=lrr_admin)
    assert done.status_code == 200
    assert done.json == {"operation": "generate_page_thumbnails", "success": 1,
                         "message": "No job queued, all thumbnails already exist."}
    forced = client.post(url, data={"force": "true"}, headers=lrr_admin)
    assert forced.status_code == 202
    assert app.extensions["comicsrv.jobs"].wait(forced.json["job"], 30)


def test_a_running_page_thumbnails_job_is_answered_again(client, captain, lrr_admin):
    from comicsrv.lrr.thumbnails import PAGE_THUMBNAILS_JOB, page_thumbnails_target

    job = Job(type=PAGE_THUMBNAILS_JOB, state="running", target=page_thumbnails_target(captain),
              params={"book_id": captain.id})
    db.session.add(job)
    db.session.commit()
    response = client.post(f"/api/archives/{captain.arcid}/files/thumbnails", headers=lrr_admin)
    assert response.status_code == 202 and response.json["job"] == job.id


def test_categories_and_tankoubons_of_an_archive(client, captain, lrr_admin):
    category = CategoryFactory(name="Favourites", pinned=True)
    CategoryBookFactory(category=category, book=captain)
    CategoryFactory(name="Other")
    body = client.get(f"/api/archives/{captain.arcid}/categories", headers=lrr_admin).json
    assert body == {"operation": "find_arc_categories", "success": 1, "categories": [
        {"id": category.id, "name": "Favourites", "search": "", "pinned": 1,
         "last_used": str(epoch(category.last_used_at)), "archives": [captain.arcid]}]}
    tanks = client.get(f"/api/archives/{captain.arcid}/tankoubons", headers=lrr_admin).json
    assert tanks == {"operation": "find_arc_tankoubons", "success": 1, "tankoubons": []}


def test_same_file_twice_answers_for_the_first_copy(client, captain, lrr_admin):
    copy = book_named("Captain Science #001.cb7")
    assert copy.arcid != captain.arcid  # different content: different ids
    query = parse_qs(urlsplit(client.get(f"/api/archives/{copy.arcid}/files",
                                         headers=lrr_admin).json["pages"][0]).query)
    assert query["path"] == ["Captain Science 001/CaptainScience#1_01.jpg"]


def test_titles_round_trip_exactly(client, captain, lrr_admin):
    """A title set through PUT metadata reads back as sent, not with the
    computed "Series #N - " prefix; an empty one brings the default back."""
    url = f"/api/archives/{captain.arcid}/metadata"
    assert client.put(url, data={"title": "Exact Title"}, headers=lrr_admin).status_code == 200
    assert client.get(url, headers=lrr_admin).json["title"] == "Exact Title"
    listed = client.get("/api/search", query_string={"filter": "Exact"}, headers=lrr_admin).json
    assert "Exact Title" in [item["title"] for item in listed["data"]]
    client.put(url, query_string={"title": "  Spaced  "}, headers=lrr_admin)
    assert client.get(url, headers=lrr_admin).json["title"] == "  Spaced  "
    client.put(url, data={"title": ""}, headers=lrr_admin)
    assert client.get(url, headers=lrr_admin).json["title"].startswith("Captain Science #1")


def test_table_of_contents_put_and_delete(client, captain, lrr_admin):
    url = f"/api/archives/{captain.arcid}/toc"
    assert client.put(url, data={"page": 3, "title": "Part two"}, headers=lrr_admin).json == {
        "operation": "update_toc", "success": 1, "error": "",
        "successMessage": "Added ToC entry for page 3."}
    client.put(url, query_string={"page": 1, "title": "Part one"}, headers=lrr_admin)
    client.put(url, query_string={"page": 3, "title": "Part 2"}, headers=lrr_admin)
    meta = client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json
    assert meta["toc"] == [{"name": "Part one", "page": 1}, {"name": "Part 2", "page": 3}]
    assert client.put(url, data={"page": 99, "title": "x"}, headers=lrr_admin).status_code == 400
    assert client.put(url, data={"page": 2}, headers=lrr_admin).status_code == 400
    assert client.put(url, data={"page": 2, "title": "x"}).status_code == 401
    assert client.delete(url, data={"page": 1}, headers=lrr_admin).json["successMessage"] == \
        "Removed ToC entry for page 1."
    meta = client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_admin).json
    assert meta["toc"] == [{"name": "Part 2", "page": 3}]
