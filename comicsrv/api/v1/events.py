"""``/api/v1/events/stream``: Codex's entity events over SSE.

Every authenticated user may listen; a user who is not an admin hears only
about the libraries they can see (``comicsrv.library.access``), so the stream
never reveals a book id of a library outside their scope.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Iterable

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ... import services
from ...auth import current_principal, require
from ...events import KEEPALIVE_SECONDS, LIBRARY_EVENTS, Event, EventBus, sse_response
from ...extensions import db
from ...library.access import visible_library_ids
from ...models import Book, Library, Series, User

blp = Blueprint("v1_events", __name__, url_prefix="/api/v1", description="Live entity events")

SSE_DOC = {"200": {"description": "A text/event-stream: a `connected` event at once, then "
                                  "one event per change and `: keep-alive` comments",
                   "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def keepalive_seconds() -> float:
    """The keep-alive interval of every v1 stream (``SSE_KEEPALIVE_SECONDS``,
    15 s as Codex documents; tests set a fraction of a second)."""
    return float(current_app.config.get("SSE_KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)


class _FilteredSubscription:
    def __init__(self, inner, accept: Callable[[Event], bool]):
        self._inner = inner
        self._accept = accept

    def get(self, timeout: float | None = None) -> Event | None:
        """The next accepted event, or None once ``timeout`` passes without one,
        so a stream of rejected events still sends its keep-alives on time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = self._inner.get(timeout=remaining)
            if event is None or self._accept(event):
                return event
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        self._inner.close()


class FilteredBus:
    """The bus as :func:`comicsrv.events.sse_stream` uses it, letting through
    only the events ``accept`` allows.

    ``accept`` runs in the stream's own greenlet, after the event left the
    producer's queue, so it may query the database without slowing a scan.
    """

    def __init__(self, bus: EventBus, accept: Callable[[Event], bool]):
        self._bus = bus
        self._accept = accept

    def subscribe(self, names: Iterable[str] | None = None) -> _FilteredSubscription:
        return _FilteredSubscription(self._bus.subscribe(names), self._accept)

    def next_id(self) -> int:
        return self._bus.next_id()


class BoundedCache(OrderedDict):
    """A small LRU map: a stream that runs for days must not grow without end."""

    def __init__(self, size: int = 4096):
        super().__init__()
        self.size = size

    def remember(self, key, value):
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class LibraryScope:
    """Which libraries a user's stream may mention.

    The visible set is read when the stream opens and again after any library
    event (a library added, renamed, disabled) or once a minute (an admin
    narrowing the user's libraries), so a check is a set look-up, not a query
    per event of a scan that adds thousands of books.
    """

    REFRESH_SECONDS = 60.0

    def __init__(self, user_id: int):
        self.user_id = user_id
        self._visible: frozenset[int] = frozenset()
        self._loaded_at: float | None = None
        self._book_library = BoundedCache()
        self._series_library = BoundedCache()

    def accept(self, event: Event) -> bool:
        queried = False
        if (event.name in ("library_created", "library_updated") or self._loaded_at is None
                or time.monotonic() - self._loaded_at > self.REFRESH_SECONDS):
            self._reload()
            queried = True
        library_id = getattr(event, "library_id", None)
        if library_id is None:
            library_id, looked_up = self._library_of(event)
            queried = queried or looked_up
        if queried:
            db.session.rollback()  # hand the connection back while the stream idles
        return library_id is not None and library_id in self._visible

    def _reload(self) -> None:
        user = db.session.get(User, self.user_id)
        self._visible = frozenset(db.session.execute(
            select(Library.id).where(visible_library_ids(user))).scalars()) if user else frozenset()
        self._loaded_at = time.monotonic()

    def _library_of(self, event: Event) -> tuple[int | None, bool]:
        """The library of an event that names only a book or a series."""
        for attr, model, cache in (("book_id", Book, self._book_library),
                                   ("series_id", Series, self._series_library)):
            entity_id = getattr(event, attr, None)
            if entity_id is None:
                continue
            if entity_id in cache:
                return cache[entity_id], False
            library_id = db.session.execute(
                select(model.library_id).where(model.id == entity_id)).scalar()
            return cache.remember(entity_id, library_id), True
        return None, False


@blp.route("/events/stream")
class EventStream(MethodView):
    @blp.doc(security=[{"ApiKeyHeader": []}, {"Bearer": []}, {"Basic": []}],
             responses=SSE_DOC)
    @require()
    def get(self):
        """Entity events (book_created, series_updated, library_created, cover_updated, ...).

        Each event's data is a JSON object with `type`, the entity ids and a
        `timestamp`; a `: keep-alive` comment follows every 15 s of silence.
        """
        principal = current_principal()
        bus = services.events()
        if not principal.is_admin:
            bus = FilteredBus(bus, LibraryScope(principal.user.id).accept)
        db.session.rollback()  # no connection held open for the stream's life
        return sse_response(bus, LIBRARY_EVENTS, keepalive=keepalive_seconds())
