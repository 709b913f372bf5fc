"""The services behind the settings pages (and a JSON API later): indexers,
download clients, notification targets and remote path mappings are
created, checked, tested and changed here, against real plugins and real
servers on 127.0.0.1; a refusal names every bad field, and a stored secret
survives an edit that sends it back empty or masked."""
from __future__ import annotations

import json

import pytest

from comicsrv.automation import (
    download_clients, indexers, integrations, notification_targets, path_mappings,
)
from comicsrv.automation.integrations import MASK, InvalidFields
from comicsrv.errors import BadRequest, Conflict, NotFound
from comicsrv.extensions import db
from comicsrv.models.automation import IndexerConfig, NotificationTarget
from comicsrv.testing import Recorded, ReplayServer
from tests.automation.indexer_answers import Item, answer
from tests.factories import DownloadClientConfigFactory, IndexerConfigFactory

FIXTURES_CAPS = "tests/fixtures/indexers/prowlarr/Torznab_torznab_animetosho_caps.xml"


@pytest.fixture
def torznab():
    with ReplayServer() as server:
        server.add("GET", "/api", Recorded.file(FIXTURES_CAPS, "application/xml"),
                   query={"t": "caps"})
        server.add("GET", "/api", Recorded.text(
            answer([Item("Saga 054 (2018) (Digital)", seeders=4)], base=server.url),
            "application/rss+xml"), query={"t": "search"})
        yield server


# --- the shared checks ----------------------------------------------------------------

def test_settings_are_checked_against_the_plugins_fields(app):
    with pytest.raises(InvalidFields) as refused:
        integrations.clean_settings("indexer", "torznab",
                                    {"url": "ftp://example", "max_pages": "many"})
    assert refused.value.details == {
        "settings.url": "URL must be an http:// or https:// address",
        "settings.max_pages": "Result pages per search must be a number"}
    with pytest.raises(InvalidFields) as missing:
        integrations.clean_settings("download_client", "blackhole", {})
    assert set(missing.value.details) == {"settings.watch_folder", "settings.completed_folder"}
    # Undocumented settings (Prowlarr's host) are kept as they are.
    kept = integrations.clean_settings("indexer", "newznab",
                                       {"url": "http://127.0.0.1:1", "host": "x"})
    assert kept == {"url": "http://127.0.0.1:1", "host": "x"}


def test_a_secret_sent_back_masked_or_empty_keeps_the_stored_one(app):
    old = {"url": "http://127.0.0.1:1", "api_key": "stored-key"}
    for sent in ("", MASK, None):
        cleaned = integrations.clean_settings("indexer", "newznab",
                                              {"url": "http://127.0.0.1:1", "api_key": sent}, old)
        assert cleaned["api_key"] == "stored-key"
    assert integrations.masked_settings("indexer", "newznab", old)["api_key"] == MASK
    # Apprise URLs and webhook headers carry tokens: secrets too.
    assert "urls" in integrations.secret_fields("notifier", "apprise")
    assert "headers" in integrations.secret_fields("notifier", "webhook")


# --- indexers ---------------------------------------------------------------------------

def test_an_indexer_is_added_tested_and_changed(app, torznab):
    result = indexers.test_settings("torznab", {"url": torznab.url, "api_key": "k"})
    assert result.ok and "1 recent releases" in result.message
    row = indexers.create_indexer({"name": " Local ", "kind": "torznab", "priority": 10,
                                   "settings": {"url": torznab.url, "api_key": "k",
                                                "categories": ["7030, 7020", "7030"]}})
    assert (row.name, row.protocol, row.priority) == ("Local", "torrent", 10)
    assert row.settings["categories"] == [7030, 7020]
    row.failure_count, row.last_error = 3, "HTTP 503"
    db.session.commit()
    changed = indexers.update_indexer(row.id, {"settings": {"url": torznab.url, "api_key": ""}})
    assert changed.settings["api_key"] == "k"  # kept
    assert (changed.failure_count, changed.last_error) == (0, None)  # a fresh start
    assert indexers.test_indexer(row.id).ok
    # The test of an edited indexer uses its stored key for the empty field.
    assert indexers.test_settings("torznab", {"url": torznab.url}, row.id).ok
    assert any(r.query.get("apikey") == "k" for r in torznab.requests)


