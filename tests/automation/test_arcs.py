"""Story arcs against the real database, with Metron answered by a real HTTP
server on 127.0.0.1 replaying recorded bodies.

Recorded: arc 2's detail and arc 177's issue list (seven Batman (2011)
issues), served together as arc 2; the "batman" series search, which names
Batman (2011) as series 763. Series 763 itself was not recorded: its detail
is built from that search result, and its issue list is the same seven
recorded issues.
"""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from comicsrv.automation import arcs
from comicsrv.errors import Conflict, NotFound
from comicsrv.extensions import db
from comicsrv.models.automation import (
    DOWNLOADED, SKIPPED, WANTED, StoryArc, WatchedIssue, WatchedSeries,
)
from comicsrv.settings_store import set_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.metadata_support import RateLimiter
from comicsrv_plugins.metron import Metron
from tests.factories import WatchedIssueFactory, WatchedSeriesFactory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metadata" / "metron"
ARC_ISSUES = json.loads((FIXTURES / "arc_177_issue_list.json").read_text())
ISSUE_IDS = [str(i["id"]) for i in ARC_ISSUES["results"]]  # 6798 .. 6804
BATMAN_2011 = {"id": 763, "name": "Batman", "sort_name": "Batman", "volume": 2,
               "year_began": 2011, "issue_count": 57, "publisher": {"id": 2, "name": "DC Comics"}}


def first(n: int) -> dict:
    body = copy.deepcopy(ARC_ISSUES)
    body["results"] = body["results"][:n]
    body["count"] = n
    return body


@pytest.fixture
def metron():
    with ReplayServer() as server:
        server.add("GET", "/api/arc/2/", Recorded.file(FIXTURES / "arc_2.json", "application/json"))
        server.add("GET", "/api/arc/2/issue_list/", Recorded.json(ARC_ISSUES))
        server.add("GET", "/api/series/", Recorded.file(FIXTURES / "series_name_batman.json",
                                                         "application/json"))
        server.add("GET", "/api/series/763/", Recorded.json(BATMAN_2011))
        server.add("GET", "/api/series/763/issue_list/", Recorded.json(ARC_ISSUES))
        yield server


@pytest.fixture
def app(make_app, metron, monkeypatch):
    monkeypatch.setattr(Metron, "limiter", RateLimiter("Metron", [(30, 60.0)]))
    app = make_app(METADATA_URLS={"metron": metron.url + "/api"})
    with app.app_context():
        set_setting("metadata.metron_username", "reader", None)
        set_setting("metadata.metron_password", "s3cret", None)
        yield app


def watched_batman(**states):
    series = WatchedSeriesFactory(provider="metron", provider_id="763", name="Batman", year=2011)
    return series, {pid: WatchedIssueFactory(series=series, provider_id=pid,
                                             number=str(ISSUE_IDS.index(pid) + 1), state=state)
                    for pid, state in states.items()}


def test_add_arc_stores_reading_order_and_links_watched_issues(app):
    _, issues = watched_batman(**{"6798": DOWNLOADED})
    arc = arcs.add_arc("metron", "2")
    assert (arc.provider, arc.provider_id, arc.name) == ("metron", "2", "The Witching Hour")
    assert [(e.position, e.provider_issue_id, e.number) for e in arc.entries] == [
        (n + 1, pid, str(n + 1)) for n, pid in enumerate(ISSUE_IDS)]
    entry = arc.entries[0]
    assert (entry.series_name, entry.provider_series_id, entry.cover_date) == (
        "Batman", "763", "2011-11-01")
    assert entry.watched_issue_id == issues["6798"].id
    assert all(e.watched_issue_id is None for e in arc.entries[1:])
    with pytest.raises(Conflict):
        arcs.add_arc("metron", "2")
    with pytest.raises(NotFound):
        arcs.add_arc("metron", "3")


def test_refresh_arc_follows_the_providers_new_order(app, metron):
    arc = arcs.add_arc("metron", "2")
    reordered = first(3)
    reordered["results"].reverse()
    metron.add("GET", "/api/arc/2/issue_list/", Recorded.json(reordered))
    # As when the cached answer has expired.
    shutil.rmtree(Path(app.config["CACHE_DIR"]) / "integrations", ignore_errors=True)
    outcome = arcs.refresh_arc(arc.id)
    assert outcome["removed"] == 4 and outcome["added"] == 0 and outcome["entries"] == 3
    db.session.expire_all()
    arc = db.session.get(StoryArc, arc.id)
    assert [e.provider_issue_id for e in arc.entries] == ["6800", "6799", "6798"]
    with pytest.raises(NotFound):
        arcs.refresh_arc(9999)


def test_want_all_wants_watched_issues_without_downgrading(app):
    _, issues = watched_batman(**{"6798": DOWNLOADED, "6799": SKIPPED, "6800": "ignored"})
    arc = arcs.add_arc("metron", "2")
    outcome = arcs.want_all(arc.id)
    db.session.expire_all()
    states = {i.provider_id: i.state for i in db.session.scalars(db.select(WatchedIssue))}
    assert states["6798"] == DOWNLOADED
    assert states["6799"] == states["6800"] == WANTED
    # The other four were not in the watched series yet: a refresh added them,
    # and the arc wants them.
    assert all(states[pid] == WANTED for pid in ISSUE_IDS[3:])
    assert outcome["added_series"] == [] and outcome["unresolved_positions"] == []


def test_want_all_adds_an_unwatched_series_wanting_only_the_arcs_issues(app, metron):
    metron.add("GET", "/api/arc/2/issue_list/", Recorded.json(first(3)))
    arc = arcs.add_arc("metron", "2")
    with app.extensions["comicsrv.events"].subscribe(["issue_wanted"]) as sub:
        outcome = arcs.want_all(arc.id)
        announced = []
        while (event := sub.get(timeout=0)) is not None:
            announced.append(event.number)
    [added] = outcome["added_series"]
    watched = db.session.get(WatchedSeries, added)
    assert (watched.provider_id, watched.name, watched.monitor_new) == ("763", "Batman", False)
    states = {i.provider_id: i.state for i in watched.issues}
    assert {pid for pid, s in states.items() if s == WANTED} == set(ISSUE_IDS[:3])
    assert {pid for pid, s in states.items() if s == SKIPPED} == set(ISSUE_IDS[3:])
    assert sorted(announced) == ["1", "2", "3"]
    assert outcome["wanted"] == 3
    db.session.expire_all()
    assert all(e.watched_issue_id for e in db.session.get(StoryArc, arc.id).entries)


def test_want_all_reports_entries_without_a_series(app, metron):
    arc = arcs.add_arc("metron", "2")
    arc.entries[0].provider_series_id = None
    arc.entries[0].watched_issue_id = None
    db.session.commit()
    metron.clear()  # the provider is gone: only the unresolvable entry is left to add
    for entry in arc.entries[1:]:
        db.session.delete(entry)
    db.session.commit()
    assert arcs.want_all(arc.id)["unresolved_positions"] == [1]
