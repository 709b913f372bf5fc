"""Tankoubons, and LANraragi's server operations over our jobs: backup and
restore, clean, drop, the temporary folder, Shinobu, the Minion queue."""
import io
import json
import os

from comicsrv.extensions import db
from comicsrv.models import Book, Job

from .conftest import book_named, drain_jobs


def _wait(app, job_id):
    assert app.extensions["comicsrv.jobs"].wait(job_id, timeout=30)
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_tankoubon_lifecycle(client, scanned_library, lrr_admin):
    first = book_named("Captain Science #001.cbz")
    second = book_named("rar4.cbr")
    created = client.put("/api/tankoubons", data={"name": "Omnibus"}, headers=lrr_admin).json
    tank = created["tankoubon_id"]
    assert created["operation"] == "create_tankoubon" and len(tank) == 15
    assert client.put(f"/api/tankoubons/{tank}/{first.arcid}", headers=lrr_admin).json["success"] == 1
    client.put(f"/api/tankoubons/{tank}/{second.arcid}", headers=lrr_admin)
    body = client.get(f"/api/tankoubons/{tank}", headers=lrr_admin).json
    assert body == {"id": tank, "name": "Omnibus", "summary": "", "tags": "",
                    "archives": [first.arcid, second.arcid], "progress": 0}
    assert client.get(f"/api/archives/{first.arcid}/tankoubons",
                      headers=lrr_admin).json["tankoubons"] == [tank]

    # Reorder and edit metadata in one JSON PUT.
    assert client.put(f"/api/tankoubons/{tank}", headers=lrr_admin, json={
        "archives": [second.arcid, first.arcid],
        "metadata": {"name": "Omnibus 2", "summary": "Both", "tags": "genre:anthology"}},
    ).status_code == 200
    full = client.get(f"/api/tankoubons/{tank}/full", headers=lrr_admin).json
    assert full["total"] == 2 and full["result"]["name"] == "Omnibus 2"
    assert [item["arcid"] for item in full["result"]["full_data"]] == [second.arcid, first.arcid]

    # Global pages: the second archive's page 2 is page (pages of the first) + 2.
    page = second.page_count + 2
    saved = client.put(f"/api/tankoubons/{tank}/progress/{page}", headers=lrr_admin).json
    assert (saved["operation"], saved["page"], saved["success"]) == ("update_tank_progress", page, 1)
    assert client.get(f"/api/tankoubons/{tank}", headers=lrr_admin).json["progress"] == page
    assert client.get(f"/api/archives/{first.arcid}/metadata",
                      headers=lrr_admin).json["progress"] == 2
    assert client.put(f"/api/tankoubons/{tank}/progress/999", headers=lrr_admin).status_code == 400

    cover = client.put(f"/api/tankoubons/{tank}/thumbnail?page={page}", headers=lrr_admin)
    assert cover.json["success"] == 1, cover.json
    image = client.get(f"/api/tankoubons/{tank}/thumbnail", headers=lrr_admin)
    assert image.status_code == 200 and image.content_type.startswith("image/")

    listed = client.get("/api/tankoubons", headers=lrr_admin).json
    assert listed["total"] == 1 and listed["result"][0]["id"] == tank
    # The search groups nothing away; rights: a writer's key is needed.
    assert client.put("/api/tankoubons", data={"name": "x"}).status_code == 401
    client.delete(f"/api/tankoubons/{tank}/{second.arcid}", headers=lrr_admin)
    assert client.get(f"/api/tankoubons/{tank}", headers=lrr_admin).json["archives"] == [first.arcid]
    assert client.delete(f"/api/tankoubons/{tank}", headers=lrr_admin).json["success"] == 1
    missing = client.get(f"/api/tankoubons/{tank}", headers=lrr_admin)
    assert missing.status_code == 400 and missing.json["success"] == 0
    assert client.get("/api/tankoubons/TANK_1", headers=lrr_admin).json["errors"][0]["path"] == "/id"


