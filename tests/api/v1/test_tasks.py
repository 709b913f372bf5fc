"""``/api/v1/tasks``: the job table in Codex's task shape, scoped per user."""
import json
import threading
import time
from datetime import datetime, timedelta

import pytest

from comicsrv.events import TaskProgress
from comicsrv.extensions import db
from comicsrv.models import Job
from tests.factories import JobFactory, UserFactory, api_key_for

URL = "/api/v1/tasks"
T0 = datetime(2024, 1, 15, 10, 30)


def sse_event(chunk: bytes) -> tuple[str, dict]:
    """``(event name, data)`` of one SSE message."""
    fields = dict(line.split(": ", 1) for line in chunk.decode().strip().split("\n"))
    return fields["event"], json.loads(fields["data"])


@pytest.fixture
def jobs(admin, reader):
    """Five jobs: three of the reader (one each running, finished, failed), one
    of the admin, one the scheduler started (no user)."""
    return {
        "reader_running": JobFactory(type="library.scan", state="running", user_id=reader.id,
                                     created_at=T0, started_at=T0, progress_current=25,
                                     progress_total=100, progress_message="Scanning file 25/100"),
        "reader_finished": JobFactory(type="library.scan", state="finished", user_id=reader.id,
                                      created_at=T0 + timedelta(minutes=1),
                                      result={"added": 3}),
        "reader_failed": JobFactory(type="library.duplicates", state="failed", user_id=reader.id,
                                    created_at=T0 + timedelta(minutes=2), error="boom"),
        "admin_queued": JobFactory(type="library.scan", state="queued", user_id=admin.id,
                                   created_at=T0 + timedelta(minutes=3)),
        "scheduled": JobFactory(type="jobs.prune", state="finished",
                                created_at=T0 + timedelta(minutes=4)),
    }


def test_task_shape_is_codexs(client, admin_headers, jobs):
    job = jobs["reader_running"]
    body = client.get(f"{URL}/{job.id}", headers=admin_headers).json
    assert body == {
        "id": job.id, "task_type": "library.scan", "status": "running",
        "progress": {"current": 25, "total": 100, "message": "Scanning file 25/100"},
        "result": None, "error": None, "cancel_requested": False,
        "created_at": "2024-01-15T10:30:00+00:00", "started_at": "2024-01-15T10:30:00+00:00",
        "finished_at": None}
    assert client.get(f"{URL}/{jobs['reader_finished'].id}",
                      headers=admin_headers).json["result"] == {"added": 3}


def test_admin_lists_every_task_newest_first(client, admin_headers, jobs):
    body = client.get(URL, headers=admin_headers).json
    assert [t["id"] for t in body["items"]] == [
        jobs[k].id for k in ("scheduled", "admin_queued", "reader_failed", "reader_finished",
                             "reader_running")]
    assert (body["total"], body["page"], body["page_size"], body["has_more"]) == (5, 1, 50, False)
    page = client.get(URL, query_string={"page": 2, "page_size": 2}, headers=admin_headers).json
    assert [t["id"] for t in page["items"]] == [jobs["reader_failed"].id,
                                                jobs["reader_finished"].id]
    assert page["total_pages"] == 3 and page["has_more"] is True


def test_filters_by_state_and_type(client, admin_headers, jobs):
    def ids(**query):
        return [t["id"] for t in client.get(URL, query_string=query,
                                            headers=admin_headers).json["items"]]

    assert ids(state="finished") == [jobs["scheduled"].id, jobs["reader_finished"].id]
    assert ids(type="library.scan") == [jobs["admin_queued"].id, jobs["reader_finished"].id,
                                        jobs["reader_running"].id]
    assert ids(type="library.scan", state="queued") == [jobs["admin_queued"].id]
    assert ids(type="nothing.like.this") == []
    response = client.get(URL, query_string={"state": "sleeping"}, headers=admin_headers)
    assert response.status_code == 400 and "state" in response.json["message"]


def test_a_user_sees_only_their_own_tasks(client, reader_headers, jobs):
    body = client.get(URL, headers=reader_headers).json
    assert [t["id"] for t in body["items"]] == [
        jobs["reader_failed"].id, jobs["reader_finished"].id, jobs["reader_running"].id]
    for other in ("admin_queued", "scheduled"):
        response = client.get(f"{URL}/{jobs[other].id}", headers=reader_headers)
        assert response.status_code == 404 and response.json["error"] == "not_found"
    stats = client.get(f"{URL}/stats", headers=reader_headers).json
    assert stats["total"] == 3 and stats["queued"] == 0