def test_indexer_refusals_name_every_field(app):
    IndexerConfigFactory(name="Taken")
    with pytest.raises(Conflict):
        indexers.create_indexer({"name": "Taken", "kind": "newznab",
                                 "settings": {"url": "http://127.0.0.1:1"}})
    with pytest.raises(InvalidFields) as refused:
        indexers.create_indexer({"name": "", "kind": "newznab", "priority": 99,
                                 "settings": {"categories": ["comics"]}})
    assert set(refused.value.details) == {"name", "priority", "settings.url"}
    with pytest.raises(InvalidFields) as categories:
        indexers.create_indexer({"name": "X", "kind": "newznab",
                                 "settings": {"url": "http://127.0.0.1:1",
                                              "categories": ["comics"]}})
    assert "7030" in categories.value.details["settings.categories"]
    with pytest.raises(BadRequest, match="no indexer plugin provides"):
        indexers.create_indexer({"name": "X", "kind": "gopher", "settings": {}})
    assert db.session.execute(db.select(IndexerConfig)).scalars().all()[0].name == "Taken"


def test_categories_come_from_the_indexers_caps(app):
    with ReplayServer() as server:
        server.add("GET", "/api", Recorded.file(
            "tests/fixtures/indexers/prowlarr/Newznab_newznab_caps.xml", "application/xml"),
            query={"t": "caps"})
        caps = indexers.categories("newznab", {"url": server.url})
    assert caps["error"] is None
    names = {c["id"]: c["name"] for c in caps["categories"]}
    assert names[8020] == "Books / Comics" and names[5000] == "TV"
    assert caps["comic_categories"] == [8020]
    down = indexers.categories("torznab", {"url": "http://127.0.0.1:9"})
    assert down["categories"] == [] and "cannot reach" in down["error"]


def test_prowlarrs_indexers_say_so(app):
    row = IndexerConfigFactory(managed_by="prowlarr")
    assert indexers.manager_label(row) == "Prowlarr"
    assert indexers.manager_label(IndexerConfigFactory()) is None


# --- download clients ---------------------------------------------------------------------

def test_a_client_keeps_one_category_and_its_secret(app, tmp_path):
    watch, done = tmp_path / "watch", tmp_path / "done"
    watch.mkdir(), done.mkdir()
    row = download_clients.create_client({
        "name": "SAB", "kind": "sabnzbd", "category": "comics",
        "settings": {"url": "http://127.0.0.1:9", "api_key": "sab-key"}})
    assert row.protocol == "usenet" and row.settings["category"] == "comics"
    changed = download_clients.update_client(row.id, {
        "category": "manga", "settings": {"url": "http://127.0.0.1:9", "api_key": MASK}})
    assert (changed.category, changed.settings["category"]) == ("manga", "manga")
    assert changed.settings["api_key"] == "sab-key"
    hole = download_clients.create_client({
        "name": "Hole", "kind": "blackhole",
        "settings": {"watch_folder": str(watch), "completed_folder": str(done)}})
    assert download_clients.test_client(hole.id).ok
    bad = download_clients.test_settings("blackhole", {"watch_folder": str(tmp_path / "no"),
                                                       "completed_folder": str(done)})
    assert not bad.ok and "no" in bad.message
    with pytest.raises(InvalidFields) as relative:
        download_clients.test_settings("blackhole", {"watch_folder": "watch",
                                                     "completed_folder": str(done)})
    assert relative.value.details == {
        "settings.watch_folder": "Folder the client watches must be an absolute path"}
    download_clients.delete_client(hole.id)
    with pytest.raises(NotFound):
        download_clients.get_client(hole.id)


