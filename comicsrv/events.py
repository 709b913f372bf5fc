"""Typed events, the bus, and the SSE stream every surface uses.

Producers (the scanner, jobs, the pipeline) publish from any thread or
greenlet; each SSE client owns a bounded queue, so a slow client drops its
own oldest events and never slows the producer or other clients.

One process or many: on PostgreSQL the bus hands every event to a relay
(``comicsrv.cluster.relay``) that sends it to the other processes of the
deployment through ``LISTEN/NOTIFY``, and delivers theirs here, so an SSE
client of any web process hears a scan run by any worker. Two kinds of
callback see events, and the difference matters once there are several
processes:

- ``add_listener(fn)``: the producer's side effects (notifications, the
  plugins' ``comicsrv_event`` hook, linking books after a scan). Called for
  events published *in this process* only, so a grab notifies once, not
  once per process.
- ``add_listener(fn, everywhere=True)``: keeping this process in step with
  the others (a job cancelled elsewhere, a schedule changed, a cache entry
  gone stale). Called for events published in any process.

Caches that live in each process are kept right across processes with
``bus.invalidate("principals", user_id)`` and
``bus.on_invalidate("principals", drop)``. Internal events such as these
never reach SSE clients.
"""
from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any, Callable, ClassVar, Iterable, Iterator

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
QUEUE_SIZE = 512


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(kw_only=True)
class Event:
    """Base of every event. ``name`` is the SSE event name.

    Every subclass with a name of its own is registered under that name, so
    an event sent to another process as its name and fields is rebuilt there
    as the same class (:meth:`from_fields`). Fields must be JSON values.
    """

    name: ClassVar[str] = "event"
    # Coordinates processes; never streamed to clients.
    internal: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[Event]]] = {}
    timestamp: str = field(default_factory=_now)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            Event.registry[cls.name] = cls

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, **asdict(self)}

    def fields(self) -> dict[str, Any]:
        """The event's own fields, as :meth:`from_fields` takes them back."""
        return asdict(self)

    @staticmethod
    def from_fields(name: str, values: dict[str, Any]) -> Event | None:
        """The event ``name`` with ``values``; None for a name or fields this
        process does not know (a newer version of comicsrv elsewhere)."""
        cls = Event.registry.get(name)
        if cls is None:
            return None
        known = {f.name for f in dataclass_fields(cls)}
        try:
            return cls(**{k: v for k, v in values.items() if k in known})
        except TypeError:
            return None


# Library events, named as Codex's /events/stream names them.
@dataclass(kw_only=True)
class BookCreated(Event):
    name: ClassVar[str] = "book_created"
    book_id: int
    series_id: int | None = None
    library_id: int | None = None


@dataclass(kw_only=True)
class BookUpdated(BookCreated):
    name: ClassVar[str] = "book_updated"


@dataclass(kw_only=True)
class BookDeleted(BookCreated):
    name: ClassVar[str] = "book_deleted"


@dataclass(kw_only=True)
class SeriesCreated(Event):
    name: ClassVar[str] = "series_created"
    series_id: int
    library_id: int | None = None


@dataclass(kw_only=True)
class SeriesUpdated(SeriesCreated):
    name: ClassVar[str] = "series_updated"


@dataclass(kw_only=True)
class SeriesDeleted(SeriesCreated):
    name: ClassVar[str] = "series_deleted"


@dataclass(kw_only=True)
class LibraryCreated(Event):
    name: ClassVar[str] = "library_created"
    library_id: int


@dataclass(kw_only=True)
class LibraryUpdated(LibraryCreated):
    name: ClassVar[str] = "library_updated"


@dataclass(kw_only=True)
class CoverUpdated(Event):
    name: ClassVar[str] = "cover_updated"
    book_id: int


@dataclass(kw_only=True)
class CredentialsChanged(Event):
    """What a user may do changed (deactivated, permissions, libraries, a new
    password or a revoked session) or one of their API keys or client tokens
    was changed or deleted: every process forgets the principals it resolved
    for this user (``comicsrv.auth.principal_cache``); ``user_id`` 0 means
    every user (a change whose owner could not be told)."""

    name: ClassVar[str] = "credentials_changed"
    internal: ClassVar[bool] = True
    user_id: int


@dataclass(kw_only=True)
class ScanProgress(Event):
    name: ClassVar[str] = "scan_progress"
    library_id: int
    job_id: int
    current: int
    total: int
    message: str = ""


