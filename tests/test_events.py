"""The event bus and the SSE stream."""
import json
import threading

from flask import Flask

from comicsrv.events import (
    BookCreated, CacheInvalidated, Event, EventBus, ScanProgress, SchedulesChanged, TaskProgress,
    format_sse, sse_response, sse_stream,
)


def test_subscribers_get_only_the_events_they_asked_for():
    bus = EventBus()
    books = bus.subscribe({"book_created"})
    everything = bus.subscribe()
    bus.publish(BookCreated(book_id=1, library_id=2))
    bus.publish(ScanProgress(library_id=2, job_id=9, current=1, total=10))
    assert books.get(0).book_id == 1 and books.get(0.01) is None
    assert [everything.get(0).name, everything.get(0).name] == ["book_created", "scan_progress"]


def test_event_payloads_use_codex_field_names():
    payload = BookCreated(book_id=5, series_id=6, library_id=7).to_dict()
    assert payload["type"] == "book_created"
    assert {k: payload[k] for k in ("book_id", "series_id", "library_id")} == {
        "book_id": 5, "series_id": 6, "library_id": 7}
    assert payload["timestamp"].endswith("Z")
    task = TaskProgress(task_id=3, task_type="scan_library", status="running",
                        progress={"current": 25, "total": 100, "message": "m"}).to_dict()
    assert task["task_id"] == 3 and task["progress"]["current"] == 25


def test_slow_subscriber_drops_its_oldest_events_only():
    bus = EventBus()
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe(maxsize=100)
    for i in range(10):
        bus.publish(BookCreated(book_id=i))
    assert [slow.get(0).book_id for _ in range(3)] == [7, 8, 9]
    assert slow.dropped == 7
    assert [fast.get(0).book_id for _ in range(10)] == list(range(10))


def test_publishing_from_many_threads_loses_nothing():
    bus = EventBus()
    sub = bus.subscribe(maxsize=10_000)
    threads = [threading.Thread(target=lambda n=n: [bus.publish(BookCreated(book_id=n * 1000 + i))
                                                     for i in range(500)]) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sub.queue.qsize() == 2000


def test_format_sse_splits_multiline_data():
    assert format_sse("x", "a\nb", 4) == "event: x\nid: 4\ndata: a\ndata: b\n\n"
    assert format_sse(None, {"k": 1}) == 'data: {"k":1}\n\n'


def test_stream_sends_first_event_at_once_then_keepalives_and_events():
    bus = EventBus()
    stream = sse_stream(bus, keepalive=0.05)
    first = next(stream)
    assert first.startswith("event: connected\n")
    assert bus.subscriber_count == 1
    assert next(stream) == ": keep-alive\n\n"
    bus.publish(BookCreated(book_id=42))
    chunk = next(stream)
    assert chunk.startswith("event: book_created\nid: ")
    data = json.loads(chunk.split("data: ", 1)[1])
    assert data["book_id"] == 42
    stream.close()  # what a disconnect does
    assert bus.subscriber_count == 0


def test_sse_response_over_wsgi_and_unsubscribes_on_disconnect():
    bus = EventBus()
    app = Flask(__name__)
    app.add_url_rule("/stream", "stream", lambda: sse_response(bus, keepalive=0.05))
    response = app.test_client().get("/stream", buffered=False)
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    chunks = response.response
    assert next(chunks).startswith(b"event: connected")
    bus.publish(BookCreated(book_id=1))
    assert next(chunks).startswith(b"event: book_created")
    response.close()
    assert bus.subscriber_count == 0


# --- several processes: who hears what -------------------------------------------

def test_listeners_hear_local_events_and_everywhere_listeners_remote_ones_too():
    """A producer's side effects (notifications, plugin hooks) run once, where
    the event was published; keeping in step hears every process."""
    bus = EventBus()
    local, everywhere = [], []
    bus.add_listener(local.append)
    bus.add_listener(everywhere.append, everywhere=True)
    sub = bus.subscribe({"book_created"})
    mine, theirs = BookCreated(book_id=1), BookCreated(book_id=2)
    bus.publish(mine)
    bus.receive(theirs)  # as the relay delivers another process's event
    assert local == [mine]
    assert everywhere == [mine, theirs]
    assert [sub.get(0).book_id, sub.get(0).book_id] == [1, 2]


def test_internal_events_reach_listeners_but_never_an_unnamed_subscription():
    bus = EventBus()
    heard = []
    bus.add_listener(heard.append, everywhere=True)
    everything = bus.subscribe()
    named = bus.subscribe({"schedules_changed"})
    bus.publish(SchedulesChanged(reason="library 3 scan schedule"))
    assert everything.get(0.01) is None
    assert named.get(0).reason == "library 3 scan schedule"
    assert [event.name for event in heard] == ["schedules_changed"]


def test_an_event_travels_as_name_and_fields_and_comes_back_as_its_class():
    event = TaskProgress(task_id=3, task_type="library.scan", status="running",
                         progress={"current": 1, "total": 2, "message": "x"})
    back = Event.from_fields(event.name, json.loads(json.dumps(event.fields())))
    assert back == event and type(back) is TaskProgress
    # A newer process may send an event or a field this one does not know.
    assert Event.from_fields("not_an_event", {}) is None
    newer = Event.from_fields("book_created", {"book_id": 4, "added_in_v9": 1})
    assert isinstance(newer, BookCreated) and newer.book_id == 4
    assert Event.from_fields("book_created", {}) is None  # book_id is required


def test_cache_invalidation_reaches_every_process_and_this_one():
    bus = EventBus()
    dropped = []
    bus.on_invalidate("principals", dropped.append)
    bus.on_invalidate("other", lambda keys: dropped.append(("other", keys)))
    bus.invalidate("principals", 7, 8)
    bus.receive(CacheInvalidated(cache="principals", keys=[]))  # from another process
    assert dropped == [[7, 8], []]
