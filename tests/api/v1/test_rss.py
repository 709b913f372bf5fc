"""``/api/v1/rss``: feeds served over loopback by ReplayServer (the recorded
nzb.su body with comic items, and Sonarr's recorded Nyaa feed), matched to
watched issues and grabbed through the real blackhole client into a folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from comicsrv.extensions import db
from comicsrv.models.automation import (
    DOWNLOADED, SKIPPED, SNATCHED, Download, FeedItem, IndexerConfig, WatchedIssue,
)
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.automation.indexer_answers import Item, answer
from tests.factories import (
    DownloadClientConfigFactory, IndexerConfigFactory, UserFactory, WatchedIssueFactory,
    WatchedSeriesFactory, api_key_for,
)
from tests.plugins.test_blackhole import TORRENT

URL = "/api/v1/rss"
FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "indexers"
XML = "application/rss+xml"
SAGA = [
    Item("Saga 053 (2018) (Digital) (Zone-Empire).cbz", guid="cbz53"),
    Item("Saga 054 (2018) (Digital) (Zone-Empire).cbr", guid="cbr54"),
    Item("Saga 054 (2018) (Digital) (Zone-Empire).cbz", guid="cbz54"),
    Item("Batman Beyond 054 (2018) (Digital) (Zone-Empire).cbz", guid="bb54"),
]


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


def serve(server, items, path="/feed"):
    server.add("GET", path, lambda request: Recorded.text(answer(items, base=f"{server.url}/files"), XML))
    for item in items:  # every release's file is a real .torrent
        server.add("GET", f"/files/getnzb/{item.guid}.nzb",
                   Recorded(TORRENT, 200, {"Content-Type": "application/x-bittorrent"}))
    return f"{server.url}{path}"


@pytest.fixture
def blackhole(app, tmp_path):
    (tmp_path / "watch").mkdir()
    (tmp_path / "done").mkdir()
    DownloadClientConfigFactory(
        name="Blackhole", kind="blackhole", protocol="torrent",
        settings={"watch_folder": str(tmp_path / "watch"), "completed_folder": str(tmp_path / "done"),
                  "settle_seconds": 0})
    return tmp_path / "watch"


@pytest.fixture
def saga(app):
    series = WatchedSeriesFactory(name="Saga", year=2012)
    issues = {number: WatchedIssueFactory(series=series, number=str(number), number_sort=float(number),
                                          cover_date="2018-10-01", store_date="2018-08-29",
                                          state=SKIPPED)
              for number in (53, 54)}
    return series, issues


def add(client, headers, url, **extra):
    return client.post(URL, json={"url": url, **extra}, headers=headers)


def test_add_list_get_update_and_the_v1_envelope(client, admin_headers, server):
    url = serve(server, SAGA)
    response = add(client, admin_headers, url, name="Zone feed", priority=5)
    assert response.status_code == 201
    feed = response.json
    assert (feed["name"], feed["kind"], feed["url"], feed["protocol"], feed["enabled"],
            feed["priority"]) == ("Zone feed", "rss", url, "torrent", True, 5)
    row = db.session.get(IndexerConfig, feed["id"])
    assert (row.enable_rss, row.enable_search, row.settings) == (
        True, False, {"url": url, "protocol": "torrent"})
    # An indexer read by RSS is listed too; one without RSS is not.
    IndexerConfigFactory(name="Newznab", priority=10)
    IndexerConfigFactory(name="Search only", enable_rss=False)
    body = client.get(URL, headers=admin_headers).json
    assert [i["name"] for i in body["items"]] == ["Zone feed", "Newznab"]
    assert (body["total"], body["page"], body["page_size"], body["total_pages"],
            body["has_more"]) == (2, 1, 50, 1, False)
    assert body["items"][1]["url"] is None  # an indexer's own URL is its settings' business

    changed = client.patch(f"{URL}/{feed['id']}", json={"name": "Zone", "protocol": "usenet"},
                           headers=admin_headers).json
    assert (changed["name"], changed["protocol"]) == ("Zone", "usenet")
    assert db.session.get(IndexerConfig, feed["id"]).settings["protocol"] == "usenet"
    put = client.put(f"{URL}/{feed['id']}", json={"priority": 7}, headers=admin_headers).json
    assert (put["name"], put["priority"]) == ("Zone", 7)
    assert client.get(f"{URL}/{feed['id']}", headers=admin_headers).json["priority"] == 7


@pytest.mark.parametrize("body, status, code", [
    ({"url": "ftp://127.0.0.1/feed"}, 400, "invalid_url"),
    ({"url": "not a url"}, 400, "invalid_url"),
    ({"url": "http://127.0.0.1:9/feed", "protocol": "ddl"}, 400, "validation_error"),
    ({}, 400, "validation_error"),
])
def test_bad_feeds_are_clear_errors(client, admin_headers, body, status, code):
    response = client.post(URL, json=body, headers=admin_headers)
    assert response.status_code == status
    assert response.json["error"] == code


def test_the_same_url_or_name_twice_is_a_conflict(client, admin_headers):
    assert add(client, admin_headers, "http://127.0.0.1:9/a", name="A").status_code == 201
    again = add(client, admin_headers, "http://127.0.0.1:9/a", name="B")
    assert again.status_code == 409 and again.json["error"] == "feed_exists"
    taken = add(client, admin_headers, "http://127.0.0.1:9/b", name="A")
    assert taken.status_code == 409 and taken.json["error"] == "name_taken"


def test_enable_disable_one_and_many(client, admin_headers):
    ids = [add(client, admin_headers, f"http://127.0.0.1:9/{n}").json["id"] for n in range(3)]
    body = client.post(f"{URL}/disable-many", json={"ids": ids[:2]}, headers=admin_headers).json
    assert [i["enabled"] for i in body["items"]] == [False, False] and body["total"] == 2
    assert [db.session.get(IndexerConfig, i).enabled for i in ids] == [False, False, True]
    assert client.post(f"{URL}/{ids[0]}/enable", headers=admin_headers).json["enabled"] is True
    assert client.post(f"{URL}/{ids[2]}/disable", headers=admin_headers).json["enabled"] is False
    client.post(f"{URL}/enable-many", json={"ids": ids}, headers=admin_headers)
    assert all(db.session.get(IndexerConfig, i).enabled for i in ids)
    # One unknown id: nothing changes.
    response = client.post(f"{URL}/disable-many", json={"ids": [ids[0], 99999]},
                           headers=admin_headers)
    assert response.status_code == 404
    assert db.session.get(IndexerConfig, ids[0]).enabled is True
    assert client.post(f"{URL}/enable-many", json={"ids": []},
                       headers=admin_headers).status_code == 400


def test_delete_one_and_many(client, admin_headers):
    ids = [add(client, admin_headers, f"http://127.0.0.1:9/{n}").json["id"] for n in range(3)]
    assert client.delete(f"{URL}/{ids[0]}", headers=admin_headers).status_code == 204
    assert client.get(f"{URL}/{ids[0]}", headers=admin_headers).status_code == 404
    assert client.post(f"{URL}/delete-many", json={"ids": [ids[1], 424242]},
                       headers=admin_headers).status_code == 404
    body = client.post(f"{URL}/delete-many", json={"ids": ids[1:]}, headers=admin_headers).json
    assert body == {"deleted": ids[1:]}
    assert db.session.execute(db.select(db.func.count(IndexerConfig.id))).scalar() == 0
    # A search-only indexer is no feed: it cannot be deleted through here.
    other = IndexerConfigFactory(enable_rss=False)
    assert client.delete(f"{URL}/{other.id}", headers=admin_headers).status_code == 404


def test_refresh_one_keeps_items_with_decisions_and_grabs_once(
        client, admin_headers, server, blackhole, saga):
    series, issues = saga
    issues[54].state = "wanted"
    db.session.commit()
    feed_id = add(client, admin_headers, serve(server, SAGA)).json["id"]
    result = client.post(f"{URL}/{feed_id}/refresh", headers=admin_headers).json
    assert (result["new"], result["matched"], len(result["grabbed"])) == (4, 2, 1)
    assert result["errors"] == {}
    download = db.session.get(Download, result["grabbed"][0])
    assert download.title == "Saga 054 (2018) (Digital) (Zone-Empire).cbz"  # cbz preferred
    assert len(list(blackhole.iterdir())) == 1  # the .torrent dropped into the watch folder
    assert db.session.get(WatchedIssue, issues[54].id).state == SNATCHED

    items = client.get(f"{URL}/{feed_id}/items", headers=admin_headers).json
    assert items["total"] == 4
    by_title = {i["title"]: i for i in items["items"]}
    cbz = by_title["Saga 054 (2018) (Digital) (Zone-Empire).cbz"]
    assert cbz["parsed"]["series"] == "Saga" and cbz["parsed"]["number"] == "054"
    assert cbz["watched_issue_id"] == issues[54].id
    assert cbz["decision"]["accepted"] is True and cbz["decision"]["grabbed"] is True
    batman = by_title["Batman Beyond 054 (2018) (Digital) (Zone-Empire).cbz"]
    assert batman["decision"]["accepted"] is False
    assert "no watched series" in batman["decision"]["reasons"][0]
    # Issue 53 is skipped, not wanted: the scheduled check leaves it alone.
    assert by_title["Saga 053 (2018) (Digital) (Zone-Empire).cbz"]["watched_issue_id"] is None

    again = client.post(f"{URL}/{feed_id}/refresh", headers=admin_headers).json
    assert (again["new"], again["grabbed"]) == (0, [])
    page = client.get(f"{URL}/{feed_id}/items", query_string={"page_size": 3, "page": 2},
                      headers=admin_headers).json
    assert (len(page["items"]), page["total_pages"], page["has_more"]) == (1, 2, False)


def test_refresh_all_reads_every_enabled_feed(client, admin_headers, server, blackhole, saga):
    first = add(client, admin_headers, serve(server, SAGA[:2], "/one")).json["id"]
    second = add(client, admin_headers, serve(server, SAGA[2:], "/two")).json["id"]
    off = add(client, admin_headers, serve(server, SAGA, "/off"), enabled=False).json["id"]
    result = client.post(f"{URL}/refresh", headers=admin_headers).json
    assert result["new"] == 4 and sorted(result["indexers"]) == sorted(
        db.session.get(IndexerConfig, i).name for i in (first, second))
    assert {r.path for r in server.requests} >= {"/one", "/two"}
    assert "/off" not in {r.path for r in server.requests}
    assert db.session.get(IndexerConfig, off).last_rss_at is None


def test_an_unreadable_feed_is_recorded_not_a_crash(client, admin_headers, server):
    server.add("GET", "/broken", Recorded.file(FIXTURES / "jackett" / "Invalid-RSS.xml", XML))
    feed_id = add(client, admin_headers, f"{server.url}/broken").json["id"]
    result = client.post(f"{URL}/{feed_id}/refresh", headers=admin_headers).json
    assert result["new"] == 0 and list(result["errors"]) == [server.url.split("//")[1] + "/broken"]
    feed = client.get(f"{URL}/{feed_id}", headers=admin_headers).json
    assert feed["failure_count"] == 1 and "not valid RSS" in feed["last_error"]


def test_analysis_parses_a_recorded_feed_without_subscribing(client, admin_headers, server):
    server.add("GET", "/nyaa", Recorded.file(FIXTURES / "sonarr" / "Nyaa_Nyaa2021.xml", XML))
    body = client.post(f"{URL}/analysis", json={"url": f"{server.url}/nyaa"},
                       headers=admin_headers).json
    assert body["total"] == 3 and body["protocol"] == "torrent"
    first = body["items"][0]
    assert first["title"] == "[Foxy-Subs] Mahouka Koukou no Yuutousei - 08 [720p] [3194D881].mkv"
    assert first["download_url"] == "https://nyaa.si/download/1424896.torrent"
    assert first["parsed"]["series"] and first["parsed"]["number"] == "08"
    assert first["watched_series_id"] is None
    assert body["series"]
    assert db.session.execute(db.select(db.func.count(IndexerConfig.id))).scalar() == 0


def test_analysis_names_the_watched_series(client, admin_headers, server, saga):
    body = client.post(f"{URL}/analysis", json={"url": serve(server, SAGA)},
                       headers=admin_headers).json
    assert [i["watched_series"] for i in body["items"]] == ["Saga", "Saga", "Saga", None]
    assert body["series"] == ["Batman Beyond", "Saga"]


def test_analysis_of_an_unreadable_feed_is_a_400(client, admin_headers, server):
    server.add("GET", "/broken", Recorded.file(FIXTURES / "jackett" / "Invalid-RSS.xml", XML))
    response = client.post(f"{URL}/analysis", json={"url": f"{server.url}/broken"},
                           headers=admin_headers)
    assert response.status_code == 400 and response.json["error"] == "feed_unreadable"
    server.add("GET", "/gone", Recorded.text("no such feed", status=404))
    response = client.post(f"{URL}/analysis", json={"url": f"{server.url}/gone"},
                           headers=admin_headers)
    assert response.status_code == 400 and "HTTP 404" in response.json["message"]


def test_subscribe_adds_and_checks_at_once(client, admin_headers, server, blackhole, saga):
    saga[1][53].state = "wanted"
    db.session.commit()
    response = client.post(f"{URL}/subscribe", json={"url": serve(server, SAGA), "name": "Zone"},
                           headers=admin_headers)
    assert response.status_code == 201
    body = response.json
    assert body["feed"]["name"] == "Zone" and body["refresh"]["new"] == 4
    assert len(body["refresh"]["grabbed"]) == 1
    assert db.session.get(WatchedIssue, saga[1][53].id).state == SNATCHED
    assert db.session.execute(db.select(db.func.count(FeedItem.id))).scalar() == 4


def test_collect_grabs_every_missing_issue_of_a_completed_series(
        client, admin_headers, server, blackhole, saga):
    series, issues = saga
    feed_id = add(client, admin_headers, serve(server, SAGA)).json["id"]
    # The feed was read before: collect still reads it whole.
    client.post(f"{URL}/{feed_id}/refresh", headers=admin_headers)
    other = WatchedIssueFactory(series=WatchedSeriesFactory(name="Batman Beyond", year=2016),
                                number="54", number_sort=54.0, state=SKIPPED)
    body = client.post(f"{URL}/{feed_id}/collect", json={"watched_series_id": series.id},
                       headers=admin_headers).json
    assert (body["releases"], body["candidates"], body["matched"]) == (4, 2, 2)
    assert len(body["grabbed"]) == 2
    titles = set(db.session.execute(db.select(Download.title)).scalars())
    assert titles == {"Saga 053 (2018) (Digital) (Zone-Empire).cbz",
                      "Saga 054 (2018) (Digital) (Zone-Empire).cbz"}
    assert {db.session.get(WatchedIssue, i.id).state for i in issues.values()} == {SNATCHED}
    assert db.session.get(WatchedIssue, other.id).state == SKIPPED
    # Without a series: every watched series' missing issues, here Batman Beyond's.
    again = client.post(f"{URL}/{feed_id}/collect", json={}, headers=admin_headers).json
    assert again["candidates"] == 1 and len(again["grabbed"]) == 1
    assert db.session.get(WatchedIssue, other.id).state == SNATCHED
    # Nothing is missing any more.
    last = client.post(f"{URL}/{feed_id}/collect", json={}, headers=admin_headers).json
    assert (last["candidates"], last["grabbed"]) == (0, [])


def test_collect_skips_downloaded_issues_and_unknown_series(client, admin_headers, server, saga):
    series, issues = saga
    issues[53].state = issues[54].state = DOWNLOADED
    db.session.commit()
    feed_id = add(client, admin_headers, serve(server, SAGA)).json["id"]
    body = client.post(f"{URL}/{feed_id}/collect", json={}, headers=admin_headers).json
    assert (body["candidates"], body["grabbed"]) == (0, [])
    missing = client.post(f"{URL}/{feed_id}/collect", json={"watched_series_id": 98765},
                          headers=admin_headers)
    assert missing.status_code == 404
    assert client.post(f"{URL}/4242/collect", json={}, headers=admin_headers).status_code == 404


def test_only_a_system_admin_manages_feeds(client):
    headers = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead", "BooksWrite"])}
    assert client.get(URL, headers=headers).status_code == 403
    assert client.post(f"{URL}/analysis", json={"url": "http://127.0.0.1:9/"},
                       headers=headers).status_code == 403
