"""Prowlarr's Mylar application syncing indexers through ``GET /api?cmd=``:
its requests replayed verbatim (as MylarV3Proxy builds them: cmd, apikey,
then the fields, URL-encoded), and the next search asking the added indexer
(a Torznab answer served on 127.0.0.1)."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from comicsrv.automation.search import search_issue
from comicsrv.extensions import db
from comicsrv.models.automation import IndexerConfig
from comicsrv.testing.replay import ReplayServer
from tests.automation.test_search import SAGA_54, serve
from tests.factories import (
    DownloadClientConfigFactory, WatchedIssueFactory, WatchedSeriesFactory, api_key_for,
)

# What Prowlarr's HttpRequestBuilder sends with every Mylar command.
PROWLARR_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


@pytest.fixture
def key(admin):
    return api_key_for(admin, ["SystemAdmin"])


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


def q(value: str) -> str:
    return quote(value, safe="")


def call(client, key, cmd, **fields):
    url = f"/api?cmd={cmd}&apikey={key}" + "".join(f"&{k}={q(v)}" for k, v in fields.items())
    return client.get(url, headers=PROWLARR_HEADERS)


def test_prowlarrs_five_requests_add_change_list_and_delete_an_indexer_the_search_uses(
        app, client, key, server, tmp_path):
    (tmp_path / "watch").mkdir()
    (tmp_path / "done").mkdir()
    DownloadClientConfigFactory(name="Blackhole", kind="blackhole", protocol="torrent", settings={
        "watch_folder": str(tmp_path / "watch"), "completed_folder": str(tmp_path / "done"),
        "settle_seconds": 0})
    prowlarr_host = f"{server.url}/12/api"

    # 1. The connection test: getVersion, then listProviders.
    version = call(client, key, "getVersion")
    assert version.status_code == 200 and version.json["success"] is True
    assert version.json["data"]["current_version"]
    listed = call(client, key, "listProviders").json
    assert listed == {"success": True, "data": {"newznabs": [], "torznabs": []}}

    # 2. addProvider, exactly Prowlarr's fields.
    added = call(client, key, "addProvider", name="Local Torznab (Prowlarr)",
                 providertype="torznab", host=prowlarr_host, prov_apikey="prowlarr-key",
                 enabled="true", categories="7030")
    assert added.status_code == 200 and added.json["success"] is True
    row = db.session.execute(db.select(IndexerConfig)).scalars().one()
    assert (row.kind, row.protocol, row.managed_by, row.enabled) == (
        "torznab", "torrent", "prowlarr", True)
    assert row.settings["url"] == f"{server.url}/12" and row.settings["categories"] == [7030]

    # The next search asks the added indexer, through Prowlarr's path and key.
    serve(server, SAGA_54, path="/12/api")
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga", year=2012), number="54",
                                number_sort=54.0, cover_date="2018-10-01", store_date="2018-08-29")
    result = search_issue(issue.id)
    assert result["title"] == "Saga 054 (2018) (Digital) (Zone-Empire).cbz"
    asked = [r for r in server.requests if r.path == "/12/api"]
    assert asked and asked[0].query["apikey"] == "prowlarr-key"
    assert asked[0].query["cat"] == "7030"

    # 3. changeProvider: the old name, the new fields, the new name as altername.
    changed = call(client, key, "changeProvider", name="Local Torznab (Prowlarr)",
                   providertype="torznab", host=prowlarr_host, prov_apikey="new-key",
                   enabled="false", categories="7030,7000", altername="Renamed (Prowlarr)")
    assert changed.json["success"] is True
    torznabs = call(client, key, "listProviders").json["data"]["torznabs"]
    # The stored key never comes back: masked, as Sonarr v4 shows its indexers' keys.
    assert torznabs == [{"id": row.id, "name": "Renamed (Prowlarr)", "host": prowlarr_host,
                         "apikey": "********", "categories": "7030,7000", "enabled": False}]
    db.session.expire_all()
    assert db.session.get(IndexerConfig, row.id).settings["api_key"] == "new-key"
    # Sent back masked (a client saving what it listed), the stored key stays.
    call(client, key, "changeProvider", name="Renamed (Prowlarr)", providertype="torznab",
         host=prowlarr_host, prov_apikey="********", enabled="false", categories="7030,7000")
    db.session.expire_all()
    assert db.session.get(IndexerConfig, row.id).settings["api_key"] == "new-key"

    # 4. delProvider by name and type.
    deleted = call(client, key, "delProvider", name="Renamed (Prowlarr)", providertype="torznab")
    assert deleted.json["success"] is True
    assert call(client, key, "listProviders").json["data"] == {"newznabs": [], "torznabs": []}


def test_newznab_with_empty_categories_defaults_to_comics(client, key):
    call(client, key, "addProvider", name="NZB (Prowlarr)", providertype="newznab",
         host="http://127.0.0.1:9696/3/api", prov_apikey="k", enabled="true", categories="")
    newznabs = call(client, key, "listProviders").json["data"]["newznabs"]
    assert [(n["name"], n["categories"]) for n in newznabs] == [("NZB (Prowlarr)", "7030")]
    assert db.session.execute(db.select(IndexerConfig)).scalars().one().protocol == "usenet"


@pytest.mark.parametrize("query, status, message", [
    ("cmd=nope", 400, "cmd"),
    ("cmd=addProvider&name=x", 400, "missing"),
    ("cmd=addProvider&name=x&providertype=torznab&host=http://h/api&enabled=maybe", 400,
     "enabled"),
    ("cmd=addProvider&name=x&providertype=torznab&host=http://h/api&categories=comics", 400,
     "categories"),
    ("cmd=changeProvider&name=ghost&providertype=torznab&host=http://h/api", 404, "ghost"),
    ("cmd=delProvider&name=ghost&providertype=newznab", 404, "ghost"),
])
def test_bad_commands_get_the_error_envelope_prowlarr_reads(client, key, query, status, message):
    answer = client.get(f"/api?{query}&apikey={key}")
    assert answer.status_code == status
    assert answer.json["success"] is False and message in answer.json["error"]["message"]


def test_a_second_provider_of_the_same_name_is_a_conflict(client, key):
    fields = dict(name="Dup (Prowlarr)", providertype="torznab", host="http://127.0.0.1:9/1/api")
    assert call(client, key, "addProvider", **fields).status_code == 200
    again = call(client, key, "addProvider", **fields)
    assert again.status_code == 409 and again.json["error"]["code"] == 409


def test_a_wrong_api_key_is_refused(client, app):
    answer = client.get("/api?cmd=getVersion&apikey=wrong")
    assert answer.status_code == 401 and answer.json["success"] is False
