"""Stored secrets never come back: not from any GET of any surface, not in an
error, not in the log (console or the log APIs).

An RSS feed whose URL carries ``apikey=``, an indexer with an API key and a
download client with a password are stored; the feed's server on 127.0.0.1
answers 500, so the RSS check fails and records and logs the failure. Then
every GET route is called with the admin's key and every answer is searched
for the secrets.
"""
from __future__ import annotations

import re

import pytest

from comicsrv.extensions import db
from comicsrv.models.automation import IndexerConfig
from comicsrv.redact import MASK
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.factories import DownloadClientConfigFactory, IndexerConfigFactory
from tests.serving import live_server  # noqa: F401

FEED_KEY = "feedsecret0123456789"
INDEXER_KEY = "indexersecret0123456789"
PROWLARR_KEY = "prowlarrsecret0123456789"
CLIENT_PASSWORD = "clientsecret0123456789"
SECRETS = (FEED_KEY, INDEXER_KEY, PROWLARR_KEY, CLIENT_PASSWORD)
_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@pytest.fixture
def failing_server():
    with ReplayServer() as server:
        server.add("GET", "/feed", Recorded.text("indexer down", status=500))
        yield server


@pytest.fixture
def stored(client, admin_headers, failing_server):
    """The secrets, stored the ways users store them, and one failed RSS check."""
    feed_url = f"{failing_server.url}/feed?t=rss&apikey={FEED_KEY}"
    feed = client.post("/api/v1/rss", json={"url": feed_url, "name": "Zone"},
                       headers=admin_headers)
    assert feed.status_code == 201, feed.json
    indexer = IndexerConfigFactory(name="Geek", kind="newznab", enable_rss=False, settings={
        "url": "http://127.0.0.1:9/", "api_key": INDEXER_KEY})
    added = client.get("/api", query_string={
        "cmd": "addProvider", "name": "Local (Prowlarr)", "providertype": "torznab",
        "host": "http://127.0.0.1:9/12/api", "prov_apikey": PROWLARR_KEY,
        "apikey": admin_headers["X-API-Key"]})
    assert added.status_code == 200
    download_client = DownloadClientConfigFactory(name="NZBGet", kind="nzbget", protocol="usenet",
                                                  settings={"url": "http://127.0.0.1:9",
                                                            "username": "nzbget",
                                                            "password": CLIENT_PASSWORD})
    refreshed = client.post(f"/api/v1/rss/{feed.json['id']}/refresh", headers=admin_headers)
    assert refreshed.status_code == 200
    _no_secret(refreshed.get_data(as_text=True), "POST refresh")
    assert "HTTP 500" in refreshed.json["errors"]["Zone"]
    return {"feed_id": feed.json["id"], "indexer_id": indexer.id,
            "client_id": download_client.id, "feed_url": feed_url}


def _no_secret(text: str, where: str) -> None:
    found = [secret for secret in SECRETS if secret in text]
    assert found == [], f"{where} shows {found}"


def _url(rule: str, ids: dict) -> str:
    def value(match):
        converter, name = match.group(1), match.group(2)
        if name in ids:
            return str(ids[name])
        return "1" if converter == "int" else "x"

    return _ARG.sub(value, rule)


def test_no_get_of_any_surface_shows_a_stored_secret(app, client, admin_headers, stored):
    ids = {"feed_id": stored["feed_id"], "client_id": stored["client_id"]}
    key = admin_headers["X-API-Key"]
    called = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        url = _url(rule.rule, ids)
        for kwargs in ({"headers": admin_headers}, {"query_string": {"apikey": key}}):
            response = client.get(url, buffered=False, **kwargs)
            if response.mimetype != "text/event-stream":
                _no_secret(response.get_data(as_text=True), f"GET {url}")
            response.close()
            called += 1
    assert called > 150
    # The listings that hold them show them masked.
    providers = client.get("/api", query_string={"cmd": "listProviders", "apikey": key}).json
    assert [p["apikey"] for p in providers["data"]["torznabs"]] == [MASK]
    feed = client.get(f"/api/v1/rss/{stored['feed_id']}", headers=admin_headers).json
    assert feed["url"] == stored["feed_url"].replace(FEED_KEY, MASK)
    assert "HTTP 500" in feed["last_error"] and f"apikey={MASK}" in feed["last_error"]
    indexers = client.get("/api/search/providers", headers=admin_headers).json["data"]["indexers"]
    assert f"apikey={MASK}" in next(i for i in indexers if i["name"] == "Zone")["last_error"]
    # The log APIs keep the failure, masked.
    logs = client.get("/api/v1/logs", headers=admin_headers).get_data(as_text=True)
    assert f"apikey={MASK}" in logs and "HTTP 500" in logs