def test_the_api_refuses_a_client_without_its_required_settings(client, admin_headers):
    """Before: a blackhole without folders was saved, and failed at the first
    grab at night; now the 400 names the fields."""
    response = client.post("/api/v1/downloader/clients", headers=admin_headers,
                           json={"name": "Hole", "kind": "blackhole"})
    assert response.status_code == 400
    assert set(response.json["details"]) == {"settings.watch_folder",
                                             "settings.completed_folder"}


# --- notification targets --------------------------------------------------------------------

def test_a_target_is_tested_before_and_after_it_is_saved(app):
    with ReplayServer() as server:
        server.add("POST", "/hook", Recorded.text("ok"))
        server.add("POST", "/broken", Recorded.text("no", status=500))
        settings = {"url": server.url + "/hook", "headers": {"Authorization": "Bearer t0k3n"}}
        assert notification_targets.test_settings("webhook", settings).ok
        failed = notification_targets.test_settings("webhook", {"url": server.url + "/broken"})
        assert not failed.ok and "500" in failed.message
        row = notification_targets.create_target({"name": "Hook", "kind": "webhook",
                                                  "events": ["failed", "grabbed"],
                                                  "settings": settings})
        assert row.events == ["grabbed", "failed"]  # canonical order
        assert notification_targets.test_target(row.id).ok
        assert db.session.get(NotificationTarget, row.id).last_sent_at is not None
        # Empty headers in the form keep the stored (secret) ones.
        changed = notification_targets.update_target(row.id, {
            "events": list(notification_targets.EVENT_LABELS),
            "settings": {"url": server.url + "/hook", "headers": {}}})
        assert changed.events is None  # every event
        assert changed.settings["headers"] == {"Authorization": "Bearer t0k3n"}
        assert notification_targets.test_settings("webhook", {"url": server.url + "/hook"},
                                                  row.id).ok
    sent = [r for r in server.requests if r.path == "/hook"]
    assert all(r.headers["Authorization"] == "Bearer t0k3n" for r in sent)
    assert json.loads(sent[0].body)["event"] == "test"


def test_target_refusals(app):
    with pytest.raises(InvalidFields) as refused:
        notification_targets.create_target({"name": "X", "kind": "webhook", "events": ["sunrise"],
                                            "settings": {}})
    assert set(refused.value.details) == {"events", "settings.url"}
    with pytest.raises(InvalidFields) as none_chosen:
        notification_targets.create_target({"name": "X", "kind": "apprise", "events": [],
                                            "settings": {"urls": ["json://127.0.0.1:9"]}})
    assert "at least one" in none_chosen.value.details["events"]


# --- remote path mappings --------------------------------------------------------------------

def test_mappings_need_a_local_folder_that_exists(app, tmp_path):
    client = DownloadClientConfigFactory()
    with pytest.raises(InvalidFields) as refused:
        path_mappings.create_mapping({"remote_path": "downloads", "local_path": str(tmp_path / "x"),
                                      "download_client_id": 999})
    assert set(refused.value.details) == {"remote_path", "local_path", "download_client_id"}
    row = path_mappings.create_mapping({"remote_path": "D:\\Downloads\\", "local_path": str(tmp_path),
                                        "download_client_id": client.id})
    from comicsrv.automation.paths import map_remote_path

    assert map_remote_path("d:/downloads/Saga 001.cbz", client.id) == str(tmp_path / "Saga 001.cbz")
    with pytest.raises(Conflict):
        path_mappings.create_mapping({"remote_path": "D:\\Downloads\\",
                                      "local_path": str(tmp_path), "download_client_id": client.id})
    other = tmp_path / "other"
    other.mkdir()
    moved = path_mappings.update_mapping(row.id, {"local_path": str(other)})
    assert moved.local_path == str(other) and moved.remote_path == "D:\\Downloads\\"
    path_mappings.delete_mapping(row.id)
    assert path_mappings.list_mappings() == []
