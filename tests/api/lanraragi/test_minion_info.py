"""``/api/minion``, ``/api/info`` and ``/api/database``."""
import pytest

from comicsrv.extensions import db
from comicsrv.library.reading import ProgressUpdate, save_progress
from comicsrv.lrr.tags import epoch
from comicsrv.lrr.thumbnails import PAGE_THUMBNAILS_JOB, THUMBNAIL_JOB
from comicsrv.models import Book
from tests.factories import JobFactory, UserFactory, api_key_for

from .conftest import bearer


@pytest.mark.parametrize(("state", "minion"), [
    ("queued", "inactive"), ("running", "active"), ("finished", "finished"),
    ("failed", "failed"), ("cancelled", "failed")])
def test_job_states_in_minion_terms(client, scanned_library, lrr_admin, state, minion):
    job = JobFactory(type=THUMBNAIL_JOB, state=state, progress_current=1, progress_total=2,
                     error="boom" if state == "failed" else None)
    body = client.get(f"/api/minion/{job.id}", headers=lrr_admin).json
    assert body["state"] == minion and body["task"] == "thumbnail_task"
    assert body["notes"] == {"progress": "1", "pages": "2"}  # strings, as Minion notes come
    assert body["error"] == {"failed": "boom", "cancelled": "cancelled"}.get(state, "")


def test_unknown_and_malformed_job_ids(client, scanned_library, lrr_admin):
    response = client.get("/api/minion/999999", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json == {"operation": "minion_job_status", "error": "No job with this ID.",
                             "success": 0, "successMessage": ""}
    response = client.get("/api/minion/abc", headers=lrr_admin)
    assert response.json == {"errors": [{"message": "Expected integer - got string.",
                                         "path": "/jobid"}], "status": 400}
    assert client.get("/api/minion/99999999999999999999999", headers=lrr_admin).status_code == 400


def test_other_users_jobs_are_hidden(client, scanned_library, admin, lrr_reader, lrr_admin):
    scan = JobFactory(type="library.scan", user_id=admin.id, state="finished")
    thumbs = JobFactory(type=PAGE_THUMBNAILS_JOB, user_id=admin.id, state="finished")
    assert client.get(f"/api/minion/{scan.id}", headers=lrr_reader).status_code == 400
    assert client.get(f"/api/minion/{thumbs.id}", headers=lrr_reader).status_code == 200
    body = client.get(f"/api/minion/{scan.id}", headers=lrr_admin).json
    assert body["task"] == "library.scan"
    assert body["notes"] == {"progress": "0", "total": "0"}


def test_job_detail_needs_a_key_and_has_minions_fields(client, scanned_library, lrr_admin,
                                                       public_reading):
    job = JobFactory(type=THUMBNAIL_JOB, state="finished", params={"book_id": 1, "page": 0},
                     result={"page": 0})
    assert client.get(f"/api/minion/{job.id}/detail").status_code == 401
    body = client.get(f"/api/minion/{job.id}/detail", headers=lrr_admin).json
    assert set(body) == {"id", "task", "state", "queue", "priority", "args", "attempts",
                         "children", "parents", "created", "delayed", "started", "finished",
                         "expires", "lax", "notes", "result", "retried", "retries", "time",
                         "worker"}
    # Minion's numbers come out of its database as strings; args are strings.
    assert (body["id"], body["args"], body["result"]) == (str(job.id), ["1", "0"],
                                                          {"page": "0", "success": 1})
    assert body["created"] == str(epoch(job.created_at))
    assert all(isinstance(body[name], str) for name in (
        "priority", "attempts", "delayed", "retries", "time"))


def test_info_has_lanraragis_fields_and_types(client, captain, admin, lrr_admin):
    save_progress(admin.id, captain, ProgressUpdate(page=4))
    body = client.get("/api/info", headers=lrr_admin).json
    types = {"name": str, "motd": str, "version": str, "version_name": str, "version_desc": str,
             "has_password": bool, "debug_mode": bool, "nofun_mode": bool,
             "archives_per_page": int, "server_resizes_images": bool,
             "server_tracks_progress": bool, "authenticated_progress": bool,
             "total_pages_read": int, "total_archives": int, "cache_last_cleared": int,
             "excluded_namespaces": list}
    assert set(body) == set(types)
    for name, kind in types.items():
        assert type(body[name]) is kind, name
    # LRReader accepts 0.9.10 to 0.9.80 and enables its newer calls from 0.9.40.
    assert tuple(int(part) for part in body["version"].split(".")) >= (0, 9, 40)
    assert tuple(int(part) for part in body["version"].split(".")) <= (0, 9, 80)
    assert body["server_tracks_progress"] is True and body["nofun_mode"] is True
    assert body["total_archives"] == 8 and body["total_pages_read"] == 4
    assert body["archives_per_page"] == 100
    assert body["cache_last_cleared"] < 2**31  # LRReader keeps it in an int32


def test_cache_last_cleared_moves_when_the_library_changes(client, captain, lrr_admin):
    from datetime import timedelta

    before = client.get("/api/info", headers=lrr_admin).json["cache_last_cleared"]
    captain.updated_at = captain.updated_at + timedelta(days=3)
    db.session.commit()
    assert client.get("/api/info", headers=lrr_admin).json["cache_last_cleared"] == \
        max(before, epoch(captain.updated_at))
    assert client.get("/api/info", headers=lrr_admin).json["cache_last_cleared"] > before


def test_tag_statistics(client, captain, lrr_admin):
    body = client.get("/api/database/stats", headers=lrr_admin).json
    by_tag = {(item["namespace"], item["text"]): item["weight"] for item in body}
    # Three Captain Science files: the rar has no characters, all have a penciller.
    assert by_tag[("artist", "Wally Wood")] == 3
    assert by_tag[("character", "Gordon Dane")] == 2
    assert by_tag[("series", "Captain Science")] == 3
    assert by_tag[("scan_group", "rar")] == 1
    assert ("penciller", "Wally Wood") not in by_tag
    assert all(set(item) == {"namespace", "text", "weight"} for item in body)
    heavy = client.get("/api/database/stats?minweight=3", headers=lrr_admin).json
    assert {item["weight"] for item in heavy} == {3}
    assert ("series", "Captain Science") in {(i["namespace"], i["text"]) for i in heavy}


def test_clear_every_new_flag(client, captain, lrr_admin, lrr_reader):
    assert client.delete("/api/database/isnew", headers=lrr_reader).status_code == 403
    response = client.delete("/api/database/isnew", headers=lrr_admin)
    assert response.json["success"] == 1
    assert db.session.query(Book).filter(Book.is_new.is_(True)).count() == 0


def test_a_user_limited_to_no_library_sees_nothing(client, captain):
    headers = bearer(api_key_for(UserFactory(library_ids=[]), ["BooksRead"]))
    assert client.get("/api/archives", headers=headers).json == []
    assert client.get("/api/database/stats", headers=headers).json == []
    assert client.get("/api/search", headers=headers).json["recordsTotal"] == 0