def test_backup_then_restore_brings_metadata_back(app, client, scanned_library, lrr_admin):
    captain = book_named("Captain Science #001.cbz")
    meta = f"/api/archives/{captain.arcid}/metadata"
    client.put(meta, data={"title": "Saved title", "summary": "Saved summary"}, headers=lrr_admin)
    tank = client.put("/api/tankoubons", data={"name": "Kept"}, headers=lrr_admin).json["tankoubon_id"]
    client.put(f"/api/tankoubons/{tank}/{captain.arcid}", headers=lrr_admin)

    queued = client.post("/api/database/backup", headers=lrr_admin).json
    assert queued["operation"] == "queue_backup"
    assert _wait(app, queued["job"]).state == "finished"
    backup = client.get(f"/api/database/backup/{queued['job']}?format=json", headers=lrr_admin).json
    assert backup == client.get("/api/database/backup", headers=lrr_admin).json
    saved = next(item for item in backup["archives"] if item["arcid"] == captain.arcid)
    assert (saved["title"], saved["summary"]) == ("Saved title", "Saved summary")
    assert backup["tankoubons"] == [{"tankid": tank, "name": "Kept", "summary": "", "tags": "",
                                     "archives": [captain.arcid]}]
    download = client.get(f"/api/database/backup/{queued['job']}", headers=lrr_admin)
    assert "attachment" in download.headers["Content-Disposition"]

    # Drop LANraragi's data, then restore it from the backup file.
    assert client.post("/api/database/drop", headers=lrr_admin).json["success"] == 1
    assert client.get(meta, headers=lrr_admin).json["title"] != "Saved title"
    assert client.get("/api/tankoubons", headers=lrr_admin).json["total"] == 0
    restored = client.post("/api/database/restore", headers=lrr_admin, data={
        "file": (io.BytesIO(json.dumps(backup).encode()), "backup.json")}).json
    assert _wait(app, restored["job"]).state == "finished"
    assert client.get(meta, headers=lrr_admin).json["title"] == "Saved title"
    assert client.get(f"/api/tankoubons/{tank}", headers=lrr_admin).json["archives"] == [
        captain.arcid]
    bad = client.post("/api/database/restore", headers=lrr_admin,
                      data={"file": (io.BytesIO(b"not json"), "x.json")})
    assert bad.status_code == 400 and bad.json["success"] == 0
    assert client.get("/api/database/backup/999999", headers=lrr_admin).status_code == 400


def test_clean_unlinks_then_deletes_books_whose_file_is_gone(client, scanned_library, lrr_admin):
    gone = book_named("rar4.cbr")
    os.remove(gone.path)
    first = client.post("/api/database/clean", headers=lrr_admin).json
    assert (first["unlinked"], first["deleted"]) == (1, 0)
    second = client.post("/api/database/clean", headers=lrr_admin).json
    assert (second["unlinked"], second["deleted"]) == (0, 1)
    db.session.expire_all()
    assert db.session.get(Book, gone.id) is None


def test_temp_folder_shinobu_and_queued_jobs(app, client, scanned_library, lrr_admin, lrr_reader):
    captain = book_named("Captain Science #001.cbz")
    queued = client.post(f"/api/minion/page_thumbnails/queue?args=[\"{captain.arcid}\"]",
                         headers=lrr_admin).json
    assert queued["operation"] == "queue_minion_job"
    assert _wait(app, queued["job"]).state == "finished"
    status = client.get(f"/api/minion/{queued['job']}", headers=lrr_admin).json
    assert status["task"] == "page_thumbnails" and status["notes"]["pages"] == "5"
    cleaned = client.delete("/api/tempfolder", headers=lrr_admin).json
    assert cleaned == {"operation": "cleantemp", "success": 1, "error": None, "newsize": 0}
    assert client.delete("/api/tempfolder", headers=lrr_reader).status_code == 403

    for name in ("build_stat_hashes", "regen_all_thumbnails"):
        job = client.post(f"/api/minion/{name}/queue?args=[]", headers=lrr_admin).json["job"]
        assert _wait(app, job).state == "finished"
        assert client.get(f"/api/minion/{job}", headers=lrr_admin).json["task"] == name
    job = client.post(f"/api/minion/thumbnail_task/queue?args=[\"{captain.arcid}\", 2]",
                      headers=lrr_admin).json["job"]
    assert _wait(app, job).state == "finished"
    refused = client.post("/api/minion/find_duplicates/queue?args=[]", headers=lrr_admin)
    assert refused.status_code == 400 and refused.json["success"] == 0
    assert client.post("/api/minion/thumbnail_task/queue?args=nope",
                       headers=lrr_admin).status_code == 400
    regen = client.post("/api/regen_thumbs?force=true", headers=lrr_admin).json
    assert regen["operation"] == "regen_thumbnails" and _wait(app, regen["job"]).state == "finished"

    assert client.get("/api/shinobu", headers=lrr_admin).json["is_alive"] == 0
    try:
        restarted = client.post("/api/shinobu/restart", headers=lrr_admin).json
        assert restarted["new_pid"] == os.getpid()
        assert client.get("/api/shinobu", headers=lrr_admin).json["is_alive"] == 1
        assert client.post("/api/shinobu/stop", headers=lrr_admin).json["success"] == 1
        assert client.get("/api/shinobu", headers=lrr_admin).json["is_alive"] == 0
        rescan = client.post("/api/shinobu/rescan", headers=lrr_admin).json
        assert rescan["operation"] == "shinobu_rescan"
    finally:
        from comicsrv.library.watcher import stop_watcher
        stop_watcher(app)
        drain_jobs(app)


