"""Shared by the legacy /api tests of the watchlist: Metron answered by a
real HTTP server on 127.0.0.1 replaying recorded bodies (see
tests/fixtures/SOURCES.md), and an app configured to use it.

Recorded: series 1 (Death of the Inhumans, 2 issues) with its issue list and
the "death" search; arc 2 with arc 177's issue list (seven Batman (2011)
issues). Series 763 (Batman 2011) was not recorded: its detail is built from
the recorded "batman" search result and its issues are the arc's seven.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from comicsrv.settings_store import set_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.metadata_support import RateLimiter
from comicsrv_plugins.metron import Metron
from tests.factories import api_key_for

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "metadata" / "metron"
SERIES_1 = json.loads((FIXTURES / "series_1.json").read_text())
ISSUES_1 = json.loads((FIXTURES / "series_1_issue_list.json").read_text())
ARC_ISSUES = json.loads((FIXTURES / "arc_177_issue_list.json").read_text())
BATMAN_2011 = {"id": 763, "name": "Batman", "sort_name": "Batman", "volume": 2,
               "year_began": 2011, "issue_count": 57, "publisher": {"id": 2, "name": "DC Comics"}}


@pytest.fixture
def metron():
    with ReplayServer() as server:
        server.add("GET", "/api/series/", Recorded.file(FIXTURES / "series_name_death.json",
                                                         "application/json"))
        server.add("GET", "/api/series/", Recorded.file(FIXTURES / "series_name_batman.json",
                                                         "application/json"),
                   query={"name": "Batman"})
        server.add("GET", "/api/series/1/", Recorded.json(SERIES_1))
        server.add("GET", "/api/series/1/issue_list/", Recorded.json(ISSUES_1))
        server.add("GET", "/api/arc/2/", Recorded.file(FIXTURES / "arc_2.json", "application/json"))
        server.add("GET", "/api/arc/2/issue_list/", Recorded.json(ARC_ISSUES))
        server.add("GET", "/api/series/763/", Recorded.json(BATMAN_2011))
        server.add("GET", "/api/series/763/issue_list/", Recorded.json(ARC_ISSUES))
        yield server


@pytest.fixture
def app(make_app, metron, monkeypatch):
    # A fresh quota per test: the class-wide limiter would carry requests over.
    monkeypatch.setattr(Metron, "limiter", RateLimiter("Metron", [(1000, 60.0)]))
    app = make_app(METADATA_URLS={"metron": metron.url + "/api"})
    with app.app_context():
        set_setting("metadata.default_provider", "metron", None)
        set_setting("metadata.metron_username", "reader", None)
        set_setting("metadata.metron_password", "s3cret", None)
        yield app


@pytest.fixture
def headers(admin):
    return {"X-Api-Key": api_key_for(admin, ["SystemAdmin"])}


@pytest.fixture
def read_headers(admin):
    """A second admin key for the reads. The watchlist is the admin's *arr
    state: a key without SystemAdmin (SeriesRead is every user's) gets 403."""
    return {"X-Api-Key": api_key_for(admin, ["SystemAdmin"])}


def add_inhumans(client, headers) -> dict:
    # As seed 000's curl example sends it: a JSON number.
    response = client.post("/api/series", json={"comic_id": 1}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]
