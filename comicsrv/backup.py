"""Backups of the database and the configuration, and restoring them.

A backup is one zip file in ``BACKUP_DIR`` (``<data dir>/backups``), named
``comicsrv-backup-<UTC time>-<kind>.zip`` (kinds: ``scheduled``, ``manual``,
``pre-restore``), readable by its owner only, written under a temporary name
and renamed when complete, so a backup in the list is always a whole one. It
holds:

- ``manifest.json``: the format, the comicsrv version, the schema revision
  (Alembic's), the database kind, the method, the time and the row count of
  every table;
- ``config.yml`` and ``secret_key`` of the data directory, when present (the
  key keeps logins valid across a restore onto a new machine);
- the database, consistent however busy the server is, in one of three forms:
  ``database.sqlite`` (SQLite: the online backup API copies a snapshot
  through SQLite itself, never the live file beside its WAL),
  ``database.pgdump`` (PostgreSQL with ``pg_dump``: its custom format), or
  ``tables/<table>.jsonl`` (PostgreSQL without a working ``pg_dump``: a
  logical export of every table through SQLAlchemy, one JSON row per line, in
  one repeatable-read transaction).

Restoring checks the manifest first: a backup whose schema revision this
comicsrv does not know was made by a newer comicsrv and is refused; an older
one is restored as it was and then migrated to the current schema. A
``pre-restore`` backup of the current database is made first, and put back if
the restore fails half-way. A SQLite snapshot or a logical export restores
into either database (so a backup is also the way from SQLite to
PostgreSQL); a ``pg_dump`` file needs PostgreSQL and ``pg_restore``.

Restoring needs the database to itself. ``comicsrv backup restore FILE``
refuses while ``comicsrv serve`` runs on the same data directory; the API
(``POST /api/v1/system/backups/<name>/restore``) refuses while jobs run,
stops the scheduler and the library watcher, restores, and restarts the
server, so nothing kept in memory outlives the database it came from.

These functions are the service the CLI, the API, the scheduler and the web
UI's System page share; they run inside an app context.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

from flask import Flask, current_app
from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SAWarning
from sqlalchemy.types import Date, DateTime, LargeBinary

from . import __version__, services
from .errors import BadRequest, Conflict, NotFound, Unavailable
from .extensions import db

log = logging.getLogger(__name__)

FORMAT = "comicsrv-backup"
FORMAT_VERSION = 1
KINDS = ("scheduled", "manual", "pre-restore")
BACKUP_JOB = "system.backup"
BACKUP_SCHEDULE_ID = "schedule:system.backup"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PGDUMP_MEMBER = "database.pgdump"
TABLES_PREFIX = "tables/"
CONFIG_FILES = ("config.yml", "secret_key")
_NAME = re.compile(r"comicsrv-backup-(\d{8}T\d{6}Z)-(scheduled|manual|pre-restore)(?:-(\d+))?\.zip")
_ROWS_PER_INSERT = 1000
# Schema bookkeeping, created by the migrations themselves.
_ALEMBIC_TABLE = "alembic_version"


class BackupError(Unavailable):
    """A backup or restore could not be done (a tool failed, a disk is full)."""

    code = "backup_failed"


@dataclass(frozen=True)
class BackupInfo:
    """One backup file, as listed."""

    name: str
    path: Path
    size: int
    created_at: datetime
    kind: str
    comicsrv_version: str | None
    schema_revision: str | None
    database: str | None
    method: str | None
    tables: dict[str, int] | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size,
                "created_at": self.created_at.replace(tzinfo=None),
                "kind": self.kind, "comicsrv_version": self.comicsrv_version,
                "schema_revision": self.schema_revision, "database": self.database,
                "method": self.method,
                "books": (self.tables or {}).get("books"),
                "users": (self.tables or {}).get("users")}


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did."""

    restored: str
    from_revision: str
    to_revision: str
    method: str
    safety_backup: str | None
    config_files: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"restored": self.restored, "from_revision": self.from_revision,
                "to_revision": self.to_revision, "method": self.method,
                "safety_backup": self.safety_backup, "config_files": self.config_files}


# -- where backups are -----------------------------------------------------------

