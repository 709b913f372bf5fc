"""Engine settings, SQLite tuning and schema migrations."""
from __future__ import annotations

import ast
import logging
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

log = logging.getLogger(__name__)

# Arbitrary but fixed: the PostgreSQL advisory lock that serialises
# migrations when several processes start at once.
MIGRATION_LOCK_ID = 0x636F6D6963  # "comic"


def engine_options(url: str, busy_timeout_ms: int, pool_size: int = 10,
                   max_overflow: int = 20) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # sqlite3's ``timeout`` is SQLite's busy timeout: a writer waits for
        # the lock instead of failing with "database is locked".
        return {"connect_args": {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}}
    # Dead connections after a PostgreSQL restart are replaced, not raised.
    # Each process holds up to pool_size + max_overflow: with many processes,
    # their sum must stay below the server's max_connections (docs/scaling.md).
    return {"pool_pre_ping": True, "pool_size": pool_size, "max_overflow": max_overflow}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the scanner's writes; NORMAL sync is safe
    under WAL and much faster; foreign keys are off in SQLite by default."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-32000")
    cursor.close()


def bundled_dir(name: str) -> Path:
    """``comicsrv/<name>`` in an installed wheel, ``<name>/`` in a checkout
    (see setup.py for why these folders live at the top level)."""
    package = Path(__file__).resolve().parent
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


def migrations_dir() -> str:
    return str(bundled_dir("migrations"))


def install_migrations(app: Flask) -> None:
    """Bind Flask-Migrate to ``app`` (``app.extensions["migrate"]``, which
    ``migrations/env.py`` reads), once. Done on the first migration rather
    than in ``create_app``: importing it (Alembic, Mako, Pygments) costs
    ~10 MB that a server which migrates nothing would carry all its life."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    Migrate(app, db, directory=migrations_dir(), render_as_batch=True, compare_type=True)


def bundled_heads() -> set[str] | None:
    """The head revisions of the bundled migrations, read from the files'
    ``revision``/``down_revision`` assignments without importing them or
    Alembic; None when a file does not state them plainly (then only Alembic
    can tell)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(Path(migrations_dir(), "versions").glob("*.py")):
        stated: dict[str, Any] = {}
        for node in ast.parse(path.read_bytes(), str(path)).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                try:
                    stated[target.id] = ast.literal_eval(value)
                except ValueError:
                    return None
        revision, down = stated.get("revision"), stated.get("down_revision", ())
        if not isinstance(revision, str) or down == ():
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)):
            parents.update(down)
        elif down is not None:
            return None
    return (revisions - parents) or None


def schema_is_current(app: Flask) -> bool:
    """Whether the database is stamped with exactly the bundled heads. An
    unreadable stamp (a new database, no server yet) is "not current", and
    Alembic then says what is wrong."""
    heads = bundled_heads()
    if heads is None:
        return False
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                stamped = set(conn.execute(text("SELECT version_num FROM alembic_version"))
                              .scalars())
        except SQLAlchemyError:
            return False
    return stamped == heads


def upgrade(app: Flask, revision: str = "head") -> None:
    """Apply migrations. On PostgreSQL an advisory lock makes concurrent
    starts (several gunicorn workers) take turns instead of racing.

    A database already at the head is the usual start: that is checked
    without Alembic, which with Mako would stay in the server's memory
    (~10 MB, and ~0.4 s of every start) for nothing."""
    if revision == "head" and schema_is_current(app):
        return
    from flask_migrate import upgrade as alembic_upgrade

    install_migrations(app)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
                try:
                    alembic_upgrade(directory=migrations_dir(), revision=revision)
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                    conn.commit()
        else:
            alembic_upgrade(directory=migrations_dir(), revision=revision)


def checkpoint_wal(app: Flask) -> None:
    """On a clean stop: copy SQLite's write-ahead log into the database file
    and truncate it, so the file alone is the whole database (a copy made
    while the server is stopped is complete) and the next start replays
    nothing. Nothing to do on PostgreSQL."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "sqlite":
            return
        db.session.remove()
        try:
            with engine.connect() as conn:
                busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if busy:
                log.warning("the SQLite write-ahead log could not be checkpointed: "
                            "another process is using the database")
        except Exception as exc:  # a stop goes on whatever happens here
            log.warning("the SQLite write-ahead log could not be checkpointed: %s", exc)
        finally:
            engine.dispose()
