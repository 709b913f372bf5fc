"""``/api/v1/events/stream``: entity events over SSE, within the user's libraries."""
import json

import pytest

from comicsrv.events import (
    BookCreated, BookDeleted, CoverUpdated, LibraryCreated, LibraryUpdated, ScanProgress,
    SeriesUpdated, TaskProgress,
)
from comicsrv.extensions import db
from tests.factories import BookFactory, LibraryFactory, SeriesFactory, UserFactory, api_key_for

URL = "/api/v1/events/stream"


def sse_event(chunk: bytes) -> tuple[str, dict]:
    fields = dict(line.split(": ", 1) for line in chunk.decode().strip().split("\n"))
    return fields["event"], json.loads(fields["data"])


def open_stream(client, headers):
    response = client.get(URL, headers=headers, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    chunks = response.response
    assert sse_event(next(chunks)) == ("connected", {"status": "connected"})
    return response, chunks


@pytest.fixture
def bus(app):
    return app.extensions["comicsrv.events"]


def test_entity_events_in_codexs_format(client, admin_headers, bus):
    response, chunks = open_stream(client, admin_headers)
    bus.publish(ScanProgress(library_id=1, job_id=2, current=1, total=2))  # not an entity event
    bus.publish(TaskProgress(task_id=2, task_type="library.scan", status="running"))
    bus.publish(BookCreated(book_id=5, series_id=6, library_id=7,
                            timestamp="2024-01-15T10:30:00Z"))
    assert sse_event(next(chunks)) == ("book_created", {
        "type": "book_created", "timestamp": "2024-01-15T10:30:00Z", "book_id": 5,
        "series_id": 6, "library_id": 7})
    bus.publish(SeriesUpdated(series_id=6, library_id=7))
    name, data = sse_event(next(chunks))
    assert (name, data["type"], data["series_id"]) == ("series_updated", "series_updated", 6)
    response.close()
    assert bus.subscriber_count == 0


def test_keep_alive_comment_when_idle(make_app, reader, reader_headers):
    quick = make_app(SSE_KEEPALIVE_SECONDS=0.05)
    response, chunks = open_stream(quick.test_client(), reader_headers)
    assert next(chunks) == b": keep-alive\n\n"
    assert next(chunks) == b": keep-alive\n\n"
    response.close()


def test_needs_credentials(client):
    response = client.get(URL)
    assert response.status_code == 401 and response.json["error"] == "unauthorized"


def test_a_user_hears_only_about_their_libraries(client, bus):
    mine, theirs = LibraryFactory(), LibraryFactory()
    my_book, their_book = BookFactory(library=mine), BookFactory(library=theirs)
    their_series = SeriesFactory(library=theirs)
    user = UserFactory(library_ids=[mine.id])
    response, chunks = open_stream(client, {"X-API-Key": api_key_for(user, ["BooksRead"])})

    bus.publish(BookCreated(book_id=their_book.id, library_id=theirs.id))
    bus.publish(CoverUpdated(book_id=their_book.id))  # no library id: looked up
    bus.publish(SeriesUpdated(series_id=their_series.id))
    bus.publish(LibraryUpdated(library_id=theirs.id))
    bus.publish(BookDeleted(book_id=my_book.id, library_id=mine.id))
    name, data = sse_event(next(chunks))
    assert (name, data["book_id"]) == ("book_deleted", my_book.id)

    bus.publish(CoverUpdated(book_id=999999))  # unknown book: cannot tell, not sent
    bus.publish(CoverUpdated(book_id=my_book.id))
    name, data = sse_event(next(chunks))
    assert (name, data["book_id"]) == ("cover_updated", my_book.id)
    response.close()


def test_disabled_libraries_are_silent_to_users_but_not_to_admins(client, bus, admin_headers):
    hidden, shown = LibraryFactory(enabled=False), LibraryFactory()
    user_headers = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}  # every library
    # One stream at a time: a test client's suspended stream keeps its request
    # context pushed in this thread (the server gives each its own greenlet).
    for headers, expected in ((admin_headers, 1), (user_headers, 2)):
        response, chunks = open_stream(client, headers)
        bus.publish(BookCreated(book_id=1, library_id=hidden.id))
        bus.publish(BookCreated(book_id=2, library_id=shown.id))
        assert sse_event(next(chunks))[1]["book_id"] == expected
        response.close()


def test_the_scope_follows_library_and_user_changes(make_app):
    quick = make_app(SSE_KEEPALIVE_SECONDS=0.05)
    with quick.app_context():
        bus = quick.extensions["comicsrv.events"]
        user, first = UserFactory(), LibraryFactory()
        response, chunks = open_stream(quick.test_client(),
                                       {"X-API-Key": api_key_for(user, ["BooksRead"])})
        bus.publish(BookCreated(book_id=2, library_id=first.id))
        assert sse_event(next(chunks))[1]["book_id"] == 2  # the visible set is read now

        library = LibraryFactory()
        bus.publish(LibraryCreated(library_id=library.id))
        name, data = sse_event(next(chunks))
        assert (name, data["library_id"]) == ("library_created", library.id)
        bus.publish(BookCreated(book_id=3, library_id=library.id))
        assert sse_event(next(chunks))[1]["book_id"] == 3

        # An admin narrows the user to no library: applied from the next library event.
        user.library_ids = []
        db.session.commit()
        bus.publish(LibraryUpdated(library_id=library.id))
        bus.publish(BookCreated(book_id=4, library_id=library.id))
        assert next(chunks) == b": keep-alive\n\n"

        user.library_ids = [library.id]
        db.session.commit()
        bus.publish(LibraryUpdated(library_id=library.id))
        assert sse_event(next(chunks))[0] == "library_updated"
        response.close()
