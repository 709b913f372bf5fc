"""Helpers for the LANraragi archive API tests: keys the way LANraragi
clients send them, public reading, and archive ids of the fixture library."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from comicsrv.auth.permissions import USER_PERMISSIONS
from comicsrv.extensions import db
from comicsrv.models import Book
from tests.factories import SettingFactory, api_key_for


def bearer(key: str) -> dict[str, str]:
    """``Authorization: Bearer <base64(key)>``, as LANraragi clients send it."""
    return {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}


@pytest.fixture
def admin_key(admin) -> str:
    return api_key_for(admin, ["SystemAdmin"])


@pytest.fixture
def lrr_admin(admin_key) -> dict[str, str]:
    return bearer(admin_key)


@pytest.fixture
def lrr_reader(reader) -> dict[str, str]:
    """A plain user's key (no LibrariesWrite, no BooksDelete)."""
    return bearer(api_key_for(reader, sorted(USER_PERMISSIONS)))


@pytest.fixture
def public_reading(app):
    return SettingFactory(key="library.public_reading", value=True)


def book_named(filename: str) -> Book:
    return db.session.execute(select(Book).where(Book.filename == filename)).scalar_one()


@pytest.fixture
def captain(scanned_library) -> Book:
    """Captain Science #001.cbz: ComicInfo with credits, characters, a web link."""
    return book_named("Captain Science #001.cbz")


def drain_jobs(app) -> None:
    """Wait for every queued or running job: one still running when the
    tables are emptied would deadlock PostgreSQL's TRUNCATE."""
    from comicsrv.models import Job
    from comicsrv.models.jobs import ACTIVE_STATES

    runner = app.extensions["comicsrv.jobs"]
    db.session.rollback()
    for job_id in db.session.execute(select(Job.id).where(Job.state.in_(ACTIVE_STATES))).scalars():
        runner.wait(job_id, timeout=60)
    db.session.rollback()
