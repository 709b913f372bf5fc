"""``/api/v1/indexers``, ``/api/v1/notification-targets`` and
``/api/v1/path-mappings``: what the automation needs configured, through
the real plugins against real HTTP servers on 127.0.0.1 (a Newznab indexer
replaying recorded answers, a webhook receiver), secrets never shown."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from comicsrv.automation.paths import map_remote_path
from comicsrv.extensions import db
from comicsrv.models.automation import IndexerConfig, NotificationTarget
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.factories import DownloadClientConfigFactory, IndexerConfigFactory, api_key_for

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "indexers"
XML = "application/xml"
MASK = "********"


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def plain_headers(reader):
    return {"X-API-Key": api_key_for(reader, ["LibrariesRead"])}


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps what it is sent."""

    def __init__(self, status: int = 200):
        self.received: list[dict] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append({"path": self.path, "headers": dict(self.headers),
                                       "body": json.loads(body or b"null")})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


def _newznab(server):
    server.add("GET", "/api", Recorded.file(FIXTURES / "prowlarr" / "Newznab_newznab_caps.xml",
                                            XML), query={"t": "caps"})
    server.add("GET", "/api", Recorded.file(FIXTURES / "sonarr" / "Newznab_newznab_nzb_su.xml",
                                            XML), query={"t": "search"})


# --- indexers -------------------------------------------------------------------------