@dataclass(kw_only=True)
class TaskProgress(Event):
    """A job changed state or progress (Codex's ``task_progress``)."""

    name: ClassVar[str] = "task_progress"
    task_id: int
    task_type: str
    status: str
    progress: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Codex's task events carry no "type"/"timestamp" keys; keep both, they
        # are harmless to its clients and useful to ours.
        return {**asdict(self), "type": self.name}


# Pipeline events: what the *arr automation did, for SSE clients, notifiers
# and the legacy /api/events/stream.
@dataclass(kw_only=True)
class IssueWanted(Event):
    """A watched issue became wanted (a new issue announced, or a user's choice)."""

    name: ClassVar[str] = "issue_wanted"
    watched_series_id: int
    watched_issue_id: int
    series: str
    number: str
    new: bool = False


@dataclass(kw_only=True)
class ReleaseGrabbed(Event):
    name: ClassVar[str] = "release_grabbed"
    download_id: int
    title: str
    indexer: str | None = None
    client: str | None = None
    watched_issue_id: int | None = None


@dataclass(kw_only=True)
class DownloadUpdated(Event):
    """A download changed state at its client (downloading, completed, failed)."""

    name: ClassVar[str] = "download_updated"
    download_id: int
    title: str
    state: str
    progress: float = 0.0
    error: str | None = None


@dataclass(kw_only=True)
class PostProcessStep(Event):
    """One post-processing step ran (or failed) for a download."""

    name: ClassVar[str] = "postprocess_step"
    download_id: int
    job_id: int | None = None
    step: str
    status: str  # started | done | failed | skipped
    message: str = ""


@dataclass(kw_only=True)
class IssueImported(Event):
    """A download became a library book and its issue is downloaded."""

    name: ClassVar[str] = "issue_imported"
    download_id: int | None
    watched_issue_id: int | None
    book_id: int
    path: str


@dataclass(kw_only=True)
class DownloadFailed(Event):
    name: ClassVar[str] = "download_failed"
    download_id: int
    title: str
    reason: str
    watched_issue_id: int | None = None


# Internal events: how processes keep each other in step, and how one
# automation stage hands work to the next without importing it
# (``comicsrv.automation.reactions`` does the handing).
@dataclass(kw_only=True)
class DownloadCompleted(Event):
    """A download is complete at its client and not imported yet. The
    download monitor says so at every check until post-processing has it;
    published in the monitor's process only."""

    name: ClassVar[str] = "download_completed"
    internal: ClassVar[bool] = True
    download_id: int


@dataclass(kw_only=True)
class IssueWantedAgain(Event):
    """A watched issue is wanted again because its download failed at the
    client: the next candidate is searched for. Published in the monitor's
    process only."""

    name: ClassVar[str] = "issue_wanted_again"
    internal: ClassVar[bool] = True
    watched_issue_id: int


@dataclass(kw_only=True)
class SchedulesChanged(Event):
    """Something a schedule depends on changed (a library's scan schedule, an
    automation setting): the processes that run the scheduler rebuild it."""

    name: ClassVar[str] = "schedules_changed"
    internal: ClassVar[bool] = True
    reason: str = ""
    # The process that changed them (and so has rebuilt its own already).
    origin: str = ""


@dataclass(kw_only=True)
class CacheInvalidated(Event):
    """Entries of a per-process cache are stale in every process (``keys``
    empty: the whole cache). See :meth:`EventBus.invalidate`."""

    name: ClassVar[str] = "cache_invalidated"
    internal: ClassVar[bool] = True
    cache: str
    keys: list[Any] = field(default_factory=list)


PIPELINE_EVENTS = frozenset(
    cls.name for cls in (IssueWanted, ReleaseGrabbed, DownloadUpdated, PostProcessStep,
                         IssueImported, DownloadFailed)
)


LIBRARY_EVENTS = frozenset(
    cls.name for cls in (BookCreated, BookUpdated, BookDeleted, SeriesCreated, SeriesUpdated,
                         SeriesDeleted, LibraryCreated, LibraryUpdated, CoverUpdated)
)


