"""``/api/events/stream``: pipeline, library and task events over SSE, as the
real pipeline services publish them."""
from __future__ import annotations

import json

from comicsrv.automation import downloads
from comicsrv.events import BookCreated, TaskProgress
from tests.factories import DownloadFactory, api_key_for

URL = "/api/events/stream"


def sse_event(chunk: bytes) -> tuple[str, dict]:
    fields = dict(line.split(": ", 1) for line in chunk.decode().strip().split("\n"))
    return fields["event"], json.loads(fields["data"])


def test_pipeline_library_and_task_events_arrive_in_order(app, client, admin):
    bus = app.extensions["comicsrv.events"]
    key = api_key_for(admin, ["SystemAdmin"])
    response = client.get(URL, headers={"X-Api-Key": key, "Accept": "text/event-stream"},
                          buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    chunks = response.response
    assert sse_event(next(chunks))[0] == "connected"
    # A real pipeline step: a failed download is announced twice.
    download = DownloadFactory(title="Saga 001", state="downloading")
    downloads.fail_download(download, "dead torrent")
    name, data = sse_event(next(chunks))
    assert (name, data["download_id"], data["state"]) == ("download_updated", download.id, "failed")
    name, data = sse_event(next(chunks))
    assert (name, data["reason"]) == ("download_failed", "dead torrent")
    bus.publish(BookCreated(book_id=5, series_id=6, library_id=7))
    assert sse_event(next(chunks))[0] == "book_created"
    bus.publish(TaskProgress(task_id=3, task_type="automation.search_wanted", status="running"))
    name, data = sse_event(next(chunks))
    assert (name, data["task_type"]) == ("task_progress", "automation.search_wanted")
    response.close()
    assert bus.subscriber_count == 0


def test_the_stream_wants_an_admin_key(client, reader):
    assert client.get(URL).status_code == 401
    key = api_key_for(reader, ["TasksRead"])
    answer = client.get(URL, headers={"X-Api-Key": key})
    assert answer.status_code == 403 and answer.json["error"]["code"] == 403