def backup_dir() -> Path:
    """``BACKUP_DIR``, created (owner only) when missing."""
    folder = Path(current_app.config["BACKUP_DIR"])
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {folder}: "
                          f"{exc.strerror or exc}") from None
    return folder


def list_backups() -> list[BackupInfo]:
    """Every backup in ``BACKUP_DIR``, newest first. Files that are not
    backups (or not whole ones) are left out."""
    folder = Path(current_app.config["BACKUP_DIR"])
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if _NAME.fullmatch(path.name) and path.is_file():
            try:
                found.append(_info(path))
            except BadRequest:
                continue
    return sorted(found, key=_order, reverse=True)


def _order(info: BackupInfo) -> tuple[datetime, int]:
    """By time, then by the number a second backup of the same second got."""
    match = _NAME.fullmatch(info.name)
    return info.created_at, int(match.group(3) or 1) if match else 0


def find_backup(name: str) -> BackupInfo:
    """The backup called ``name`` in ``BACKUP_DIR`` (``NotFound`` otherwise;
    a name with a folder in it is never looked up)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise NotFound(f"No backup named {name!r}", code="backup_not_found")
    path = Path(current_app.config["BACKUP_DIR"]) / name
    if not path.is_file():
        raise NotFound(f"No backup named {name!r}", code="backup_not_found")
    return _info(path)


def delete_backup(name: str) -> None:
    """Delete one backup by name."""
    info = find_backup(name)
    info.path.unlink()
    log.info("backup %s deleted", name)


def prune_backups(keep: int) -> list[str]:
    """Delete the oldest scheduled backups beyond the newest ``keep``; manual
    and pre-restore backups stay until deleted by hand. Returns the names
    deleted."""
    scheduled = [info for info in list_backups() if info.kind == "scheduled"]
    deleted = []
    for info in scheduled[max(0, keep):]:
        try:
            info.path.unlink()
            deleted.append(info.name)
        except FileNotFoundError:
            pass
    if deleted:
        log.info("deleted %d old scheduled backup(s): %s", len(deleted), ", ".join(deleted))
    return deleted


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a backup file; ``BadRequest`` when the file is not a
    comicsrv backup this version can read."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BadRequest(f"{path.name} is not a comicsrv backup ({exc})",
                         code="not_a_backup") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadRequest(f"{path.name} is not a comicsrv backup", code="not_a_backup")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise Conflict(f"{path.name} was made by a newer comicsrv "
                       f"({manifest.get('comicsrv_version')}); upgrade comicsrv to restore it",
                       code="backup_too_new")
    return manifest


def _info(path: Path) -> BackupInfo:
    manifest = read_manifest(path)
    match = _NAME.fullmatch(path.name)
    stamp = match.group(1) if match else None
    created = (datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") if stamp else
               datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None))
    return BackupInfo(name=path.name, path=path, size=path.stat().st_size, created_at=created,
                      kind=manifest.get("kind") or (match.group(2) if match else "manual"),
                      comicsrv_version=manifest.get("comicsrv_version"),
                      schema_revision=manifest.get("schema_revision"),
                      database=manifest.get("database"), method=manifest.get("method"),
                      tables=manifest.get("tables"))


# -- making a backup -------------------------------------------------------------

def create_backup(kind: str = "manual", *, logical: bool = False) -> BackupInfo:
    """Back up the database and the configuration now; returns the new backup.

    ``logical`` makes a PostgreSQL backup through SQLAlchemy even when
    ``pg_dump`` is there (tests; a ``pg_dump`` older than the server falls
    back to it by itself).
    """
    from .jobs.pool import run_cpu

    if kind not in KINDS:
        raise BadRequest(f"A backup's kind is one of {', '.join(KINDS)}, not {kind!r}")
    folder = backup_dir()
    now = datetime.now(timezone.utc)
    target = _free_name(folder, f"comicsrv-backup-{now:%Y%m%dT%H%M%SZ}-{kind}")
    partial = target.with_name(target.name + ".partial")
    engine = db.engine
    manifest: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "comicsrv_version": __version__,
        "kind": kind, "created_at": now.isoformat().replace("+00:00", "Z"),
        "database": engine.dialect.name}
    db.session.remove()  # nothing of this session's holds a snapshot open
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            if engine.dialect.name == "sqlite":
                manifest["method"] = "sqlite"
                run_cpu(_add_sqlite_snapshot, archive, _sqlite_path(engine), folder)
            elif not logical and _pg_dump(archive, engine, folder):
                manifest["method"] = "pg_dump"
            else:
                manifest["method"] = "logical"
                _add_logical_export(archive, engine)
            with engine.connect() as conn:
                manifest["schema_revision"] = _revision(conn)
                manifest["tables"] = _row_counts(conn)
            data_dir = Path(current_app.config["DATA_DIR"])
            manifest["config_files"] = []
            for name in CONFIG_FILES:
                if (data_dir / name).is_file():
                    archive.write(data_dir / name, f"config/{name}")
                    manifest["config_files"].append(name)
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
        os.replace(partial, target)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise BackupError(f"the backup could not be written to {folder}: "
                              f"{exc.strerror or exc}") from None
        raise
    info = _info(target)
    log.info("backup %s made (%s, %s, %.1f MB, %s books)", info.name, manifest["database"],
             manifest["method"], info.size / 1e6, (info.tables or {}).get("books", 0))
    return info


def _free_name(folder: Path, stem: str) -> Path:
    candidate, number = folder / f"{stem}.zip", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}-{number}.zip"
    return candidate


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _add_sqlite_snapshot(archive: zipfile.ZipFile, live: Path, folder: Path) -> None:
    """A consistent copy through SQLite's online backup API (readers never
    block the server's writers under WAL), then into the zip."""
    with tempfile.TemporaryDirectory(dir=folder, prefix=".snapshot-") as scratch:
        copy = Path(scratch) / SQLITE_MEMBER
        source = sqlite3.connect(f"file:{live}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
            # A plain rollback-journal file: self-contained, no -wal beside it.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
            source.close()
        archive.write(copy, SQLITE_MEMBER)


def _pg_tool(name: str) -> str | None:
    """``pg_dump``/``pg_restore`` on PATH, else the newest one Debian installed."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return str(candidates[-1]) if candidates else None


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment carrying it
    (never on a command line, where ``ps`` shows it)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_dump(archive: zipfile.ZipFile, engine: Engine, folder: Path) -> bool:
    """``pg_dump`` into the zip; False (and a warning) when it is missing or
    fails, e.g. older than the server: the caller exports logically."""
    tool = _pg_tool("pg_dump")
    if tool is None:
        log.info("pg_dump not found: backing up through SQLAlchemy")
        return False
    url, env = _libpq(engine)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".dump-") as scratch:
        out = Path(scratch) / PGDUMP_MEMBER
        result = subprocess.run(
            [tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={out}",
             f"--dbname={url}"], env=env, capture_output=True, text=True, timeout=3600)
        if result.returncode != 0:
            log.warning("pg_dump failed (%s); backing up through SQLAlchemy instead",
                        " ".join(result.stderr.split())[:500])
            return False
        archive.write(out, PGDUMP_MEMBER)
    return True


def _revision(conn: Connection) -> str:
    return conn.execute(text(f"SELECT version_num FROM {_ALEMBIC_TABLE}")).scalar_one()


def _reflect(conn: Connection) -> MetaData:
    """The tables as the database has them. Expression indexes cannot be
    reflected and are not needed: rows are copied, the schema comes from
    the migrations (or from the snapshot itself)."""
    metadata = MetaData()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index",
                                category=SAWarning)
        metadata.reflect(bind=conn)
    return metadata


def _row_counts(conn: Connection) -> dict[str, int]:
    metadata = _reflect(conn)
    return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables}


def _encode(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _add_logical_export(archive: zipfile.ZipFile, engine: Engine) -> None:
    """Every table, one JSON row per line, all read in one snapshot."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        for table in _reflect(conn).sorted_tables:
            names = [column.name for column in table.columns]
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execution_options(yield_per=2000).execute(
                select(table).order_by(*order))
            with archive.open(f"{TABLES_PREFIX}{table.name}.jsonl", "w") as out:
                for row in rows:
                    line = json.dumps([_encode(value) for value in row], ensure_ascii=False)
                    out.write(line.encode("utf-8") + b"\n")
            archive.writestr(f"{TABLES_PREFIX}{table.name}.columns.json", json.dumps(names))


# -- restoring -------------------------------------------------------------------

def restore_backup(path: Path | str, *, safety_backup: bool = True) -> RestoreResult:
    """Restore the database (and ``config.yml``, ``secret_key``) from the
    backup file at ``path`` into this app's database, then migrate it to the
    current schema. The caller makes sure nothing else uses the database.

    A ``pre-restore`` backup of the current database is made first (unless
    ``safety_backup`` is off) and restored again if this restore fails.
    """
    path = Path(path)
    manifest = read_manifest(path)
    revision = manifest.get("schema_revision")
    _check_revision(revision, path.name)
    engine = db.engine
    method = manifest.get("method")
    if method == "pg_dump" and engine.dialect.name != "postgresql":
        raise BadRequest(f"{path.name} is a pg_dump of PostgreSQL; it restores only into "
                         "PostgreSQL (set DATABASE_URL)", code="wrong_database")
    if method not in ("sqlite", "pg_dump", "logical"):
        raise BadRequest(f"{path.name}: unknown backup method {method!r}", code="not_a_backup")
    safety = None
    if safety_backup:
        try:
            safety = create_backup("pre-restore")
        except Exception as exc:  # a damaged database is why one restores
            db.session.rollback()
            log.warning("the current database could not be backed up first (%s); "
                        "restoring without a safety copy", " ".join(str(exc).split())[:300])
    try:
        _restore_database(path, method, revision, engine)
    except Exception as exc:
        if safety is None:
            raise
        log.error("restoring %s failed (%s); putting back %s", path.name, exc, safety.name)
        _restore_database(safety.path, safety.method, safety.schema_revision, engine)
        _migrate_to_head()
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"restoring {path.name} failed ({exc}); the database is as it "
                          f"was before (from {safety.name})") from exc
    restored_files = _restore_config_files(path, manifest)
    head = _migrate_to_head()
    log.info("restored %s (schema %s, now %s; %s)", path.name, revision, head, method)
    return RestoreResult(restored=path.name, from_revision=revision, to_revision=head,
                         method=method, safety_backup=safety.name if safety else None,
                         config_files=restored_files)


