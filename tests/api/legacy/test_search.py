"""/api/search: provider search (Metron replayed), adding results, the
forced search and RSS jobs, and the provider list."""
from __future__ import annotations

from comicsrv.extensions import db
from comicsrv.models import Job
from comicsrv.models.automation import WatchedSeries
from tests.api.legacy.metron_replay import app, headers, metron  # noqa: F401
from tests.factories import IndexerConfigFactory


def test_search_comics_marks_what_is_watched(client, headers):
    data = client.post("/api/search/comics", json={"query": "death"}, headers=headers).json["data"]
    assert data["total"] == 1
    result = data["results"][0]
    assert (result["comicid"], result["name"], result["haveit"], result["in_library"],
            result["metadata_source"]) == ("1", "Death of the Inhumans", "No", False, "metron")
    assert client.post("/api/search/add", json={"id": "1"}, headers=headers).status_code == 201
    again = client.post("/api/search/manga", json={"name": "death"}, headers=headers).json["data"]
    assert again["results"][0]["haveit"] == "Yes" and again["results"][0]["in_library"] is True


def test_add_manga_watches_the_series(client, headers):
    response = client.post("/api/search/add-manga", json={"comic_id": "1"}, headers=headers)
    assert response.status_code == 201
    assert db.session.scalars(db.select(WatchedSeries.name)).all() == ["Death of the Inhumans"]


def test_search_without_words_is_a_400(client, headers):
    response = client.post("/api/search/comics", json={}, headers=headers)
    assert response.status_code == 400 and response.json["error"]["code"] == 400


def test_force_and_rss_force_run_the_automation_jobs(client, headers, app):
    runner = app.extensions["comicsrv.jobs"]
    for path, job_type in (("/api/search/force", "automation.search_wanted"),
                           ("/api/search/rss/force", "automation.rss")):
        response = client.post(path, headers=headers)
        assert response.status_code == 202 and response.json["success"] is True
        job_id = response.json["data"]["job_id"]
        assert runner.wait(job_id, timeout=60)
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        assert job.type == job_type and job.state == "finished", (job.state, job.error)


def test_providers_lists_metadata_providers_and_indexers(client, headers):
    IndexerConfigFactory(name="Local Torznab", kind="torznab", protocol="torrent")
    data = client.get("/api/search/providers", headers=headers).json["data"]
    assert {"name": "metron", "type": "metadata", "default": True} in data["metadata"]
    assert [(i["name"], i["kind"], i["protocol"]) for i in data["indexers"]] == [
        ("Local Torznab", "torznab", "torrent")]
    assert "settings" not in data["indexers"][0]  # never an indexer's API key


def test_seed_000_curl_examples_answer_in_the_envelope_with_real_data(client, headers, app):
    """Each curl example of seed 000 in this area, in order, the key sent as
    X-Api-Key or ?apikey= (series 1 stands in for the examples' 12345)."""
    key = headers["X-Api-Key"]
    assert client.get("/api/series", headers=headers).json["data"]["results"] == []
    added = client.post("/api/series", json={"comic_id": 1}, headers=headers)
    assert added.status_code == 201 and added.json["success"] is True
    paused = client.put("/api/series/1/pause", headers=headers).json
    assert paused == {"success": True, "data": paused["data"]} and paused["data"]["Status"] == "Paused"
    watchlist = client.get("/api/watchlist", query_string={"apikey": key}).json["data"]
    assert watchlist["total"] == 1 and watchlist["results"][0]["ComicName"] == "Death of the Inhumans"
    second_page = client.get("/api/watchlist", query_string={"limit": 10, "offset": 10},
                             headers=headers).json["data"]
    assert (second_page["results"], second_page["total"], second_page["limit"],
            second_page["offset"], second_page["has_more"]) == ([], 1, 10, 10, False)
    batman = client.post("/api/search/comics", json={"query": "Batman"}, headers=headers).json
    assert batman["data"]["total"] == 100 and batman["data"]["has_more"] is True
    assert len(batman["data"]["results"]) == 25
    assert "Batman" in batman["data"]["results"][0]["name"]
    forced = client.post("/api/search/force", headers=headers)
    assert forced.status_code == 202 and app.extensions["comicsrv.jobs"].wait(
        forced.json["data"]["job_id"], timeout=60)
    metadata = client.get("/api/metadata/comic/1", headers=headers).json["data"]
    assert metadata["ComicName"] == "Death of the Inhumans" and len(metadata["issues"]) == 2
    arcs = client.get("/api/storyarcs", headers=headers).json
    assert arcs["success"] is True and arcs["data"]["total"] == 0
