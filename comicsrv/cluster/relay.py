"""Events between processes over PostgreSQL's ``LISTEN/NOTIFY``.

Publishing stays cheap for the producer: ``send`` only queues the event.
One sender per process takes events off that queue in order, packs as many
as fit into one notification (a JSON array; a NOTIFY carries at most 8000
bytes) and sends the batches of one round in one transaction. An event too
big for a notification on its own (a long message) is stored as a row of
``event_payloads`` in that same transaction and its notification carries
only the row's id. PostgreSQL delivers one session's notifications in commit
order, so every listener sees a producer's events in the order it
published them.

Delivery is as good as the connections: a process whose listening
connection drops misses what was sent meanwhile, as an SSE client that
reconnects does. Nothing depends on these events for correctness: job
state, progress and results are rows; the events make screens live.

Notification payload::

    {"o": "<owner of the sender>", "e": [["task_progress", {...fields}], ...]}
    {"o": "<owner>", "ref": 123}
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Engine

from ..events import Event, EventBus
from ..models import EventPayload, utcnow

log = logging.getLogger(__name__)

CHANNEL = "comicsrv_events"
# NOTIFY refuses payloads of 8000 bytes and more; keep room for the envelope.
MAX_PAYLOAD = 7900
QUEUE_LIMIT = 20_000
PAYLOAD_TTL_SECONDS = 3600
PRUNE_EVERY_SECONDS = 600
_STOP = object()


def _encode(event: Event) -> str:
    return json.dumps([event.name, event.fields()], separators=(",", ":"), default=str)


class EventRelay:
    def __init__(self, engine: Engine, owner: str, bus: EventBus):
        self.engine = engine
        self.owner = owner
        self.bus = bus
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_LIMIT)
        self._dropped = 0
        self._last_prune = 0.0
        self._done = threading.Event()
        self.sent = 0  # notifications, for tests and figures

    # -- sending ---------------------------------------------------------------

    def start(self) -> None:
        from ..jobs import pool

        self.bus.relay = self
        pool.spawn(self._run, name="event-relay")

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued, then stop."""
        self.bus.relay = None
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._done.wait(timeout)

    def send(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            # The database is unreachable or far behind: the newest events go,
            # the producer never waits.
            self._dropped += 1
            if self._dropped in (1, 100) or self._dropped % 10_000 == 0:
                log.warning("event relay: %d events not sent to other processes "
                            "(queue full; is PostgreSQL reachable?)", self._dropped)

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                events = [first]
                while len(events) < 500:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        self._send(events)
                        return
                    events.append(item)
                self._send(events)
        finally:
            self._done.set()

    def _send(self, events: list[Event]) -> None:
        try:
            with self.engine.begin() as conn:
                self.sent += self._emit(conn, events)
                self._prune_now_and_then(conn)
        except Exception as exc:
            log.warning("event relay: %d events not sent to other processes (%s: %s)",
                        len(events), type(exc).__name__, exc)

    def send_within(self, executor: Any, events: list[Event]) -> None:
        """Send ``events`` from inside the caller's transaction (``executor``:
        its session or connection): they reach the other processes exactly
        when, and only if, it commits, and before anything sent after it.
        The job queue sends a job's ``queued`` event so, ahead of the NOTIFY
        that wakes the workers, so no process hears of a job's run before it
        hears that the job was queued."""
        self.sent += self._emit(executor, events)

    def _emit(self, executor: Any, events: list[Event]) -> int:
        """NOTIFY ``events`` in as few notifications as fit; returns how many."""
        envelope = json.dumps(self.owner)
        head = '{"o":' + envelope + ',"e":['
        batches: list[tuple[str, bool]] = []  # (payload, stored as a row)
        parts: list[str] = []
        size = len(head) + 2
        for event in events:
            encoded = _encode(event)
            length = len(encoded.encode())
            if length + len(head) + 2 > MAX_PAYLOAD:
                if parts:
                    batches.append((head + ",".join(parts) + "]}", False))
                    parts, size = [], len(head) + 2
                batches.append((head + encoded + "]}", True))
                continue
            if parts and size + length + 1 > MAX_PAYLOAD:
                batches.append((head + ",".join(parts) + "]}", False))
                parts, size = [], len(head) + 2
            parts.append(encoded)
            size += length + 1
        if parts:
            batches.append((head + ",".join(parts) + "]}", False))
        for payload, stored in batches:
            if stored:
                row_id = executor.execute(insert(EventPayload).values(
                    created_at=utcnow(), body=payload).returning(EventPayload.id)).scalar_one()
                payload = '{"o":' + envelope + ',"ref":' + str(row_id) + "}"
            executor.execute(text("SELECT pg_notify(:channel, :payload)"),
                             {"channel": CHANNEL, "payload": payload})
        return len(batches)

    def _prune_now_and_then(self, conn) -> None:
        now = time.monotonic()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        cutoff = utcnow() - timedelta(seconds=PAYLOAD_TTL_SECONDS)
        conn.execute(delete(EventPayload).where(EventPayload.created_at < cutoff))

    # -- receiving ------------------------------------------------------------

    def receive(self, payload: str) -> None:
        """A notification on ``CHANNEL`` (called by the cluster connection)."""
        if not self.bus.wants_remote_events:
            return
        if f'"o":{json.dumps(self.owner)}' in payload[:300]:
            return  # ours: delivered here when published
        try:
            message = json.loads(payload)
            if "ref" in message:
                with self.engine.connect() as conn:
                    body = conn.execute(select(EventPayload.body).where(
                        EventPayload.id == int(message["ref"]))).scalar()
                if body is None:
                    return
                message = json.loads(body)
            items = message.get("e") or []
        except (ValueError, TypeError, AttributeError):
            log.warning("event relay: a notification that is not an event batch: %.200r", payload)
            return
        for item in items:
            try:
                name, values = item
            except (TypeError, ValueError):
                continue
            event = Event.from_fields(name, values) if isinstance(values, dict) else None
            if event is not None:
                self.bus.receive(event)