def _check_revision(revision: Any, name: str) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from .database import migrations_dir

    if not isinstance(revision, str) or not revision:
        raise BadRequest(f"{name} names no schema revision", code="not_a_backup")
    try:
        known = ScriptDirectory(migrations_dir()).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise Conflict(f"{name} has schema {revision!r}, which this comicsrv ({__version__}) "
                       "does not know: it was made by a newer comicsrv; upgrade comicsrv, "
                       "then restore it", code="backup_too_new")


def _migrate_to_head() -> str:
    from .database import upgrade

    app = current_app._get_current_object()
    db.session.remove()
    upgrade(app)
    with db.engine.connect() as conn:
        return _revision(conn)


def _restore_database(path: Path, method: str, revision: str, engine: Engine) -> None:
    from .jobs.pool import run_cpu

    db.session.remove()
    engine.dispose()  # no pooled connection of ours holds a lock or a snapshot
    with tempfile.TemporaryDirectory(dir=backup_dir(), prefix=".restore-") as scratch:
        with zipfile.ZipFile(path) as archive:
            if method == "sqlite":
                snapshot = Path(archive.extract(SQLITE_MEMBER, scratch))
                if engine.dialect.name == "sqlite":
                    run_cpu(_sqlite_into_sqlite, snapshot, _sqlite_path(engine))
                else:
                    source = create_engine(f"sqlite:///{snapshot}")
                    try:
                        with source.connect() as conn:
                            metadata = _reflect(conn)
                            _load_rows(engine, revision, {
                                table.name: ([c.name for c in table.columns],
                                             _rows_of(conn, table))
                                for table in metadata.sorted_tables})
                    finally:
                        source.dispose()
            elif method == "pg_dump":
                dump = Path(archive.extract(PGDUMP_MEMBER, scratch))
                _pg_restore(dump, engine)
            else:
                _load_rows(engine, revision, _tables_of(archive))
    engine.dispose()


