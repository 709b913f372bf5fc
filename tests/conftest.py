"""Test fixtures shared by the whole suite.

The database is real: SQLite in a temporary folder by default, or the
PostgreSQL server named by ``COMICSRV_TEST_DATABASE_URL`` (``.ci/run`` starts
one on 127.0.0.1 and runs the suite a second time against it). The schema is
made once per session by the Alembic migrations themselves, and every test
leaves the tables empty for the next.
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from comicsrv.app import create_app
from comicsrv.extensions import db

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_ARCHIVES = FIXTURES / "archives"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist each worker gets a database of its own on the same
    PostgreSQL server (``<name>_gw0``, ``<name>_gw1``...), made on first use."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base.set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                              {"name": name}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("COMICSRV_TEST_DATABASE_URL")
    if url:
        url = _database_of_this_worker(url)
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'comicsrv-test.db'}"
    # Build the schema through the migrations, as a real install does.
    create_app({"DATA_DIR": str(tmp_path_factory.mktemp("migrate")), "DATABASE_URL": url,
                "AUTO_MIGRATE": True})
    return url


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on the session database with extra settings."""
    apps = []

    def factory(**settings):
        plugins = settings.pop("PLUGINS", None)
        config = {"DATA_DIR": str(tmp_path / f"data{len(apps)}"), "DATABASE_URL": database_url,
                  "AUTO_MIGRATE": False, "SCHEDULER_ENABLED": False, "TESTING": True}
        config.update(settings)
        app = create_app(config, plugins=plugins)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            _empty_tables()
            db.engine.dispose()


def _empty_tables() -> None:
    db.session.rollback()
    # Only the tables this database has: a test may hold one at an older
    # revision (the backup and migration tests).
    present = set(inspect(db.engine).get_table_names())
    tables = [table for table in db.metadata.sorted_tables if table.name in present]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Real archives in CLU's Publisher/Series layout: readable CBZ/CBR/CB7/PDF
# files with and without ComicInfo, plus two unreadable ones.
COMIC_TREE = {
    "Youthful/Captain Science/Captain Science #001.cbz": "comicbox/Captain Science #001.cbz",
    "Youthful/Captain Science/Captain Science #001 (rar).cbr": "comicbox/Captain Science #001-cbi.cbr",
    "Youthful/Captain Science/v1950/Captain Science #001.cb7": "comicbox/Captain Science #001.cb7",
    "Komga/Tests/rar4.cbr": "komga/rar4.rar",
    "Komga/Tests/rar5-solid.cbr": "komga/rar5-solid.rar",
    "Komga/Tests/komga.pdf": "komga/komga.pdf",
    "Komga/Tests/encrypted.cbz": "komga/zip-encrypted.zip",
    "Komga/Tests/empty.cbz": "kavita/empty.zip",
}


@pytest.fixture
def comic_tree(tmp_path):
    """A small library folder of real fixture archives (see COMIC_TREE)."""
    root = tmp_path / "comics"
    for target, source in COMIC_TREE.items():
        dest = root / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIXTURE_ARCHIVES / source, dest)
    return root


@pytest.fixture
def scanned_library(app, comic_tree):
    """``comic_tree`` added as library "Comics" and scanned by the real job."""
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB

    library = create_library("Comics", str(comic_tree))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    return library


@pytest.fixture
def admin(app):
    from tests.factories import AdminFactory

    return AdminFactory(username="admin")


@pytest.fixture
def admin_headers(admin):
    from tests.factories import api_key_for

    return {"X-API-Key": api_key_for(admin, ["SystemAdmin"])}


@pytest.fixture
def reader(app):
    """A plain, non-admin user."""
    from tests.factories import UserFactory

    return UserFactory(username="reader")


@pytest.fixture
def reader_headers(reader):
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from tests.factories import api_key_for

    return {"X-API-Key": api_key_for(reader, sorted(USER_PERMISSIONS))}