def test_indexer_crud_masks_the_api_key_and_keeps_it_when_sent_back(client, admin_headers, server):
    created = client.post("/api/v1/indexers", headers=admin_headers, json={
        "name": "nzb.su", "kind": "newznab", "priority": 10,
        "settings": {"url": server.url, "api_key": "s3cret-key", "categories": [7030]}})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["protocol"] == "usenet" and body["priority"] == 10 and body["enabled"] is True
    assert body["settings"] == {"url": server.url, "api_key": MASK, "categories": [7030]}
    assert "s3cret-key" not in created.get_data(as_text=True)

    # The form sends back what it was shown: the stored key stays.
    changed = client.patch(f"/api/v1/indexers/{body['id']}", headers=admin_headers, json={
        "name": "nzb.su (primary)", "settings": {**body["settings"], "categories": [7030, 8020]}})
    assert changed.status_code == 200, changed.json
    row = db.session.get(IndexerConfig, body["id"])
    db.session.refresh(row)
    assert row.settings["api_key"] == "s3cret-key" and row.settings["categories"] == [7030, 8020]
    assert row.name == "nzb.su (primary)"

    listed = client.get("/api/v1/indexers", headers=admin_headers,
                        query_string={"kind": "newznab"}).json
    assert listed["total"] == 1 and listed["items"][0]["settings"]["api_key"] == MASK
    assert client.get("/api/v1/indexers", headers=admin_headers,
                      query_string={"kind": "torznab"}).json["total"] == 0

    assert client.delete(f"/api/v1/indexers/{body['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"/api/v1/indexers/{body['id']}", headers=admin_headers).status_code == 404


def test_indexer_refusals_are_clear_400s_and_409s(client, admin_headers, server):
    unknown = client.post("/api/v1/indexers", headers=admin_headers, json={
        "name": "x", "kind": "gopher", "settings": {}})
    assert unknown.status_code == 400 and "gopher" in unknown.json["message"]
    assert "newznab" in unknown.json["message"]  # the known kinds are named
    missing = client.post("/api/v1/indexers", headers=admin_headers, json={
        "name": "x", "kind": "newznab", "settings": {"api_key": "k"}})
    assert missing.status_code == 400 and missing.json["details"] == {"settings.url": "URL is required"}
    bad_protocol = client.post("/api/v1/indexers", headers=admin_headers, json={
        "name": "feed", "kind": "rss", "settings": {"url": server.url, "protocol": "ftp"}})
    assert bad_protocol.status_code == 400 and "protocol" in bad_protocol.json["message"]
    IndexerConfigFactory(name="Taken")
    taken = client.post("/api/v1/indexers", headers=admin_headers, json={
        "name": "Taken", "kind": "newznab", "settings": {"url": server.url}})
    assert taken.status_code == 409 and taken.json["error"] == "name_taken"
    masked_without_secret = client.post("/api/v1/indexers", headers=admin_headers, json={
        "name": "y", "kind": "newznab", "settings": {"url": server.url, "api_key": MASK}})
    assert masked_without_secret.status_code == 400
    assert masked_without_secret.json["error"] == "masked_secret"


def test_an_rss_feed_indexer_takes_its_protocol_from_its_settings(client, admin_headers, server):
    created = client.post("/api/v1/indexers", headers=admin_headers, json={
        "name": "Feed", "kind": "rss", "settings": {"url": f"{server.url}/rss",
                                                     "protocol": "torrent"}})
    assert created.status_code == 201 and created.json["protocol"] == "torrent"
    changed = client.patch(f"/api/v1/indexers/{created.json['id']}", headers=admin_headers,
                           json={"settings": {"url": f"{server.url}/rss", "protocol": "usenet"}})
    assert changed.json["protocol"] == "usenet"


def test_indexer_test_and_caps_ask_the_real_indexer(client, admin_headers, server):
    _newznab(server)
    row = IndexerConfigFactory(name="Local", kind="newznab", protocol="usenet",
                               settings={"url": server.url, "api_key": "k"},
                               failure_count=3, last_error="HTTP 500")
    caps = client.get(f"/api/v1/indexers/{row.id}/caps", headers=admin_headers)
    assert caps.status_code == 200, caps.json
    assert caps.json["limits"] == {"max": 60, "default": 25}
    assert caps.json["searching"]["search"]["available"] is True
    assert {c["id"] for c in caps.json["categories"]} == {5000, 7000, 8000}
    assert caps.json["comic_categories"] == [8020]

    tested = client.post(f"/api/v1/indexers/{row.id}/test", headers=admin_headers)
    assert tested.status_code == 200 and tested.json["ok"] is True, tested.json
    assert "recent releases" in tested.json["message"]
    db.session.expire_all()
    row = db.session.get(IndexerConfig, row.id)
    assert row.failure_count == 0 and row.last_error is None  # the back-off ended


def test_a_failing_indexer_test_says_why_and_records_it(client, admin_headers, server):
    server.add("GET", "/api", Recorded.file(FIXTURES / "sonarr" / "Newznab_unauthorized.xml", XML))
    row = IndexerConfigFactory(name="Bad", kind="newznab", protocol="usenet",
                               settings={"url": server.url, "api_key": "wrong"})
    tested = client.post(f"/api/v1/indexers/{row.id}/test", headers=admin_headers).json
    assert tested["ok"] is False and "Incorrect user credentials" in tested["message"]
    assert "Incorrect user credentials" in db.session.get(IndexerConfig, row.id).last_error
    caps = client.get(f"/api/v1/indexers/{row.id}/caps", headers=admin_headers)
    assert caps.status_code == 503 and caps.json["error"] == "indexer_unavailable"


def test_settings_are_tested_before_they_are_saved(client, admin_headers, server):
    _newznab(server)
    answer = client.post("/api/v1/indexers/test", headers=admin_headers, json={
        "kind": "newznab", "settings": {"url": server.url, "api_key": "k"}})
    assert answer.status_code == 200 and answer.json["ok"] is True
    unreachable = client.post("/api/v1/indexers/test", headers=admin_headers, json={
        "kind": "newznab", "settings": {"url": "http://127.0.0.1:9", "api_key": "k"}}).json
    assert unreachable["ok"] is False and unreachable["message"]
    assert db.session.execute(db.select(IndexerConfig)).first() is None


# --- notification targets ------------------------------------------------------------

def test_notification_target_crud_and_a_test_delivered_to_a_real_webhook(
        client, admin_headers, receiver):
    created = client.post("/api/v1/notification-targets", headers=admin_headers, json={
        "name": "Home", "kind": "webhook", "events": ["failed", "grabbed"],
        "settings": {"url": f"{receiver.url}/hook?token=abc123"}})
    assert created.status_code == 201, created.json
    target = created.json
    # Events in their canonical order; the token in the URL masked.
    assert target["events"] == ["grabbed", "failed"]
    assert target["settings"]["url"] == f"{receiver.url}/hook?token={MASK}"

    tested = client.post(f"/api/v1/notification-targets/{target['id']}/test",
                         headers=admin_headers)
    assert tested.status_code == 200 and tested.json == {"ok": True, "message": "delivered"}
    assert receiver.received[0]["path"] == "/hook?token=abc123"
    assert receiver.received[0]["body"]["event"] == "test"
    assert client.get(f"/api/v1/notification-targets/{target['id']}",
                      headers=admin_headers).json["last_sent_at"]

    # The URL sent back masked keeps the token; events null means all.
    changed = client.patch(f"/api/v1/notification-targets/{target['id']}",
                           headers=admin_headers,
                           json={"settings": target["settings"], "events": None})
    assert changed.status_code == 200 and changed.json["events"] is None
    db.session.expire_all()
    assert db.session.get(NotificationTarget, target["id"]).settings["url"].endswith("abc123")

    assert client.delete(f"/api/v1/notification-targets/{target['id']}",
                         headers=admin_headers).status_code == 204
    assert client.get("/api/v1/notification-targets", headers=admin_headers).json["total"] == 0


def test_a_failing_target_test_is_recorded_with_the_reason(client, admin_headers):
    failing = Receiver(status=500)
    try:
        created = client.post("/api/v1/notification-targets", headers=admin_headers, json={
            "name": "Broken", "kind": "webhook", "settings": {"url": failing.url}}).json
        tested = client.post(f"/api/v1/notification-targets/{created['id']}/test",
                             headers=admin_headers).json
    finally:
        failing.close()
    assert tested["ok"] is False and "500" in tested["message"]
    shown = client.get(f"/api/v1/notification-targets/{created['id']}", headers=admin_headers).json
    assert "500" in shown["last_error"] and shown["last_error_at"]


def test_target_refusals(client, admin_headers, receiver):
    bad_event = client.post("/api/v1/notification-targets", headers=admin_headers, json={
        "name": "x", "kind": "webhook", "events": ["exploded"], "settings": {"url": receiver.url}})
    assert bad_event.status_code == 400 and "events" in bad_event.json["message"]
    no_url = client.post("/api/v1/notification-targets", headers=admin_headers, json={
        "name": "x", "kind": "webhook", "settings": {}})
    assert no_url.status_code == 400 and no_url.json["details"] == {"settings.url": "URL is required"}
    unknown = client.post("/api/v1/notification-targets", headers=admin_headers, json={
        "name": "x", "kind": "carrier-pigeon", "settings": {}})
    assert unknown.status_code == 400 and unknown.json["error"] == "unknown_kind"


def test_target_settings_are_tested_before_they_are_saved(client, admin_headers, receiver):
    answer = client.post("/api/v1/notification-targets/test", headers=admin_headers,
                         json={"kind": "webhook", "settings": {"url": receiver.url}})
    assert answer.json == {"ok": True, "message": "delivered"}
    assert receiver.received[0]["body"]["title"] == "comicsrv test"
    assert db.session.execute(db.select(NotificationTarget)).first() is None


# --- remote path mappings -------------------------------------------------------------

def test_path_mapping_crud_and_resolving_a_reported_path(client, admin_headers, tmp_path):
    (tmp_path / "downloads" / "Saga 001").mkdir(parents=True)
    (tmp_path / "win").mkdir()  # a local folder must exist, as Sonarr checks
    (tmp_path / "w2").mkdir()
    qbit = DownloadClientConfigFactory(name="qBittorrent", kind="qbittorrent")
    created = client.post("/api/v1/path-mappings", headers=admin_headers, json={
        "remote_path": "/downloads/", "local_path": str(tmp_path / "downloads"),
        "download_client_id": qbit.id})
    assert created.status_code == 201, created.json
    assert created.json["remote_path"] == "/downloads/"  # as the client reports it
    # The pipeline's own lookup uses it.
    assert map_remote_path("/downloads/Saga 001", qbit.id) == str(tmp_path / "downloads/Saga 001")

    resolved = client.get("/api/v1/path-mappings/resolve", headers=admin_headers, query_string={
        "path": "/downloads/Saga 001", "download_client_id": qbit.id}).json
    assert resolved == {"remote_path": "/downloads/Saga 001",
                        "local_path": str(tmp_path / "downloads" / "Saga 001"),
                        "mapped": True, "exists": True}
    # Another client is not mapped by it.
    other = client.get("/api/v1/path-mappings/resolve", headers=admin_headers,
                       query_string={"path": "/downloads/Saga 001"}).json
    assert other["mapped"] is False and other["local_path"] == "/downloads/Saga 001"

    windows = client.post("/api/v1/path-mappings", headers=admin_headers, json={
        "remote_path": "D:\\Downloads", "local_path": str(tmp_path / "win")}).json
    assert client.get("/api/v1/path-mappings/resolve", headers=admin_headers, query_string={
        "path": "d:/downloads/Saga 002"}).json["local_path"] == str(tmp_path / "win" / "Saga 002")

    changed = client.patch(f"/api/v1/path-mappings/{windows['id']}", headers=admin_headers,
                           json={"local_path": str(tmp_path / "w2")})
    assert changed.status_code == 200 and changed.json["local_path"] == str(tmp_path / "w2")
    listed = client.get("/api/v1/path-mappings", headers=admin_headers).json
    assert [m["remote_path"] for m in listed["items"]] == ["/downloads/", "D:\\Downloads"]
    assert client.get("/api/v1/path-mappings", headers=admin_headers, query_string={
        "download_client_id": qbit.id}).json["total"] == 1
    assert client.delete(f"/api/v1/path-mappings/{windows['id']}",
                         headers=admin_headers).status_code == 204
    assert client.get(f"/api/v1/path-mappings/{windows['id']}",
                      headers=admin_headers).status_code == 404


def test_path_mapping_refusals(client, admin_headers, tmp_path):
    cases = [({"remote_path": "downloads", "local_path": str(tmp_path)}, 400, "remote_path"),
             ({"remote_path": "/downloads", "local_path": "relative/dir"}, 400, "local_path"),
             ({"remote_path": "/downloads", "local_path": str(tmp_path),
               "download_client_id": 4242}, 400, "No such download client")]
    for body, status, words in cases:
        answer = client.post("/api/v1/path-mappings", headers=admin_headers, json=body)
        assert answer.status_code == status and words in answer.json["message"], answer.json
    first = client.post("/api/v1/path-mappings", headers=admin_headers,
                        json={"remote_path": "D:\\Comics", "local_path": str(tmp_path)})
    assert first.status_code == 201
    # Windows paths compare without case: the same folder twice is a conflict.
    (tmp_path / "x").mkdir()
    again = client.post("/api/v1/path-mappings", headers=admin_headers,
                        json={"remote_path": "d:/comics/", "local_path": str(tmp_path / "x")})
    assert again.status_code == 409 and again.json["error"] == "duplicate_mapping"


@pytest.mark.parametrize("path", ["/api/v1/indexers", "/api/v1/notification-targets",
                                  "/api/v1/path-mappings"])
def test_only_an_admin_configures_the_automation(client, plain_headers, path):
    assert client.get(path).status_code == 401
    answer = client.get(path, headers=plain_headers)
    assert answer.status_code == 403 and answer.json["error"] == "forbidden"


def test_a_mask_inside_a_url_with_no_stored_secret_is_refused(client, admin_headers, receiver):
    answer = client.post("/api/v1/notification-targets", headers=admin_headers, json={
        "name": "x", "kind": "webhook", "settings": {"url": f"{receiver.url}/?token={MASK}"}})
    assert answer.status_code == 400 and answer.json["error"] == "masked_secret"