def test_stats_count_by_state_and_type(client, admin_headers, jobs):
    assert client.get(f"{URL}/stats", headers=admin_headers).json == {
        "total": 5, "running": 1, "queued": 1,
        "by_state": {"queued": 1, "running": 1, "finished": 2, "failed": 1, "cancelled": 0},
        "by_type": {"jobs.prune": 1, "library.duplicates": 1, "library.scan": 3}}


def test_unknown_task_is_404_and_credentials_are_needed(client, admin_headers, jobs):
    assert client.get(f"{URL}/999999", headers=admin_headers).status_code == 404
    assert client.get(URL).status_code == 401
    no_tasks = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    assert client.get(URL, headers=no_tasks).status_code == 403


def test_cancel_a_queued_task_at_once_and_409_when_ended(client, admin_headers, jobs):
    job = jobs["admin_queued"]
    response = client.post(f"{URL}/{job.id}/cancel", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["status"] == "cancelled" and response.json["cancel_requested"] is True
    assert response.json["finished_at"]
    response = client.post(f"{URL}/{job.id}/cancel", headers=admin_headers)
    assert response.status_code == 409
    assert response.json["error"] == "task_ended"
    assert response.json["message"] == f"Task {job.id} already ended (cancelled)"
    assert client.post(f"{URL}/{jobs['reader_finished'].id}/cancel",
                       headers=admin_headers).status_code == 409


def test_cancel_needs_tasks_write(client, reader_headers, jobs):
    response = client.post(f"{URL}/{jobs['reader_running'].id}/cancel", headers=reader_headers)
    assert response.status_code == 403
    assert db.session.get(Job, jobs["reader_running"].id).cancel_requested is False


def test_cancel_a_running_task_stops_it(app, client, admin_headers):
    runner = app.extensions["comicsrv.jobs"]
    started, checking = threading.Event(), threading.Event()

    def wait_for_cancel(ctx):
        started.set()
        checking.wait(5)  # a long step: the cancel request lands during it
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ctx.check_cancelled()
            time.sleep(0.01)
        return {"cancelled": False}

    runner.register("test.wait", wait_for_cancel)
    job_id = runner.submit("test.wait")
    assert started.wait(5)
    response = client.post(f"{URL}/{job_id}/cancel", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["status"] == "running" and response.json["cancel_requested"] is True
    checking.set()
    assert runner.wait(job_id, 5)
    body = client.get(f"{URL}/{job_id}", headers=admin_headers).json
    assert body["status"] == "cancelled" and body["finished_at"]


def test_stream_sends_task_progress_in_codexs_format(app, client, admin_headers, jobs):
    response = client.get(f"{URL}/stream", headers=admin_headers, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    chunks = response.response
    assert sse_event(next(chunks))[0] == "connected"
    job = jobs["admin_queued"]
    app.extensions["comicsrv.jobs"].cancel(job.id)
    name, data = sse_event(next(chunks))
    assert name == "task_progress"
    assert {k: data[k] for k in ("task_id", "task_type", "status", "progress")} == {
        "task_id": job.id, "task_type": "library.scan", "status": "cancelled",
        "progress": {"current": 0, "total": 0, "message": ""}}
    response.close()
    assert app.extensions["comicsrv.events"].subscriber_count == 0


def test_stream_shows_a_user_only_their_own_tasks(app, client, reader_headers, jobs):
    bus = app.extensions["comicsrv.events"]
    response = client.get(f"{URL}/stream", headers=reader_headers, buffered=False)
    chunks = response.response
    assert sse_event(next(chunks))[0] == "connected"
    for other in ("admin_queued", "scheduled", "reader_running"):
        bus.publish(TaskProgress(task_id=jobs[other].id, task_type="library.scan",
                                 status="running", progress={"current": 1}))
    name, data = sse_event(next(chunks))
    assert (name, data["task_id"]) == ("task_progress", jobs["reader_running"].id)
    response.close()


def test_stream_keeps_alive_even_while_it_filters_events(make_app, reader, jobs):
    quick = make_app(SSE_KEEPALIVE_SECONDS=0.05)
    key = api_key_for(reader, ["TasksRead"])
    response = quick.test_client().get(f"{URL}/stream", headers={"X-API-Key": key},
                                       buffered=False)
    chunks = response.response
    assert sse_event(next(chunks))[0] == "connected"
    assert next(chunks) == b": keep-alive\n\n"
    quick.extensions["comicsrv.events"].publish(TaskProgress(
        task_id=jobs["admin_queued"].id, task_type="library.scan", status="running"))
    started = time.monotonic()
    assert next(chunks) == b": keep-alive\n\n"
    assert time.monotonic() - started < 1
    response.close()