def test_metadata_plugins_are_our_metadata_providers(make_app, comic_tree, tmp_path, monkeypatch):
    """``/api/plugins``: Metron (a real HTTP server on 127.0.0.1 replaying its
    recorded bodies) looked up for an archive; ``use`` changes nothing,
    ``queue`` writes the answer onto the archive."""
    from pathlib import Path

    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB
    from comicsrv.settings_store import set_setting
    from comicsrv.testing.replay import Recorded, ReplayServer
    from comicsrv_plugins.metadata_support import RateLimiter
    from comicsrv_plugins.metron import Metron
    from tests.factories import AdminFactory, api_key_for

    from .conftest import bearer

    fixtures = Path(__file__).parents[2] / "fixtures" / "metadata" / "metron"
    monkeypatch.setattr(Metron, "limiter", RateLimiter("Metron", [(30, 60.0)]))
    with ReplayServer() as metron:
        metron.add("GET", "/api/series/", Recorded.file(fixtures / "series_name_death.json",
                                                        "application/json"))
        metron.add("GET", "/api/series/1/", Recorded.file(fixtures / "series_1.json",
                                                          "application/json"))
        metron.add("GET", "/api/series/1/issue_list/", Recorded.file(
            fixtures / "series_1_issue_list.json", "application/json"))
        app = make_app(METADATA_URLS={"metron": metron.url + "/api"})
        with app.app_context():
            set_setting("metadata.metron_username", "reader", None)
            set_setting("metadata.metron_password", "s3cret", None)
            library = create_library("Comics", str(comic_tree))
            app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
            headers = bearer(api_key_for(AdminFactory(username="admin"), ["SystemAdmin"]))
            client = app.test_client()
            listed = client.get("/api/plugins/metadata", headers=headers).json
            assert "metron" in [plugin["namespace"] for plugin in listed]
            assert client.get("/api/plugins/script", headers=headers).json == []
            assert client.get("/api/plugins/nope", headers=headers).status_code == 400

            captain = book_named("Captain Science #001.cbz")
            before = client.get(f"/api/archives/{captain.arcid}/metadata", headers=headers).json
            # The one-shot argument: the provider's series id.
            used = client.post(f"/api/plugins/use?plugin=metron&id={captain.arcid}&arg=1",
                               headers=headers).json
            assert used["success"] == 1 and used["type"] == "metadata", used
            assert "series:Death of the Inhumans" in used["data"]["new_tags"]
            assert client.get(f"/api/archives/{captain.arcid}/metadata",
                              headers=headers).json == before
            unknown = client.post(f"/api/plugins/use?plugin=nope&id={captain.arcid}",
                                  headers=headers).json
            assert unknown["success"] == 0 and unknown["error"]

            job = client.post(f"/api/plugins/queue?plugin=metron&id={captain.arcid}&arg=1",
                              headers=headers).json["job"]
            assert _wait(app, job).state == "finished"
            after = client.get(f"/api/archives/{captain.arcid}/metadata", headers=headers).json
            # Added as user tags (series: stays the catalogue's).
            assert "date:2018-09-01" in after["tags"] and "date:" not in before["tags"]