def _rows_of(conn: Connection, table) -> Iterator[list]:
    for row in conn.execute(select(table)):
        yield [_encode(value) for value in row]


def _tables_of(archive: zipfile.ZipFile) -> dict[str, tuple[list[str], Iterable[list]]]:
    tables = {}
    for member in archive.namelist():
        if member.startswith(TABLES_PREFIX) and member.endswith(".jsonl"):
            name = member[len(TABLES_PREFIX):-len(".jsonl")]
            columns = json.loads(archive.read(f"{TABLES_PREFIX}{name}.columns.json"))
            tables[name] = (columns, _lines(archive, member))
    return tables


def _lines(archive: zipfile.ZipFile, member: str) -> Iterator[list]:
    with archive.open(member) as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _sqlite_into_sqlite(snapshot: Path, live: Path) -> None:
    """Copy the snapshot over the live database through SQLite's backup API:
    one write transaction, so another connection sees the old database or
    the new one, never a mixture, and no file is swapped under it."""
    if live.exists():
        try:
            with sqlite3.connect(live, timeout=30) as probe:
                probe.execute("PRAGMA schema_version").fetchone()
            probe.close()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            # Damaged beyond SQLite's reading: kept aside, restored into a new file.
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            for suffix in ("", "-wal", "-shm"):
                damaged = live.with_name(live.name + suffix)
                if damaged.exists():
                    os.replace(damaged, damaged.with_name(f"{damaged.name}.damaged-{stamp}"))
            log.warning("%s was damaged (%s); kept as %s.damaged-%s", live, exc, live.name, stamp)
    source = sqlite3.connect(snapshot)
    target = sqlite3.connect(live, timeout=30)
    try:
        source.backup(target)
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        target.close()
        source.close()


