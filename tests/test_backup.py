"""Backups and restores of the real database (the session's SQLite file or
PostgreSQL server): every table compared after a backup, a wipe and a
restore; older schemas migrated, newer ones refused; the CLI, the API and
the schedule."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, select, text

from comicsrv import backup as backups
from comicsrv.database import migrations_dir, upgrade
from comicsrv.errors import Conflict
from comicsrv.extensions import db
from comicsrv.models import Book, Library, User
from tests.factories import AdminFactory, SettingFactory, UserFactory, api_key_for
from tests.processes import wait_until
from tests.serving import live_server  # noqa: F401


def _everything() -> dict[str, list[tuple]]:
    """Every row of every table, sorted, as the database has them."""
    db.session.remove()
    with db.engine.connect() as conn:
        metadata = backups._reflect(conn)
        return {table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in metadata.sorted_tables}


@pytest.fixture
def rich(app, scanned_library):
    """Rows in most tables: a scanned library, users, keys, a setting, progress."""
    admin = AdminFactory(username="boss")
    api_key_for(admin, ["SystemAdmin"])
    UserFactory(username="someone")
    SettingFactory(key="backup.keep", value=3)
    book = db.session.execute(select(Book).where(Book.state == "ok").limit(1)).scalar()
    from comicsrv.models import ReadingProgress

    db.session.add(ReadingProgress(user_id=admin.id, book_id=book.id, page=2))
    db.session.commit()
    return scanned_library


def _methods(app):
    if db.engine.dialect.name == "postgresql":
        return ["pg_dump", "logical"]
    return ["sqlite"]


@pytest.mark.parametrize("want", ["native", "logical"])
def test_backup_wipe_restore_gives_back_every_table(app, rich, want):
    if want == "logical" and db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite backups are always SQLite snapshots")
    before = _everything()
    assert len(before["books"]) == 8 and before["reading_progress"]
    info = backups.create_backup("manual", logical=want == "logical")
    expected_method = {"sqlite": "sqlite", "postgresql": "pg_dump" if want == "native"
                       else "logical"}[db.engine.dialect.name]
    assert info.method == expected_method and info.tables["books"] == 8
    assert oct(info.path.stat().st_mode & 0o777) == "0o600"

    backups._drop_everything(db.engine)  # the wipe: not a table left
    db.session.remove()
    with db.engine.connect() as conn:
        metadata = MetaData()
        metadata.reflect(bind=conn)
        assert list(metadata.tables) == []

    result = backups.restore_backup(info.path, safety_backup=False)
    assert result.method == expected_method
    assert _everything() == before
    # New rows get fresh ids (the id sequences continue after the restored ones).
    newcomer = UserFactory(username="newcomer")
    assert newcomer.id > max(row[0] for row in before["users"])


def test_restore_replaces_changes_and_keeps_a_safety_copy(app, rich, tmp_path):
    before = _everything()
    info = backups.create_backup("manual")
    UserFactory(username="later")
    db.session.execute(Book.__table__.delete())
    db.session.commit()
    changed = _everything()
    result = backups.restore_backup(info.path)
    assert _everything() == before
    safety = backups.find_backup(result.safety_backup)
    assert safety.kind == "pre-restore"
    backups.restore_backup(safety.path, safety_backup=False)
    assert _everything() == changed


def test_an_older_schema_is_restored_and_migrated(make_app, tmp_path):
    """A SQLite backup made at the previous revision (before libraries were
    watched): restored, then migrated; its rows are all there."""
    old_dir = tmp_path / "old"
    old = make_app(DATA_DIR=str(old_dir), DATABASE_URL=f"sqlite:///{old_dir / 'old.db'}")
    upgrade(old, "op01")
    folder = tmp_path / "comics"
    folder.mkdir()
    with old.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO libraries (name, path, enabled, scan_on_start, "
                              "default_scan_mode, created_at, updated_at) VALUES "
                              "('Old', :p, 1, 1, 'normal', '2026-01-01', '2026-01-01')"),
                         {"p": str(folder)})
            conn.execute(text("INSERT INTO settings (key, value, updated_at) VALUES "
                              "('scanner.scan_on_start', 'false', '2026-01-01')"))
        info = backups.create_backup("manual")
    assert info.schema_revision == "op01"

    new_dir = tmp_path / "new"
    new = make_app(DATA_DIR=str(new_dir), DATABASE_URL=f"sqlite:///{new_dir / 'new.db'}")
    upgrade(new)
    with new.app_context():
        result = backups.restore_backup(info.path, safety_backup=False)
        head = ScriptDirectory(migrations_dir()).get_current_head()
        assert (result.from_revision, result.to_revision) == ("op01", head)
        library = db.session.execute(select(Library)).scalar_one()
        # Migrated: the new column has its default; the old setting moved to the library.
        assert (library.name, library.watch_mode, library.scan_on_start) == ("Old", "auto", False)


def test_a_backup_of_a_newer_schema_is_refused(app, rich, tmp_path):
    info = backups.create_backup("manual")
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(info.path) as source, zipfile.ZipFile(newer, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["schema_revision"] = "zz99"
                data = json.dumps(manifest).encode()
            target.writestr(item, data)
    before = _everything()
    with pytest.raises(Conflict, match="newer comicsrv") as refused:
        backups.restore_backup(newer)
    assert refused.value.code == "backup_too_new"
    assert _everything() == before


def test_not_a_backup_is_refused(app, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK not really")
    with pytest.raises(Exception, match="not a comicsrv backup"):
        backups.restore_backup(junk)


def test_config_files_are_backed_up_and_restored_aside(app, rich):
    data_dir = Path(app.config["DATA_DIR"])
    (data_dir / "config.yml").write_text("log_level: INFO\n")
    info = backups.create_backup("manual")
    (data_dir / "config.yml").write_text("log_level: DEBUG\n")
    result = backups.restore_backup(info.path, safety_backup=False)
    assert result.config_files == ["config.yml"]
    assert (data_dir / "config.yml").read_text() == "log_level: INFO\n"
    assert (data_dir / "config.yml.before-restore").read_text() == "log_level: DEBUG\n"


def test_scheduled_backups_keep_the_newest_and_leave_manual_ones(app, rich, monkeypatch):
    from comicsrv.settings_store import set_setting

    set_setting("backup.keep", 2, None)
    manual = backups.create_backup("manual")
    runner = app.extensions["comicsrv.jobs"]
    made = []
    for _ in range(3):
        job = runner.run_now(backups.BACKUP_JOB, target=backups.BACKUP_JOB)
        assert job.state == "finished", job.error
        made.append(job.result["backup"])
    names = [info.name for info in backups.list_backups()]
    assert sorted(names) == sorted([manual.name, *made[1:]])


def test_the_schedule_follows_the_setting_and_catches_up(app, rich):
    scheduler = app.extensions["comicsrv.scheduler"]
    runner = app.extensions["comicsrv.jobs"]
    db.session.execute(User.__table__.update().values(created_at=datetime(2020, 1, 1)))
    db.session.commit()
    assert backups.schedule_backups(app, on_start=True) == "30 3 * * *"
    ids = {s["id"]: s["trigger"] for s in scheduler.schedules()}
    assert "cron" in ids[backups.BACKUP_SCHEDULE_ID]
    # The 03:30 backup was missed (nothing since 2020): made on start.
    job = runner.active_job(backups.BACKUP_JOB, backups.BACKUP_JOB)
    assert job is not None and runner.wait(job.id, 60)
    from comicsrv.settings_store import set_setting

    set_setting("backup.schedule", "", None)
    assert backups.schedule_backups(app) is None
    assert backups.BACKUP_SCHEDULE_ID not in {s["id"] for s in scheduler.schedules()}
    bad = app.test_client().put("/api/v1/admin/settings/backup.schedule",
                                json={"value": "every day"}, headers={
                                    "X-API-Key": api_key_for(User.query.filter_by(
                                        username="boss").one(), ["SystemAdmin"])})
    assert bad.status_code == 400 and "crontab" in bad.get_data(as_text=True)


def test_previous_fire_time():
    now = datetime(2026, 12, 5, 12, 0)
    assert backups.previous_fire_time("30 3 * * *", now) == datetime(2026, 12, 5, 3, 30)
    assert backups.previous_fire_time("0 4 * * mon", now) == datetime(2026, 11, 30, 4, 0)


# -- the API ---------------------------------------------------------------------

def test_backups_through_the_api(app, client, rich, admin_headers, reader_headers):
    assert client.get("/api/v1/system/backups", headers=reader_headers).status_code == 403
    made = client.post("/api/v1/system/backups", headers=admin_headers)
    assert made.status_code == 201 and made.json["kind"] == "manual"
    assert made.json["books"] == 8
    listed = client.get("/api/v1/system/backups", headers=admin_headers).json
    assert [item["name"] for item in listed["items"]] == [made.json["name"]]
    download = client.get(f"/api/v1/system/backups/{made.json['name']}", headers=admin_headers)
    assert download.status_code == 200 and download.data[:2] == b"PK"
    assert client.get("/api/v1/system/backups/..%2Fsecret_key",
                      headers=admin_headers).status_code == 404
    # Not under `comicsrv serve`: no restore, nothing changed.
    refused = client.post(f"/api/v1/system/backups/{made.json['name']}/restore",
                          headers=admin_headers)
    assert refused.status_code == 409 and refused.json["error"] == "not_serving"
    gone = client.delete(f"/api/v1/system/backups/{made.json['name']}", headers=admin_headers)
    assert gone.status_code == 204
    assert client.get("/api/v1/system/backups", headers=admin_headers).json["total"] == 0


def test_restore_through_the_api_restarts_the_server(app, rich, admin_headers,
                                                     live_server):  # noqa: F811
    before = _everything()
    server = live_server()
    made = server.post("/api/v1/system/backups", headers=admin_headers)
    assert made.status_code == 201, made.text
    UserFactory(username="later")
    db.session.execute(Book.__table__.delete())
    db.session.commit()
    pid = server.process.pid
    restored = server.post(f"/api/v1/system/backups/{made.json()['name']}/restore",
                           headers=admin_headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["restarting"] is True
    assert restored.json()["safety_backup"].endswith("-pre-restore.zip")
    # The same process (re-executed) answers again, on the restored database.
    assert wait_until(lambda: "stopped" in server.output(), 30)
    assert wait_until(lambda: server.output().count("comicsrv listening") == 2, 60)
    assert server.process.pid == pid and server.process.poll() is None
    books = server.get("/api/v1/books", headers=admin_headers, params={"page_size": 100})
    assert books.status_code == 200 and books.json()["total"] == 8
    assert _everything()["users"] == before["users"]


# -- the command line -------------------------------------------------------------

def _cli(data_dir, *args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=120, env=env, input=stdin)


def test_backup_commands_round_trip(tmp_path):
    data = tmp_path / "data"
    assert _cli(data, "user", "create", "alice", "--password", "long-enough").returncode == 0
    made = _cli(data, "backup", "create")
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    assert path.parent == data / "backups" and path.is_file()
    assert _cli(data, "user", "create", "bob", "--password", "long-enough").returncode == 0
    listed = _cli(data, "backup", "list")
    assert listed.stdout.split("\t")[0] == path.name
    refused = _cli(data, "backup", "restore", path.name)  # no terminal, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    restored = _cli(data, "backup", "restore", path.name, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "restored " + path.name in restored.stderr
    users = _cli(data, "user", "list").stdout
    assert "alice" in users and "bob" not in users


def test_restore_refuses_while_the_server_runs(tmp_path, free_port):
    data = tmp_path / "data"
    made = _cli(data, "backup", "create")
    assert made.returncode == 0, made.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
    server = subprocess.Popen([sys.executable, "-m", "comicsrv", "--data-dir", str(data),
                               "serve", "--port", str(free_port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: _cli(data, "healthcheck", env={
            **env, "COMICSRV_PORT": str(free_port)}).returncode == 0, 60)
        refused = _cli(data, "backup", "restore", made.stdout.strip(), "--yes")
        assert refused.returncode == 2
        assert refused.stderr.strip() == ("comicsrv: error: comicsrv serve is running on this "
                                          "data directory: stop it first, or restore through "
                                          "the web UI or the API (which restarts it)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def test_a_damaged_database_is_named_and_restored_from_a_backup(tmp_path):
    data = tmp_path / "data"
    assert _cli(data, "user", "create", "alice", "--password", "long-enough").returncode == 0
    made = _cli(data, "backup", "create")
    (data / "comicsrv.db").write_bytes(b"this is not a database, it is a shopping list" * 100)
    for suffix in ("-wal", "-shm"):
        (data / f"comicsrv.db{suffix}").unlink(missing_ok=True)
    broken = _cli(data, "user", "list")
    assert broken.returncode == 1
    assert broken.stderr.count("\n") == 1 and "Traceback" not in broken.stderr
    assert broken.stderr.startswith(f"comicsrv: error: the database {data / 'comicsrv.db'} is "
                                    "damaged or not a database")
    assert "comicsrv backup restore FILE" in broken.stderr
    restored = _cli(data, "backup", "restore", made.stdout.strip(), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "alice" in _cli(data, "user", "list").stdout
    assert list(data.glob("comicsrv.db.damaged-*"))


def test_a_clean_stop_checkpoints_the_wal(tmp_path, free_port):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
    server = subprocess.Popen([sys.executable, "-m", "comicsrv", "--data-dir", str(data),
                               "serve", "--port", str(free_port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: _cli(data, "healthcheck", env={
            **env, "COMICSRV_PORT": str(free_port)}).returncode == 0, 60)
        # Writes through the server leave pages in the WAL.
        import requests

        setup = requests.post(f"http://127.0.0.1:{free_port}/api/v1/setup/initialize",
                              json={"username": "admin", "password": "long-enough"}, timeout=30)
        assert setup.status_code in (200, 201), setup.text
        assert (data / "comicsrv.db-wal").stat().st_size > 0
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    wal = data / "comicsrv.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, output
    with sqlite3.connect(data / "comicsrv.db") as conn:
        assert conn.execute("SELECT username FROM users").fetchall() == [("admin",)]


@pytest.mark.parametrize("pg_dump", ["missing", "too old"])
def test_without_a_working_pg_dump_postgresql_is_exported_logically(app, rich, tmp_path,
                                                                     monkeypatch, pg_dump, caplog):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("pg_dump is for PostgreSQL")
    if pg_dump == "missing":
        monkeypatch.setattr(backups, "_pg_tool", lambda name: None)
    else:  # as a pg_dump older than the server answers
        fake = tmp_path / "bin" / "pg_dump"
        fake.parent.mkdir()
        fake.write_text("#!/bin/sh\necho 'pg_dump: error: aborting because of server version "
                        "mismatch' >&2\nexit 1\n")
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    before = _everything()
    info = backups.create_backup("manual")
    assert info.method == "logical"
    if pg_dump == "too old":
        assert "server version mismatch" in caplog.text
    backups._drop_everything(db.engine)
    db.session.remove()
    assert backups.restore_backup(info.path, safety_backup=False).method == "logical"
    assert _everything() == before


def test_the_schedule_is_logged_once_per_change(app, rich, caplog):
    """A start installs the schedule and then looks for a missed backup: one
    line in the log, not two; a new setting is a new line."""
    from comicsrv.settings_store import set_setting

    caplog.set_level("INFO", logger="comicsrv.backup")
    app.extensions.pop(backups._SCHEDULE_SAID, None)  # as a new process
    backups.schedule_backups(app)
    backups.schedule_backups(app, on_start=True)
    set_setting("backup.keep", 5, None)
    backups.schedule_backups(app)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scheduled")]
    assert said == ["scheduled backups: 30 3 * * * (UTC), keeping 3",
                    "scheduled backups: 30 3 * * * (UTC), keeping 5"]
