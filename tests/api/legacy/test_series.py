"""/api/series against the real watchlist, with Metron replayed over loopback."""
from __future__ import annotations

from comicsrv.extensions import db
from comicsrv.models.automation import PAUSED, SKIPPED, WANTED, WatchedIssue, WatchedSeries
from tests.api.legacy.metron_replay import add_inhumans, app, headers, metron, read_headers  # noqa: F401


def test_add_by_provider_id_watches_the_series_with_its_issues(client, headers):
    data = add_inhumans(client, headers)
    assert data["comic"][0]["ComicID"] == "1"
    assert data["comic"][0]["ComicName"] == "Death of the Inhumans"
    assert data["comic"][0]["Status"] == "Active"
    assert data["comic"][0]["Total"] == 2 and data["comic"][0]["Have"] == 0
    assert [(i["id"], i["number"], i["status"]) for i in data["issues"]] == [
        ("1", "1", "Wanted"), ("2", "2", "Wanted")]
    assert db.session.scalars(db.select(WatchedSeries.provider_id)).all() == ["1"]


def test_adding_twice_is_a_conflict_in_the_envelope(client, headers):
    add_inhumans(client, headers)
    response = client.post("/api/series", json={"comic_id": "4050-1"}, headers=headers)
    assert response.status_code == 409
    assert response.json["success"] is False and response.json["error"]["code"] == 409


def test_add_without_an_id_is_a_400(client, headers):
    response = client.post("/api/series", json={}, headers=headers)
    assert response.status_code == 400 and response.json["success"] is False


def test_list_pages_in_the_envelope(client, headers, read_headers):
    add_inhumans(client, headers)
    response = client.get("/api/series", query_string={"limit": 1}, headers=read_headers)
    assert response.status_code == 200
    data = response.json["data"]
    assert (data["total"], data["limit"], data["offset"], data["has_more"]) == (1, 1, 0, False)
    assert data["results"][0]["ComicID"] == "1" and data["results"][0]["LatestIssue"] == "2"


def test_detail_pause_resume_and_unknown(client, headers):
    add_inhumans(client, headers)
    assert client.get("/api/series/1", headers=headers).json["data"]["comic"][0]["Total"] == 2
    paused = client.put("/api/series/1/pause", headers=headers)
    assert paused.json["data"]["Status"] == "Paused"
    assert db.session.scalars(db.select(WatchedSeries.status)).one() == PAUSED
    assert client.put("/api/series/1/resume", headers=headers).json["data"]["Status"] == "Active"
    missing = client.get("/api/series/999", headers=headers)
    assert missing.status_code == 404 and missing.json["error"]["message"] == "Comic not found"


def test_refresh_reads_the_provider_again(client, headers):
    add_inhumans(client, headers)
    response = client.post("/api/series/1/refresh", headers=headers)
    assert response.status_code == 200
    assert response.json["data"]["added"] == 0 and response.json["data"]["name"] == "Death of the Inhumans"
    several = client.post("/api/series/1,1/refresh", headers=headers)
    assert [r["name"] for r in several.json["data"]["results"]] == ["Death of the Inhumans"] * 2
    assert client.post("/api/series/1,77/refresh", headers=headers).status_code == 404
    assert client.post("/api/series/,/refresh", headers=headers).status_code == 400


def test_unqueue_skips_and_queue_wants_and_searches(client, headers):
    add_inhumans(client, headers)
    skipped = client.put("/api/series/issues/2/unqueue", headers=headers)
    assert skipped.status_code == 200 and skipped.json["data"]["status"] == "Skipped"
    assert db.session.scalars(db.select(WatchedIssue.state).where(
        WatchedIssue.provider_id == "2")).one() == SKIPPED
    queued = client.put("/api/series/issues/2/queue", headers=headers)
    assert queued.status_code == 200 and queued.json["data"]["status"] == "Wanted"
    # No indexer configured: the search ran and found nothing to grab.
    assert queued.json["data"]["search"]["releases"] == 0
    assert queued.json["data"]["search"]["grabbed"] is None
    db.session.expire_all()
    issue = db.session.scalars(db.select(WatchedIssue).where(WatchedIssue.provider_id == "2")).one()
    assert issue.state == WANTED and issue.last_searched_at is not None


def test_delete_stops_watching(client, headers):
    add_inhumans(client, headers)
    response = client.delete("/api/series/1", headers=headers)
    assert response.status_code == 200 and response.json["data"]["deleted_files"] == 0
    assert db.session.scalars(db.select(WatchedSeries)).all() == []
    assert client.delete("/api/series/1", headers=headers).status_code == 404


def test_queue_grabs_from_a_local_torznab_into_the_real_blackhole_client(client, headers, metron,
                                                                         tmp_path):
    from comicsrv.models.automation import SNATCHED, Download
    from tests.automation.test_search import serve, torznab
    from tests.automation.indexer_answers import Item
    from tests.factories import DownloadClientConfigFactory

    add_inhumans(client, headers)
    serve(metron, [Item("Death of the Inhumans 002 (2018) (Digital) (Zone-Empire).cbz",
                        guid="doti2")], path="/torznab/api")
    torznab(metron, path="/torznab/api")
    watch, done = tmp_path / "watch", tmp_path / "done"
    watch.mkdir()
    done.mkdir()
    DownloadClientConfigFactory(name="Blackhole", kind="blackhole", protocol="torrent",
                                settings={"watch_folder": str(watch), "completed_folder": str(done),
                                          "settle_seconds": 0})
    client.put("/api/series/issues/2/unqueue", headers=headers)
    queued = client.put("/api/series/issues/2/queue", headers=headers)
    assert queued.status_code == 200, queued.json
    search = queued.json["data"]["search"]
    assert search["accepted"] >= 1 and search["grabbed"] is not None, search
    assert queued.json["data"]["status"] == "Snatched"
    download = db.session.get(Download, search["grabbed"])
    assert download.title.startswith("Death of the Inhumans 002")
    assert [p.suffix for p in watch.iterdir()] == [".torrent"]
    assert db.session.scalars(db.select(WatchedIssue.state).where(
        WatchedIssue.provider_id == "2")).one() == SNATCHED
