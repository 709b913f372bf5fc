"""Library scans: start, status, cancel, active list and the SSE stream."""
import json

import pytest

from comicsrv.events import ScanProgress, TaskProgress
from comicsrv.extensions import db
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Job
from tests.factories import AdminFactory, JobFactory, LibraryFactory, UserFactory, api_key_for

TASK_FIELDS = {"id", "task_type", "status", "progress", "result", "error", "cancel_requested",
               "created_at", "started_at", "finished_at"}


def test_scan_runs_the_scan_job(app, client, scanned_library, admin_headers):
    runner = app.extensions["comicsrv.jobs"]
    response = client.post(f"/api/v1/libraries/{scanned_library.id}/scan?mode=deep",
                           headers=admin_headers)
    assert response.status_code == 202
    task = response.json
    assert set(task) == TASK_FIELDS and task["task_type"] == SCAN_JOB
    assert task["status"] in ("queued", "running")
    assert runner.wait(task["id"], timeout=60)
    job = db.session.get(Job, task["id"])
    db.session.refresh(job)
    assert job.state == "finished", job.error
    assert job.params == {"library_id": scanned_library.id, "deep": True}
    assert job.target == f"library:{scanned_library.id}"
    # Deep: every file read again, none skipped as unchanged.
    assert job.result["unchanged"] == 0 and job.result["updated"] == 8


def test_mode_defaults_to_the_librarys_default(app, client, scanned_library, admin_headers):
    scanned_library.default_scan_mode = "deep"
    db.session.commit()
    task = client.post(f"/api/v1/libraries/{scanned_library.id}/scan", headers=admin_headers).json
    app.extensions["comicsrv.jobs"].wait(task["id"], timeout=60)
    assert db.session.get(Job, task["id"]).params["deep"] is True


def test_a_second_scan_answers_409_with_the_running_one(client, admin_headers):
    library = LibraryFactory()
    running = JobFactory(type=SCAN_JOB, target=f"library:{library.id}", state="running")
    response = client.post(f"/api/v1/libraries/{library.id}/scan", headers=admin_headers)
    assert response.status_code == 409
    assert response.json["error"] == "scan_running"
    assert response.json["details"]["id"] == running.id
    assert response.json["details"]["status"] == "running"
    assert set(response.json["details"]) == TASK_FIELDS
    assert db.session.query(Job).count() == 1


@pytest.mark.parametrize("query", ["?mode=fast", "?mode="])
def test_bad_mode_is_400(client, admin_headers, query):
    library = LibraryFactory()
    response = client.post(f"/api/v1/libraries/{library.id}/scan{query}", headers=admin_headers)
    assert response.status_code == 400 and response.json["error"] == "validation_error"


def test_scan_permissions_and_scope(client, reader_headers):
    library = LibraryFactory()
    # Readers lack TasksWrite.
    assert client.post(f"/api/v1/libraries/{library.id}/scan",
                       headers=reader_headers).status_code == 403
    # An admin's key without LibrariesWrite, on an account limited to no library.
    scoped = AdminFactory(library_ids=[])
    headers = {"X-API-Key": api_key_for(scoped, ["LibrariesRead", "TasksWrite"])}
    for method, path in (("post", f"/api/v1/libraries/{library.id}/scan"),
                         ("get", f"/api/v1/libraries/{library.id}/scan-status"),
                         ("post", f"/api/v1/libraries/{library.id}/scan/cancel"),
                         ("post", "/api/v1/libraries/999999/scan")):
        assert getattr(client, method)(path, headers=headers).status_code == 404, path
    assert db.session.query(Job).count() == 0


def test_scan_status(client, admin_headers):
    library = LibraryFactory()
    url = f"/api/v1/libraries/{library.id}/scan-status"
    body = client.get(url, headers=admin_headers).json
    assert body == {"library_id": library.id, "library_name": library.name, "scanning": False,
                    "last_scan_at": None, "task": None}
    JobFactory(type=SCAN_JOB, target=f"library:{library.id}", state="finished")
    latest = JobFactory(type=SCAN_JOB, target=f"library:{library.id}", state="running")
    JobFactory(type="other.job", target=f"library:{library.id}", state="running")
    body = client.get(url, headers=admin_headers).json
    assert body["scanning"] is True and body["task"]["id"] == latest.id