def test_download_url_fetches_into_the_upload_library(app, client, scanned_library, lrr_admin):
    from comicsrv.testing.replay import Recorded, ReplayServer
    from tests.conftest import FIXTURE_ARCHIVES

    category = client.put("/api/categories", data={"name": "Fetched"},
                          headers=lrr_admin).json["category_id"]
    data = (FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz").read_bytes() + b"fetched"
    with ReplayServer() as site:
        site.add("GET", "/files/Fresh%20Comic.cbz", Recorded(data, 200, {"Content-Type": "application/zip"}))
        site.add("GET", "/page.html", Recorded(b"<html></html>", 200, {"Content-Type": "text/html"}))
        queued = client.post("/api/download_url", headers=lrr_admin, data={
            "url": site.url + "/files/Fresh%20Comic.cbz", "catid": category}).json
        assert (queued["operation"], queued["category"], queued["success"]) == (
            "download_url", category, 1)
        job = _wait(app, queued["job"])
        assert job.state == "finished", job.error
        arcid = job.result["id"]
        meta = client.get(f"/api/archives/{arcid}/metadata", headers=lrr_admin).json
        assert meta["filename"] == "Fresh Comic"
        assert client.get(f"/api/categories/{category}", headers=lrr_admin).json["archives"] == [arcid]
        status = client.get(f"/api/minion/{queued['job']}", headers=lrr_admin).json
        assert status["task"] == "download_url" and status["state"] == "finished"

        # Not a comic: the job fails with the reason, as a direct download does.
        page = client.post("/api/download_url", headers=lrr_admin,
                           query_string={"url": site.url + "/page.html"}).json
        failed = _wait(app, page["job"])
        assert failed.state == "failed" and "not a comic file" in failed.error
    for bad in ("ftp://example.org/a.cbz", "not a url", ""):
        refused = client.post("/api/download_url", headers=lrr_admin, query_string={"url": bad})
        assert refused.status_code == 400 and refused.json["success"] == 0
    assert client.post("/api/download_url", query_string={"url": "http://x/a.cbz"}).status_code == 401


def test_stamps_on_pages(client, scanned_library, lrr_admin, lrr_reader):
    captain = book_named("Captain Science #001.cbz")
    base = f"/api/archives/{captain.arcid}/stamps"
    added = client.put(f"{base}/3?content=Look here&position=12,34", headers=lrr_admin).json
    assert added["operation"] == "add_stamp" and added["stamp_id"].startswith("STAMP_")
    client.put(f"{base}/3", query_string={"content": "Second"}, headers=lrr_admin)
    client.put(f"{base}/1", query_string={"content": "First page"}, headers=lrr_admin)
    assert client.get(base, headers=lrr_reader).json == {"result": ["1", "3"]}
    on_three = client.get(f"{base}/3", headers=lrr_reader).json["result"]
    assert [s["content"] for s in on_three] == ["Look here", "Second"]
    stamp = f"/api/stamps/{added['stamp_id']}"
    assert client.get(stamp, headers=lrr_reader).json == {
        "id": added["stamp_id"], "position": "12,34", "content": "Look here"}
    assert client.put(f"{stamp}?content=Changed", headers=lrr_reader).status_code == 403
    assert client.put(f"{stamp}?content=Changed", headers=lrr_admin).json["success"] == 1
    assert client.get(stamp, headers=lrr_admin).json["content"] == "Changed"
    assert client.put(f"{base}/99?content=x", headers=lrr_admin).status_code == 400
    assert client.delete(stamp, headers=lrr_admin).json["success"] == 1
    assert client.get(stamp, headers=lrr_admin).status_code == 400


def test_lanraragis_own_opds_catalog(client, scanned_library, lrr_admin, public_reading):
    import xml.etree.ElementTree as ET

    atom = "{http://www.w3.org/2005/Atom}"
    captain = book_named("Captain Science #001.cbz")
    feed = client.get("/api/opds")  # public, like the archive list
    assert feed.status_code == 200 and feed.mimetype == "application/xml"
    root = ET.fromstring(feed.data)
    entries = root.findall(f"{atom}entry")
    assert len(entries) == 8
    ids = [entry.find(f"{atom}id").text for entry in entries]
    assert f"urn:lrr:{captain.arcid}" in ids
    category = client.put("/api/categories", data={"name": "Picked & <chosen>"},
                          headers=lrr_admin).json["category_id"]
    client.put(f"/api/categories/{category}/{captain.arcid}", headers=lrr_admin)
    picked = ET.fromstring(client.get(f"/api/opds?category={category}").data)
    assert [e.find(f"{atom}id").text for e in picked.findall(f"{atom}entry")] == [
        f"urn:lrr:{captain.arcid}"]
    facets = [link.get("title") for link in picked.findall(f"{atom}link")
              if link.get("rel") == "http://opds-spec.org/facet"]
    assert facets[0] == "All Archives" and "Picked & <chosen>" in facets

    entry = ET.fromstring(client.get(f"/api/opds/{captain.arcid}").data)
    links = {link.get("rel"): link for link in entry.findall(f"{atom}link")}
    stream = links["http://vaemendis.net/opds-pse/stream"]
    assert stream.get("{http://vaemendis.net/opds-pse/ns}count") == "5"
    assert stream.get("href").endswith(f"/api/opds/{captain.arcid}/pse?page={{pageNumber}}")
    page = client.get(stream.get("href").replace("{pageNumber}", "0"))
    assert page.status_code == 200 and page.mimetype.startswith("image/")
    assert client.get(f"/api/opds/{captain.arcid}/pse?page=5").status_code == 400
    assert client.get("/api/opds?category=SET_0000000000").status_code == 400
