"""Many processes, one database: roles, leadership and the relay of events.

A deployment is one process (``--role all``, the default, and the only
choice on SQLite) or any number of processes on any number of machines
sharing one PostgreSQL:

- ``web`` serves HTTP. Submitting a job writes its row (and a NOTIFY in the
  same transaction); it never runs jobs.
- ``worker`` claims queued jobs (``comicsrv.jobs.runner``), runs the
  scheduler and serves only ``/ping`` and ``/api/v1/health``.
- ``all`` does both: a single process, or every process of
  ``gunicorn -w 4`` on PostgreSQL.

PostgreSQL coordinates them and nothing else is needed: jobs are claimed
with ``FOR UPDATE SKIP LOCKED``; the scheduler fires only in the process
holding a session advisory lock (the leader; ``is_leader`` and
``on_leadership`` for anything else that must run once per deployment, such
as file watchers); events travel by ``LISTEN/NOTIFY`` (``relay``); provider
quotas and the login throttle are rows (``limits``,
``comicsrv.auth.throttle``). Each process keeps one extra connection for
listening and the lock (``connection``) and a row in ``cluster_nodes``
while it lives.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from datetime import timedelta
from typing import Any, Callable

from flask import Flask
from sqlalchemy import delete, func, select

from .. import __version__, services
from ..config import ConfigError
from ..extensions import db
from ..models import ClusterNode
from .identity import new_owner, parse_owner

log = logging.getLogger(__name__)

ROLES = ("all", "web", "worker")
# Fixed ids: the session advisory lock of the scheduler's leader (beside
# comicsrv.database.MIGRATION_LOCK_ID, "comic").
LEADER_LOCK_ID = 0x636F6D696373  # "comics"
JOBS_CHANNEL = "comicsrv_jobs"
NODE_BEAT_SECONDS = 10.0
# Rows of processes not seen for this long are deleted by the leader.
NODE_FORGET_AFTER = timedelta(minutes=10)

Hook = Callable[[], None]


def db_now():
    """Now by the database's clock, naive UTC like every stored time
    (PostgreSQL only: one clock for every host)."""
    return func.timezone("UTC", func.now())


class Cluster:
    """This process's place in the deployment (``app.extensions["comicsrv.cluster"]``)."""

    def __init__(self, app: Flask, owner: str | None = None):
        self.app = app
        self.role: str = app.config["ROLE"]
        self.owner = owner or new_owner()
        self.postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
        self.connection: Any = None
        self.relay: Any = None
        self.started = False
        self._leader = False
        self._hooks: list[tuple[Hook, Hook | None]] = []
        self._notices: dict[str, list[Callable[[str], None]]] = {JOBS_CHANNEL: []}
        self._reconnected: list[Hook] = []
        self._lock = threading.RLock()

    # -- what this process does --------------------------------------------------

    @property
    def runs_jobs(self) -> bool:
        return self.role in ("all", "worker")

    @property
    def serves_http(self) -> bool:
        return self.role in ("all", "web")

    @property
    def runs_scheduler(self) -> bool:
        """Takes part in the election of the scheduler's leader
        (``SCHEDULER_ENABLED`` switches that off)."""
        return self.runs_jobs and bool(self.app.config["SCHEDULER_ENABLED"])

    @property
    def is_leader(self) -> bool:
        """Whether this process fires the schedules now. Exactly one process of
        a deployment does while it lives; on SQLite, the one process."""
        return self._leader

    def on_leadership(self, elected: Hook, deposed: Hook | None = None) -> None:
        """Call ``elected()`` when this process becomes the leader (at once if
        it is) and ``deposed()`` when it stops being one (its connection to
        PostgreSQL broke, or it is stopping). Hooks run in the cluster
        connection's loop: start a greenlet for anything slow."""
        with self._lock:
            self._hooks.append((elected, deposed))
            leading = self._leader
        if leading:
            self._call(elected)

    def on_notice(self, channel: str, handler: Callable[[str], None]) -> None:
        """``handler(payload)`` for each NOTIFY on ``channel`` (one of the
        channels this process listens to: ``JOBS_CHANNEL``)."""
        self._notices.setdefault(channel, []).append(handler)

    def on_reconnect(self, hook: Hook) -> None:
        """Called when the listening connection (re)opens: notifications sent
        while it was down are lost, so look for what they would have said."""
        self._reconnected.append(hook)

    # -- life ----------------------------------------------------------------------

    def start(self) -> None:
        """Take this process's part: on SQLite, lead (it is the only process);
        on PostgreSQL, start relaying events, listening, and standing for
        leader. Refuses roles that need PostgreSQL, and a SECRET_KEY that
        differs from the other living processes'."""
        if self.started:
            return
        if not self.postgres:
            if self.role != "all":
                raise ConfigError(
                    f"--role {self.role} needs PostgreSQL: the processes of a deployment share "
                    "one database (set DATABASE_URL); with SQLite run one process, --role all")
            self.started = True
            if self.runs_scheduler:
                self._elect()
            return
        from .connection import ClusterConnection
        from .relay import CHANNEL as EVENTS_CHANNEL, EventRelay

        config = self.app.config
        with self.app.app_context():
            self._check_secret_key()
            self._beat_in_context()
            engine = db.engine
        self.relay = EventRelay(engine, self.owner, services.events(self.app))
        self.relay.start()
        channels = {EVENTS_CHANNEL: self.relay.receive}
        for channel in self._notices:
            channels[channel] = self._notice_handler(channel)
        self.connection = ClusterConnection(
            config["SQLALCHEMY_DATABASE_URI"], name=f"comicsrv {self.role} {self.owner}",
            channels=channels,
            leader_key=LEADER_LOCK_ID if self.runs_scheduler else None,
            on_elected=self._elect, on_deposed=self._depose,
            on_connected=self._on_connected, periodic=self._beat,
            leader_check=float(config["LEADER_CHECK_SECONDS"]),
            beat=min(NODE_BEAT_SECONDS, float(config["LEADER_CHECK_SECONDS"]) * 2))
        self.connection.start()
        self.started = True

    def stop(self) -> None:
        """Leave cleanly: hand the leadership on at once and drop our row."""
        if not self.started:
            return
        self.started = False
        if self.connection is not None:
            self.connection.stop()
        self._depose()
        if self.relay is not None:
            self.relay.stop()
        if self.postgres:
            try:
                with self.app.app_context():
                    db.session.execute(delete(ClusterNode).where(ClusterNode.owner == self.owner))
                    db.session.commit()
            except Exception as exc:
                log.warning("could not remove this process from cluster_nodes: %s", exc)

    # -- leadership ------------------------------------------------------------------

    def _elect(self) -> None:
        with self._lock:
            if self._leader:
                return
            self._leader = True
            hooks = [elected for elected, _ in self._hooks]
        for hook in hooks:
            self._call(hook)
        self.refresh_node()  # other processes' status pages name the new leader at once

    def _depose(self) -> None:
        with self._lock:
            if not self._leader:
                return
            self._leader = False
            hooks = [deposed for _, deposed in self._hooks if deposed is not None]
        for hook in hooks:
            self._call(hook)

    @staticmethod
    def _call(hook: Hook) -> None:
        try:
            hook()
        except Exception:
            log.exception("leadership hook %r failed", hook)

    # -- notices ---------------------------------------------------------------------

    def _notice_handler(self, channel: str) -> Callable[[str], None]:
        def handle(payload: str) -> None:
            for handler in self._notices.get(channel, ()):
                handler(payload)
        return handle

    def _on_connected(self) -> None:
        for hook in self._reconnected:
            self._call(hook)

    # -- the node's row ------------------------------------------------------------------

    def key_id(self) -> str:
        secret = str(self.app.config["SECRET_KEY"]).encode()
        return hmac.new(secret, b"comicsrv.cluster.key-id", hashlib.sha256).hexdigest()[:16]

    def _check_secret_key(self) -> None:
        fresh = db_now() - timedelta(seconds=3 * NODE_BEAT_SECONDS)
        rows = db.session.execute(select(ClusterNode.owner, ClusterNode.role).where(
            ClusterNode.seen_at > fresh, ClusterNode.key_id != self.key_id(),
            ClusterNode.owner != self.owner)).all()
        db.session.rollback()
        # A process of this host that is gone (killed, crashed) left its row
        # behind: it is no reason to refuse the process that replaces it.
        others = [f"{owner} ({role})" for owner, role in rows
                  if parse_owner(owner).alive() is not False]
        if others:
            raise ConfigError(
                "SECRET_KEY differs from that of the running processes "
                f"{', '.join(others[:3])}: logins, sessions and the login throttle would "
                "break between them. Give every process the same COMICSRV_SECRET_KEY (or "
                "the same data directory)")

    def _beat(self) -> None:
        with self.app.app_context():
            self._beat_in_context()

    def refresh_node(self) -> None:
        """Write this process's row now (PostgreSQL), not at the next beat."""
        if self.postgres and self.started:
            try:
                self._beat()
            except Exception as exc:
                log.warning("could not update cluster_nodes: %s", exc)

    def _beat_in_context(self) -> None:
        """Upsert this process's row; the leader also lists its schedules and
        forgets processes gone for a while."""
        owner = parse_owner(self.owner)
        leader = self._leader
        schedules = None
        if leader:
            scheduler = self.app.extensions.get("comicsrv.scheduler")
            schedules = scheduler.schedules() if scheduler is not None else None
        values = {"owner": self.owner, "role": self.role, "hostname": owner.host,
                  "pid": owner.pid or 0, "version": __version__, "key_id": self.key_id(),
                  "leader": leader, "schedules": schedules}
        # Only a PostgreSQL deployment gets here; a SQLite server never loads the dialect.
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        statement = postgresql_insert(ClusterNode).values(
            started_at=db_now(), seen_at=db_now(), **values)
        statement = statement.on_conflict_do_update(
            index_elements=[ClusterNode.owner],
            set_={"seen_at": db_now(), "leader": leader, "schedules": schedules})
        try:
            db.session.execute(statement)
            if leader:
                db.session.execute(delete(ClusterNode).where(
                    ClusterNode.seen_at < db_now() - NODE_FORGET_AFTER))
            db.session.commit()
        finally:
            db.session.rollback()
            db.session.remove()

    def nodes(self) -> list[ClusterNode]:
        """The processes seen lately (PostgreSQL; empty on SQLite)."""
        if not self.postgres:
            return []
        fresh = db_now() - timedelta(seconds=3 * NODE_BEAT_SECONDS)
        return list(db.session.execute(select(ClusterNode).where(ClusterNode.seen_at > fresh)
                                       .order_by(ClusterNode.started_at)).scalars())

    def leader_node(self) -> ClusterNode | None:
        return next((node for node in self.nodes() if node.leader), None)