def test_cancel(app, client, admin_headers):
    library = LibraryFactory()
    url = f"/api/v1/libraries/{library.id}/scan/cancel"
    response = client.post(url, headers=admin_headers)
    assert response.status_code == 409 and response.json["error"] == "no_active_scan"
    queued = JobFactory(type=SCAN_JOB, target=f"library:{library.id}", state="queued")
    body = client.post(url, headers=admin_headers).json
    assert body["id"] == queued.id and body["cancel_requested"] is True
    assert body["status"] == "cancelled"  # a queued job stops at once
    assert client.post(url, headers=admin_headers).status_code == 409


def test_active_scans_in_the_callers_libraries(client, admin_headers):
    seen, unseen, idle = LibraryFactory(name="Seen"), LibraryFactory(name="Unseen"), LibraryFactory()
    first = JobFactory(type=SCAN_JOB, target=f"library:{seen.id}", state="running")
    second = JobFactory(type=SCAN_JOB, target=f"library:{unseen.id}", state="queued")
    JobFactory(type=SCAN_JOB, target=f"library:{idle.id}", state="finished")
    JobFactory(type="other.job", target=f"library:{idle.id}", state="running")
    body = client.get("/api/v1/scans/active", headers=admin_headers).json
    assert body["total"] == 2 and body["has_more"] is False
    assert [(i["library_name"], i["task"]["id"], i["scanning"]) for i in body["items"]] == \
        [("Seen", first.id, True), ("Unseen", second.id, True)]
    page = client.get("/api/v1/scans/active?page=2&page_size=1", headers=admin_headers).json
    assert [i["library_id"] for i in page["items"]] == [unseen.id] and page["total"] == 2
    reader = UserFactory(library_ids=[seen.id])
    headers = {"X-API-Key": api_key_for(reader, ["LibrariesRead"])}
    body = client.get("/api/v1/scans/active", headers=headers).json
    assert [i["library_id"] for i in body["items"]] == [seen.id]


def read_events(stream, count):
    """The next ``count`` SSE events of a streaming response, as (name, data)."""
    events = []
    while len(events) < count:
        chunk = next(stream).decode()
        if chunk.startswith(":"):
            continue
        lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines())
        events.append((lines.get("event"), json.loads(lines["data"])))
    return events


def test_stream_carries_scan_events_of_visible_libraries(app, client):
    bus = app.extensions["comicsrv.events"]
    seen, unseen = LibraryFactory(), LibraryFactory()
    scan = JobFactory(type=SCAN_JOB, target=f"library:{seen.id}", state="running")
    hidden_scan = JobFactory(type=SCAN_JOB, target=f"library:{unseen.id}", state="running")
    reader = UserFactory(library_ids=[seen.id])
    headers = {"X-API-Key": api_key_for(reader, ["LibrariesRead"])}
    response = client.get("/api/v1/scans/stream", headers=headers, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    stream = iter(response.response)
    try:
        assert read_events(stream, 1)[0][0] == "connected"
        bus.publish(TaskProgress(task_id=999, task_type="library.duplicates", status="running"))
        bus.publish(ScanProgress(library_id=unseen.id, job_id=hidden_scan.id, current=1, total=2))
        bus.publish(TaskProgress(task_id=hidden_scan.id, task_type=SCAN_JOB, status="running"))
        bus.publish(ScanProgress(library_id=seen.id, job_id=scan.id, current=5, total=10))
        bus.publish(TaskProgress(task_id=scan.id, task_type=SCAN_JOB, status="finished",
                                 progress={"current": 10, "total": 10, "message": "done"}))
        (first, first_data), (second, second_data) = read_events(stream, 2)
    finally:
        response.close()
    assert first == "scan_progress"
    assert first_data["library_id"] == seen.id and first_data["current"] == 5
    assert second == "task_progress"
    assert second_data["task_id"] == scan.id and second_data["status"] == "finished"


def test_stream_for_a_manager_has_every_scan_and_only_scans(app, client):
    bus = app.extensions["comicsrv.events"]
    library = LibraryFactory(enabled=False)
    headers = {"X-API-Key": api_key_for(AdminFactory(), ["LibrariesRead", "LibrariesWrite"])}
    response = client.get("/api/v1/scans/stream", headers=headers, buffered=False)
    stream = iter(response.response)
    try:
        read_events(stream, 1)
        bus.publish(TaskProgress(task_id=1, task_type="library.analyze", status="running"))
        bus.publish(ScanProgress(library_id=library.id, job_id=1, current=1, total=1))
        ((name, data),) = read_events(stream, 1)
    finally:
        response.close()
    assert name == "scan_progress" and data["library_id"] == library.id


def test_stream_needs_credentials(client):
    assert client.get("/api/v1/scans/stream").status_code == 401
