"""Test fixtures shared by the whole suite.

The database is real: SQLite in a temporary folder by default, or the
PostgreSQL server named by ``COMICSRV_TEST_DATABASE_URL`` (``.ci/run`` starts
one on 127.0.0.1 and runs the suite a second time against it). The schema is
made once per session by the Alembic migrations themselves, and every test
leaves the tables empty for the next.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from comicsrv.app import create_app
from comicsrv.extensions import db

FIXTURES = Path(__file__).parent / "fixtures"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("COMICSRV_TEST_DATABASE_URL")
    if url:
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
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
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
