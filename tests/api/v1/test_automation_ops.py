"""/api/v1 search stream, logs, config and program shutdown (AutoBangumi's
features in comic terms), against real indexers served on 127.0.0.1."""
from __future__ import annotations

import json
import logging

from comicsrv.testing import Recorded, ReplayServer
from tests.automation.indexer_answers import Item, answer
from tests.factories import IndexerConfigFactory, api_key_for

STREAM = "/api/v1/search/stream"


def _events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_search_streams_each_indexers_results_then_done(client, admin_headers):
    with ReplayServer() as good, ReplayServer() as broken:
        good.add("GET", "/api", Recorded.text(answer([
            Item("Saga 054 (2018) (Digital) (Zone-Empire)"),
            Item("Saga 054 (2018) (webrip) (Other)")], base=good.url), "application/rss+xml"),
            query={"t": "search"})
        broken.add("GET", "/api", Recorded.text("down", status=503), query={"t": "search"})
        IndexerConfigFactory(name="Good", settings={"url": good.url, "api_key": "k",
                                                    "categories": [7030]})
        IndexerConfigFactory(name="Broken", settings={"url": broken.url, "api_key": "k",
                                                      "categories": [7030]})
        response = client.get(STREAM, query_string={"q": "Saga 054"}, headers=admin_headers)
        body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = _events(body)
    assert events[-1] == ("done", {"indexers": 2, "answered": 1, "failed": 1, "skipped": 0,
                                   "releases": 2})
    results = [data for name, data in events if name == "results"]
    assert [r["indexer"] for r in results] == ["Good"]
    assert [(r["title"], r["parsed"]["series"], r["parsed"]["number"])
            for r in results[0]["releases"]] == [
        ("Saga 054 (2018) (Digital) (Zone-Empire)", "Saga", "054"),
        ("Saga 054 (2018) (webrip) (Other)", "Saga", "054")]
    assert [data["indexer"] for name, data in events if name == "error"] == ["Broken"]
    assert good.requests[0].query["q"] == "Saga 054"


def test_search_stream_needs_a_query_and_an_admin(client, admin_headers, reader):
    assert client.get(STREAM, headers=admin_headers).status_code == 400
    key = api_key_for(reader, ["LibrariesRead"])
    assert client.get(STREAM, query_string={"q": "x"}, headers={"X-API-Key": key}).status_code == 403


def test_logs_read_with_a_level_filter_and_clear(client, admin_headers):
    logging.getLogger("comicsrv.test").warning("a warning for the log page")
    logging.getLogger("comicsrv.test").error("an error for the log page")
    everything = client.get("/api/v1/logs", headers=admin_headers).json
    assert {"a warning for the log page", "an error for the log page"} <= {
        r["message"] for r in everything["items"]}
    errors = client.get("/api/v1/logs", query_string={"level": "ERROR"},
                        headers=admin_headers).json["items"]
    assert errors and {r["level"] for r in errors} <= {"ERROR", "CRITICAL"}
    assert client.get("/api/v1/logs", query_string={"level": "LOUD"},
                      headers=admin_headers).status_code == 400
    cleared = client.delete("/api/v1/logs", headers=admin_headers).json["cleared"]
    assert cleared >= 2
    after = client.get("/api/v1/logs", headers=admin_headers).json["items"]
    assert "an error for the log page" not in {r["message"] for r in after}


def test_config_reads_whole_and_updates_part_all_or_nothing(client, admin_headers):
    config = client.get("/api/v1/config", headers=admin_headers).json
    assert config["automation.rss_interval_minutes"] == 15
    assert config["metadata.comicvine_api_key"] == ""

    changed = client.patch("/api/v1/config", headers=admin_headers, json={
        "automation.rss_interval_minutes": 30, "metadata.comicvine_api_key": "cv-key"}).json
    assert changed["automation.rss_interval_minutes"] == 30
    assert changed["metadata.comicvine_api_key"] == "********"
    # The mask sent back keeps the secret; a bad value changes nothing.
    client.patch("/api/v1/config", headers=admin_headers,
                 json={"metadata.comicvine_api_key": "********"})
    bad = client.patch("/api/v1/config", headers=admin_headers, json={
        "automation.search_interval_minutes": 60, "automation.rss_interval_minutes": "often"})
    assert bad.status_code == 400 and "automation.rss_interval_minutes" in bad.json["message"]
    from comicsrv.settings_store import get_setting

    assert get_setting("metadata.comicvine_api_key") == "cv-key"
    assert get_setting("automation.search_interval_minutes") == 360
    assert client.patch("/api/v1/config", headers=admin_headers, json={}).status_code == 400
    assert client.patch("/api/v1/config", headers=admin_headers,
                        json={"no.such.key": 1}).status_code in (400, 404)


def test_shutdown_runs_the_stop_hook_after_answering(app, client, admin_headers):
    import time

    stopped = []
    app.extensions["comicsrv.shutdown"] = stopped.append
    try:
        response = client.post("/api/v1/program/shutdown", headers=admin_headers)
        assert response.status_code == 202
        deadline = time.monotonic() + 5
        while not stopped and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stopped == [False]
    finally:
        app.extensions.pop("comicsrv.shutdown", None)
    # Not under `comicsrv serve` and no hook: another server owns the process.
    assert client.post("/api/v1/program/shutdown", headers=admin_headers).status_code == 409


def test_logs_page_in_the_v1_envelope_newest_first(client, admin_headers):
    client.delete("/api/v1/logs", headers=admin_headers)
    for number in range(5):
        logging.getLogger("comicsrv.test").warning("paged record %d", number)
    first = client.get("/api/v1/logs", headers=admin_headers,
                       query_string={"level": "WARNING", "page_size": 2}).json
    assert {k: first[k] for k in ("total", "page", "page_size", "total_pages", "has_more")} == {
        "total": 5, "page": 1, "page_size": 2, "total_pages": 3, "has_more": True}
    assert [r["message"] for r in first["items"]] == ["paged record 4", "paged record 3"]
    last = client.get("/api/v1/logs", headers=admin_headers,
                      query_string={"level": "WARNING", "page_size": 2, "page": 3}).json
    assert [r["message"] for r in last["items"]] == ["paged record 0"]
    assert last["has_more"] is False
