"""/api/storyarcs through the real arcs service, Metron replayed (arc 2:
seven Batman (2011) issues)."""
from __future__ import annotations

from comicsrv.extensions import db
from comicsrv.models.automation import (
    DOWNLOADED, SKIPPED, WANTED, StoryArc, StoryArcIssue, WatchedIssue, WatchedSeries,
)
from tests.api.legacy.metron_replay import (  # noqa: F401
    ARC_ISSUES, app, headers, metron, read_headers,
)
from tests.factories import WatchedIssueFactory, WatchedSeriesFactory

ISSUE_IDS = [str(i["id"]) for i in ARC_ISSUES["results"]]


def add_arc(client, headers):
    response = client.post("/api/storyarcs", json={"arc_id": "2"}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]


def test_add_then_list_and_detail_in_reading_order(client, headers, read_headers):
    series = WatchedSeriesFactory(provider="metron", provider_id="763", name="Batman", year=2011)
    WatchedIssueFactory(series=series, provider_id=ISSUE_IDS[0], number="1", state=DOWNLOADED)
    add_arc(client, headers)
    listed = client.get("/api/storyarcs", headers=read_headers).json["data"]
    assert listed["total"] == 1
    row = listed["results"][0]
    assert (row["StoryArcID"], row["StoryArc"], row["Total"], row["Have"]) == (
        "2", "The Witching Hour", 7, 1)
    detail = client.get("/api/storyarcs/2", headers=read_headers).json["data"]
    assert [i["ReadingOrder"] for i in detail["issues"]] == list(range(1, 8))
    assert [i["IssueID"] for i in detail["issues"]] == ISSUE_IDS
    assert detail["issues"][0]["Status"] == "Downloaded"
    assert detail["issues"][1]["Status"] == "Not Watched"
    assert client.post("/api/storyarcs", json={"arc_id": 2}, headers=headers).status_code == 409


def test_want_all_adds_the_series_and_wants_only_the_arcs_issues(client, headers):
    add_arc(client, headers)
    response = client.post("/api/storyarcs/2/want-all", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["data"]["wanted"] == 7, response.json
    assert response.json["data"]["unresolved_positions"] == []
    watched = db.session.scalars(db.select(WatchedSeries)).one()
    assert (watched.provider_id, watched.monitor_new) == ("763", False)
    states = db.session.scalars(db.select(WatchedIssue.state)).all()
    assert states.count(WANTED) == 7 and set(states) <= {WANTED, SKIPPED}


def test_refresh_and_delete(client, headers):
    add_arc(client, headers)
    refreshed = client.post("/api/storyarcs/2/refresh", headers=headers)
    assert refreshed.status_code == 200 and refreshed.json["data"]["entries"] == 7
    deleted = client.delete("/api/storyarcs/2", headers=headers)
    assert deleted.status_code == 200 and deleted.json["success"] is True
    assert db.session.scalars(db.select(StoryArc)).all() == []
    assert db.session.scalars(db.select(StoryArcIssue)).all() == []
    for method, path in (("get", "/api/storyarcs/2"), ("delete", "/api/storyarcs/2"),
                         ("post", "/api/storyarcs/2/want-all"), ("post", "/api/storyarcs/2/refresh")):
        missing = getattr(client, method)(path, headers=headers)
        assert missing.status_code == 404 and missing.json["error"]["code"] == 404
