"""``/api/v1/rules``: watched series' matching settings as release rules; a
changed rule changes what the real RSS check accepts (feed over loopback)."""
from __future__ import annotations

import pytest

from comicsrv.extensions import db
from comicsrv.models.automation import (
    FeedItem, IndexerConfig, ReleaseDecision, WatchedIssue, WatchedSeries,
)
from comicsrv.testing.replay import ReplayServer
from tests.api.v1.test_rss import SAGA, serve
from tests.factories import (
    BookFactory, UserFactory, WatchedIssueFactory, WatchedSeriesFactory, api_key_for,
)

URL = "/api/v1/rules"


@pytest.fixture
def series(app):
    return [WatchedSeriesFactory(name=name, sort_name=name.lower()) for name in ("Saga", "Paper Girls")]


def test_list_and_get_in_the_v1_envelope(client, admin_headers, series):
    series[1].status = "paused"
    db.session.commit()
    body = client.get(URL, headers=admin_headers).json
    assert [i["name"] for i in body["items"]] == ["Paper Girls", "Saga"]
    assert (body["total"], body["page"], body["total_pages"], body["has_more"]) == (2, 1, 1, False)
    assert [i["enabled"] for i in body["items"]] == [False, True]
    paused = client.get(URL, query_string={"status": "paused"}, headers=admin_headers).json
    assert [i["name"] for i in paused["items"]] == ["Paper Girls"]
    one = client.get(f"{URL}/{series[0].id}", headers=admin_headers).json
    assert (one["name"], one["issue_offset"], one["aliases"], one["want_annuals"]) == (
        "Saga", 0, None, False)
    assert client.get(f"{URL}/999", headers=admin_headers).status_code == 404
    assert client.get(f"{URL}/{2**40}", headers=admin_headers).status_code == 404


def test_patch_cleans_terms_and_validates(client, admin_headers, series):
    response = client.patch(f"{URL}/{series[0].id}", headers=admin_headers, json={
        "aliases": [" Saga (Image) ", "saga (image)", ""], "include_terms": ["Digital"],
        "exclude_terms": ["c2c", "C2C"], "issue_offset": -2, "formats": ["CBZ".lower(), "cbr"],
        "min_size": 1000, "want_annuals": True})
    assert response.status_code == 200
    rule = response.json
    assert (rule["aliases"], rule["include_terms"], rule["exclude_terms"]) == (
        ["Saga (Image)"], ["Digital"], ["c2c"])
    assert (rule["issue_offset"], rule["formats"], rule["min_size"], rule["want_annuals"]) == (
        -2, ["cbz", "cbr"], 1000, True)
    row = db.session.get(WatchedSeries, series[0].id)
    assert row.exclude_terms == ["c2c"] and row.issue_offset == -2
    # Only what is sent changes.
    assert client.patch(f"{URL}/{series[0].id}", json={"max_size": 5000},
                        headers=admin_headers).json["aliases"] == ["Saga (Image)"]
    for bad in ({"min_size": 9000}, {"formats": ["mkv"]}, {"status": "gone"},
                {"issue_offset": "x"}, {"aliases": "Saga"}):
        response = client.patch(f"{URL}/{series[0].id}", json=bad, headers=admin_headers)
        assert response.status_code == 400, bad
    assert client.patch(f"{URL}/{series[0].id}", json={"min_size": 9000},
                        headers=admin_headers).json["error"] == "invalid_size_range"


def test_disable_enable_and_reset(client, admin_headers, series):
    rule_id = series[0].id
    assert client.post(f"{URL}/{rule_id}/disable", headers=admin_headers).json["status"] == "paused"
    assert db.session.get(WatchedSeries, rule_id).status == "paused"
    assert client.post(f"{URL}/{rule_id}/enable", headers=admin_headers).json["enabled"] is True
    client.patch(f"{URL}/{rule_id}", json={"aliases": ["S"], "issue_offset": 3, "formats": ["pdf"],
                                           "exclude_terms": ["x"], "status": "paused"},
                 headers=admin_headers)
    reset = client.post(f"{URL}/{rule_id}/reset", headers=admin_headers).json
    assert (reset["aliases"], reset["issue_offset"], reset["formats"], reset["exclude_terms"]) == (
        None, 0, None, None)
    assert reset["status"] == "paused"  # reset is about matching, not monitoring
    assert client.post(f"{URL}/424242/reset", headers=admin_headers).status_code == 404