def _drop_everything(engine: Engine) -> None:
    """Drop every table of the database (ours, and the schema bookkeeping)."""
    with engine.begin() as conn:
        metadata = _reflect(conn)
        if engine.dialect.name == "postgresql":
            for table in metadata.tables.values():
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in reversed(metadata.sorted_tables):
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))


def _pg_restore(dump: Path, engine: Engine) -> None:
    tool = _pg_tool("pg_restore")
    if tool is None:
        raise BackupError("restoring a pg_dump backup needs pg_restore (the PostgreSQL "
                          "client tools); install them")
    _drop_everything(engine)
    url, env = _libpq(engine)
    result = subprocess.run(
        [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         f"--dbname={url}", str(dump)], env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise BackupError("pg_restore failed: " + " ".join(result.stderr.split())[:1000])


def _decoder(column) -> Any:
    kind = column.type
    if isinstance(kind, DateTime):
        return lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(kind, Date):
        return lambda v: date.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(kind, LargeBinary):
        return lambda v: base64.b64decode(v) if isinstance(v, str) else v
    return None


def _load_rows(engine: Engine, revision: str,
               tables: dict[str, tuple[list[str], Iterable[list]]]) -> None:
    """Empty the database, build the schema of ``revision`` with the
    migrations, and insert the rows (in foreign-key order, keys checked)."""
    from .database import upgrade

    _drop_everything(engine)
    upgrade(current_app._get_current_object(), revision)
    db.session.remove()
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # Rows arrive table by table; a row may name a later one of its own table.
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        metadata = _reflect(conn)
        # Rows a migration seeds (LANraragi's default "Favorites" category)
        # give way to the backup's: its tables come back exactly as saved.
        for table in reversed(metadata.sorted_tables):
            if table.name != _ALEMBIC_TABLE and table.name in tables:
                conn.execute(table.delete())
        for table in metadata.sorted_tables:
            if table.name == _ALEMBIC_TABLE or table.name not in tables:
                continue
            names, rows = tables[table.name]
            columns = [table.columns[name] if name in table.columns else None for name in names]
            decoders = [(_decoder(column) if column is not None else None) for column in columns]
            batch: list[dict] = []
            for row in rows:
                values = {}
                for column, decode, value in zip(columns, decoders, row):
                    if column is None:
                        continue
                    values[column.name] = decode(value) if decode and value is not None else value
                batch.append(values)
                if len(batch) >= _ROWS_PER_INSERT:
                    conn.execute(table.insert(), batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn, metadata)


def _reset_sequences(conn: Connection, metadata: MetaData) -> None:
    """After rows were inserted with their ids, each id sequence continues
    after the largest (else the next insert would collide)."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": table.name, "c": column.name}).scalar()
            if sequence:
                conn.execute(text(
                    f'SELECT setval(:s, coalesce(max("{column.name}"), 1), '
                    f'max("{column.name}") IS NOT NULL) FROM "{table.name}"'), {"s": sequence})


def _restore_config_files(path: Path, manifest: dict[str, Any]) -> list[str]:
    """Put back ``config.yml`` and ``secret_key``; a current file that differs
    is kept as ``<name>.before-restore``."""
    data_dir = Path(current_app.config["DATA_DIR"])
    restored = []
    with zipfile.ZipFile(path) as archive:
        for name in manifest.get("config_files") or []:
            if name not in CONFIG_FILES:
                continue
            content = archive.read(f"config/{name}")
            current = data_dir / name
            if current.is_file():
                if current.read_bytes() == content:
                    continue
                os.replace(current, data_dir / f"{name}.before-restore")
            fd = os.open(current, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            restored.append(name)
    return restored


# -- the schedule ----------------------------------------------------------------

def backup_job(ctx) -> dict[str, Any]:
    """The scheduled job: a backup, then the oldest scheduled ones beyond
    ``backup.keep`` deleted."""
    from .settings_store import get_setting

    info = create_backup("scheduled")
    deleted = prune_backups(get_setting("backup.keep"))
    ctx.outcome = (f"backup {info.name} ({info.size / 1e6:.1f} MB)"
                   + (f", {len(deleted)} old one(s) deleted" if deleted else ""))
    return {"backup": info.name, "size": info.size, "deleted": len(deleted)}


def previous_fire_time(expression: str, now: datetime) -> datetime | None:
    """The last time before ``now`` (naive UTC) the crontab ``expression`` fired."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(expression, timezone="UTC")
    moment = (now - timedelta(days=8)).replace(tzinfo=timezone.utc)
    last = None
    for _ in range(20000):
        fire = trigger.get_next_fire_time(last, moment)
        if fire is None or fire > now.replace(tzinfo=timezone.utc):
            break
        last, moment = fire, fire + timedelta(seconds=1)
    return last.replace(tzinfo=None) if last else None


_SCHEDULE_SAID = "comicsrv.backup_schedule_said"


def schedule_backups(app: Flask, *, on_start: bool = False) -> str | None:
    """(Re)install the backup schedule from ``backup.schedule`` (a crontab
    expression, UTC; empty: no scheduled backups). On start, a backup whose
    time passed while the server was off (a NAS asleep at night) is made
    now, if there was something to back up at that time. Returns the
    expression."""
    from .models import Library, User
    from .settings_store import get_setting

    scheduler = services.scheduler(app)
    runner = services.jobs(app)
    with app.app_context():
        expression = get_setting("backup.schedule") or None
        keep = get_setting("backup.keep")
        # Said once per change: a start installs the schedule, then catches up.
        if app.extensions.get(_SCHEDULE_SAID) != (expression, keep):
            app.extensions[_SCHEDULE_SAID] = (expression, keep)
            if expression is None:
                log.info("scheduled backups: off")
            else:
                log.info("scheduled backups: %s (UTC), keeping %d", expression, keep)
        scheduler.remove(BACKUP_SCHEDULE_ID)
        if expression is None:
            return None
        scheduler.cron(BACKUP_SCHEDULE_ID, expression, BACKUP_JOB, target=BACKUP_JOB)
        if on_start:
            due = previous_fire_time(expression, datetime.now(timezone.utc).replace(tzinfo=None))
            # Only what existed when the backup was due: a new install waits
            # for its first scheduled time.
            oldest = min((moment for moment in (
                db.session.execute(select(func.min(User.created_at))).scalar(),
                db.session.execute(select(func.min(Library.created_at))).scalar())
                if moment is not None), default=None)
            newest = next((b.created_at for b in list_backups() if b.kind == "scheduled"), None)
            if due and oldest is not None and oldest < due and (newest is None or newest < due) \
                    and runner.active_job(BACKUP_JOB, BACKUP_JOB) is None:
                log.info("the backup due at %s was missed; making it now", due)
                runner.submit(BACKUP_JOB, target=BACKUP_JOB)
    return expression