def test_the_stored_row_keeps_the_secret_and_a_masked_url_sent_back_keeps_it(
        client, admin_headers, stored):
    feed_id = stored["feed_id"]
    shown = client.get(f"/api/v1/rss/{feed_id}", headers=admin_headers).json["url"]
    response = client.patch(f"/api/v1/rss/{feed_id}", json={"url": shown, "priority": 3},
                            headers=admin_headers)
    assert response.status_code == 200 and response.json["url"] == shown
    db.session.expire_all()
    row = db.session.get(IndexerConfig, feed_id)
    assert row.settings["url"] == stored["feed_url"] and row.priority == 3
    # The row's last error was stored masked too.
    assert FEED_KEY not in row.last_error
    # A mask with nothing behind it is refused, not stored.
    response = client.post("/api/v1/rss", json={
        "url": f"http://127.0.0.1:9/other?passkey={MASK}"}, headers=admin_headers)
    assert response.status_code == 400 and response.json["error"] == "masked_secret"


def test_a_failing_fetch_logs_no_secret(app, admin_headers, failing_server, live_server):  # noqa: F811
    """The real server's console log and its log API after an RSS check whose
    feed answers 500."""
    feed_url = f"{failing_server.url}/feed?t=rss&passkey={FEED_KEY}"
    feed = IndexerConfigFactory(name="Tracker", kind="rss", protocol="torrent", enable_rss=True,
                                enable_search=False,
                                settings={"url": feed_url, "protocol": "torrent"})
    server = live_server()
    response = server.post(f"/api/v1/rss/{feed.id}/refresh", headers=admin_headers)
    assert response.status_code == 200 and "HTTP 500" in response.json()["errors"]["Tracker"]
    assert [r.path for r in failing_server.requests] == ["/feed"]
    for url in ("/api/v1/logs", "/api/system/logs"):
        logs = server.get(url, headers=admin_headers).text
        _no_secret(logs, url)
        assert f"passkey={MASK}" in logs
    output = server.output()
    _no_secret(output, "the console log")
    assert "WARNING" in output and f"passkey={MASK}" in output


def test_credentials_inside_a_download_clients_url_are_masked_and_kept(client, admin_headers):
    """NZBGet is often reached as http://user:password@host:6789: the password
    inside the URL is a secret like the password field."""
    url = f"http://nzbget:{CLIENT_PASSWORD}@127.0.0.1:9/"
    created = client.post("/api/v1/downloader/clients", headers=admin_headers, json={
        "name": "NZBGet", "kind": "nzbget", "settings": {"url": url, "category": "comics"}})
    assert created.status_code == 201, created.json
    shown = client.get(f"/api/v1/downloader/clients/{created.json['id']}",
                       headers=admin_headers).json["settings"]
    assert shown["url"] == f"http://nzbget:{MASK}@127.0.0.1:9/"
    changed = client.patch(f"/api/v1/downloader/clients/{created.json['id']}",
                           headers=admin_headers, json={"settings": {**shown, "category": "cb"}})
    assert changed.status_code == 200 and CLIENT_PASSWORD not in changed.get_data(as_text=True)
    db.session.expire_all()
    from comicsrv.models.automation import DownloadClientConfig

    row = db.session.get(DownloadClientConfig, created.json["id"])
    assert row.settings == {"url": url, "category": "cb"}