class Subscription:
    """One consumer's bounded queue. Iterate with ``get``; always ``close``."""

    def __init__(self, bus: EventBus, names: frozenset[str] | None, maxsize: int):
        self._bus = bus
        self.names = names
        self.queue: queue.Queue[Event] = queue.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        # Unnamed subscriptions hear every client-facing event, never an internal one.
        wanted = event.name in self.names if self.names is not None else not event.internal
        if not wanted:
            return
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> Event | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._everywhere: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        # Sends events to the other processes (``comicsrv.cluster.relay``);
        # None while this process is alone (SQLite, tests, the CLI).
        self.relay: Any = None

    def subscribe(self, names: Iterable[str] | None = None, maxsize: int = QUEUE_SIZE) -> Subscription:
        """A queue of the events named ``names`` (every client-facing event
        when None), from this process and, on PostgreSQL, every other."""
        sub = Subscription(self, frozenset(names) if names is not None else None, maxsize)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def add_listener(self, listener: Callable[[Event], None], *, everywhere: bool = False) -> None:
        """A synchronous callback for every event published in this process
        (the producer's side effects: plugins' ``comicsrv_event``,
        notifications), or with ``everywhere`` for every event of every
        process (keeping this process in step with the others). A listener
        runs in the producer's thread (``everywhere``: for another process's
        events, in the relay's): it must be quick, and start a greenlet for
        anything slow."""
        with self._lock:
            (self._everywhere if everywhere else self._listeners).append(listener)

    def invalidate(self, cache: str, *keys: Any) -> None:
        """Tell every process, this one included, that ``keys`` of its
        ``cache`` are stale (no keys: all of it). Keys are JSON values."""
        self.publish(CacheInvalidated(cache=cache, keys=list(keys)))

    def on_invalidate(self, cache: str, drop: Callable[[list[Any]], None]) -> None:
        """Call ``drop(keys)`` whenever any process invalidates ``cache``
        (``keys`` empty: drop everything)."""

        def listener(event: Event) -> None:
            if isinstance(event, CacheInvalidated) and event.cache == cache:
                drop(event.keys)

        self.add_listener(listener, everywhere=True)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def next_id(self) -> int:
        return next(self._seq)

    def publish(self, event: Event, *, remote: bool = True) -> None:
        """Deliver ``event`` here, then send it to the other processes
        (``remote=False``: the caller sent it already, with
        ``relay.send_within`` inside its transaction)."""
        with self._lock:
            subscribers = list(self._subscribers)
            listeners = self._listeners + self._everywhere
        self._deliver(event, subscribers, listeners)
        relay = self.relay
        if relay is not None and remote:
            relay.send(event)

    def receive(self, event: Event) -> None:
        """An event another process published (called by the relay)."""
        with self._lock:
            subscribers = list(self._subscribers)
            listeners = list(self._everywhere)
        self._deliver(event, subscribers, listeners)

    @staticmethod
    def _deliver(event: Event, subscribers: list[Subscription],
                 listeners: list[Callable[[Event], None]]) -> None:
        for sub in subscribers:
            sub.offer(event)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the producer
                log.exception("event listener %r failed on %s", listener, event.name)

    @property
    def wants_remote_events(self) -> bool:
        """Whether anything here hears other processes' events (the relay
        skips decoding them when not)."""
        return bool(self._subscribers or self._everywhere)


def format_sse(event: str | None, data: Any, event_id: int | None = None) -> str:
    lines = []
    if event:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), default=str)
    lines.extend(f"data: {line}" for line in payload.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


def sse_stream(
    bus: EventBus,
    names: Iterable[str] | None = None,
    first: tuple[str, Any] = ("connected", {"status": "connected"}),
    keepalive: float = KEEPALIVE_SECONDS,
    render: Callable[[Event], dict[str, Any]] = lambda e: e.to_dict(),
) -> Iterator[str]:
    """Yield SSE text for every event on the bus, forever.

    The subscription is made before the first event is yielded so nothing
    published after the client connects is missed; a comment line every
    ``keepalive`` seconds keeps proxies from closing an idle connection and
    lets the server notice a client that went away (the write fails and the
    generator is closed, which unsubscribes).
    """
    sub = bus.subscribe(names)
    try:
        yield format_sse(first[0], first[1], bus.next_id())
        while True:
            event = sub.get(timeout=keepalive)
            if event is None:
                yield ": keep-alive\n\n"
            else:
                yield format_sse(event.name, render(event), bus.next_id())
    finally:
        sub.close()


def sse_response(*args: Any, **kwargs: Any):
    """A Flask streaming response around :func:`sse_stream`."""
    from flask import Response, stream_with_context

    return Response(
        stream_with_context(sse_stream(*args, **kwargs)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