def test_disable_and_enable_many(client, admin_headers, series):
    ids = [s.id for s in series]
    body = client.post(f"{URL}/disable-many", json={"ids": ids}, headers=admin_headers).json
    assert [i["status"] for i in body["items"]] == ["paused", "paused"] and body["total"] == 2
    response = client.post(f"{URL}/enable-many", json={"ids": [ids[0], 31337]},
                           headers=admin_headers)
    assert response.status_code == 404
    assert db.session.get(WatchedSeries, ids[0]).status == "paused"  # all or nothing
    client.post(f"{URL}/enable-many", json={"ids": ids}, headers=admin_headers)
    assert {db.session.get(WatchedSeries, i).status for i in ids} == {"monitored"}


def test_delete_one_keeps_files_and_many_is_all_or_nothing(client, admin_headers, series, tmp_path):
    comic = tmp_path / "Saga 001.cbz"
    comic.write_bytes(b"PK")
    book = BookFactory(path=str(comic))
    WatchedIssueFactory(series=series[0], number="1", book_id=book.id)
    body = client.delete(f"{URL}/{series[0].id}", headers=admin_headers).json
    assert body == {"removed": series[0].id, "deleted_files": 0, "errors": []}
    assert comic.exists() and db.session.execute(db.select(db.func.count(WatchedIssue.id))).scalar() == 0

    more = WatchedSeriesFactory(name="Monstress")
    response = client.post(f"{URL}/delete-many", json={"ids": [series[1].id, 999]},
                           headers=admin_headers)
    assert response.status_code == 404
    assert db.session.get(WatchedSeries, series[1].id) is not None
    body = client.post(f"{URL}/delete-many", json={"ids": [series[1].id, more.id]},
                       headers=admin_headers).json
    assert [r["removed"] for r in body["removed"]] == [series[1].id, more.id]
    assert db.session.execute(db.select(db.func.count(WatchedSeries.id))).scalar() == 0


def test_delete_with_files_removes_them(client, admin_headers, series, tmp_path):
    comic = tmp_path / "Saga 002.cbz"
    comic.write_bytes(b"PK")
    WatchedIssueFactory(series=series[0], number="2", book_id=BookFactory(path=str(comic)).id)
    body = client.delete(f"{URL}/{series[0].id}", query_string={"delete_files": "true"},
                         headers=admin_headers).json
    assert body["deleted_files"] == 1 and not comic.exists()


def test_an_exclude_term_and_an_offset_change_what_rss_accepts(client, admin_headers, app):
    saga = WatchedSeriesFactory(name="Saga", year=2012)
    issue = WatchedIssueFactory(series=saga, number="52", number_sort=52.0, store_date="2018-08-29")
    with ReplayServer() as server:
        feed = client.post("/api/v1/rss", json={"url": serve(server, SAGA)},
                           headers=admin_headers).json["id"]
        # Releases number it 54: an offset of +2 makes provider 52 match release 54,
        # and excluding "cbr" leaves only the cbz (no download client: nothing grabbed).
        client.patch(f"{URL}/{saga.id}", json={"issue_offset": 2, "exclude_terms": ["cbr"]},
                     headers=admin_headers)
        client.post(f"/api/v1/rss/{feed}/refresh", headers=admin_headers)
    decisions = {d.title: d for d in db.session.execute(
        db.select(ReleaseDecision).where(ReleaseDecision.watched_issue_id == issue.id)).scalars()}
    assert decisions["Saga 054 (2018) (Digital) (Zone-Empire).cbz"].accepted is True
    cbr = decisions["Saga 054 (2018) (Digital) (Zone-Empire).cbr"]
    assert cbr.accepted is False and any("cbr" in r for r in cbr.reasons)
    assert db.session.get(IndexerConfig, feed) is not None
    assert db.session.execute(db.select(db.func.count(FeedItem.id))).scalar() == 4


def test_only_a_system_admin_manages_rules(client, series):
    headers = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    assert client.get(URL, headers=headers).status_code == 403
    assert client.post(f"{URL}/{series[0].id}/disable", headers=headers).status_code == 403
