"""``/api/v1/wizard``: first-run checks against real parts (qbittorrent-nox,
a feed and a webhook receiver over loopback), then completion and 403."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from comicsrv.extensions import db
from comicsrv.models.automation import DownloadClientConfig, IndexerConfig, NotificationTarget
from comicsrv.settings_store import get_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.api.v1.test_rss import SAGA, serve
from tests.factories import UserFactory, api_key_for
from tests.peers import qbittorrent  # noqa: F401 (fixture)

URL = "/api/v1/wizard"
FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "indexers"


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


def _nothing_saved():
    for model in (DownloadClientConfig, IndexerConfig, NotificationTarget):
        assert db.session.execute(db.select(db.func.count(model.id))).scalar() == 0


def test_test_downloader_with_a_real_qbittorrent(client, admin_headers, qbittorrent):
    ok = client.post(f"{URL}/test-downloader", json={
        "kind": "qbittorrent", "settings": qbittorrent.settings()}, headers=admin_headers).json
    assert ok["ok"] is True
    wrong = client.post(f"{URL}/test-downloader", json={
        "kind": "qbittorrent", "settings": {**qbittorrent.settings(), "password": "nope"}},
        headers=admin_headers).json
    assert wrong["ok"] is False and wrong["message"]
    unknown = client.post(f"{URL}/test-downloader", json={"kind": "utorrent"}, headers=admin_headers)
    assert unknown.status_code == 400 and unknown.json["error"] == "unknown_kind"
    _nothing_saved()


def test_test_rss(client, admin_headers, server):
    body = client.post(f"{URL}/test-rss", json={"url": serve(server, SAGA)},
                       headers=admin_headers).json
    assert body["ok"] is True and body["items"] == 4
    assert body["titles"][0] == "Saga 053 (2018) (Digital) (Zone-Empire).cbz"
    server.add("GET", "/broken", Recorded.file(FIXTURES / "jackett" / "Invalid-RSS.xml",
                                               "application/rss+xml"))
    broken = client.post(f"{URL}/test-rss", json={"url": f"{server.url}/broken"},
                         headers=admin_headers).json
    assert broken["ok"] is False and "not valid RSS" in broken["message"]
    assert client.post(f"{URL}/test-rss", json={"url": "file:///etc/passwd"},
                       headers=admin_headers).status_code == 400
    _nothing_saved()


def test_test_notification_reaches_a_real_webhook(client, admin_headers, server):
    server.add("POST", "/hook", Recorded.text("", status=204))
    body = client.post(f"{URL}/test-notification", json={
        "kind": "webhook", "settings": {"url": f"{server.url}/hook"}}, headers=admin_headers).json
    assert body == {"ok": True, "message": "delivered"}
    sent = json.loads(server.requests[-1].body)
    assert sent["source"] == "comicsrv" and sent["event"] == "test"
    server.add("POST", "/down", Recorded.text("broken", status=500))
    failed = client.post(f"{URL}/test-notification", json={
        "kind": "webhook", "settings": {"url": f"{server.url}/down"}}, headers=admin_headers).json
    assert failed["ok"] is False and "500" in failed["message"]
    # Settings a plugin cannot even use are a failed check, not a crash.
    empty = client.post(f"{URL}/test-notification", json={"kind": "webhook", "settings": {}},
                        headers=admin_headers)
    assert empty.status_code == 200 and empty.json["ok"] is False
    _nothing_saved()


def test_complete_stores_settings_then_every_step_is_403(client, admin_headers, admin, server):
    assert client.get(f"{URL}/status", headers=admin_headers).json == {"completed": False}
    bad = client.post(f"{URL}/complete", json={"settings": {"automation.rss_interval_minutes": 1}},
                      headers=admin_headers)
    assert bad.status_code == 400 and get_setting("wizard.completed") is False
    done = client.post(f"{URL}/complete", json={"settings": {
        "automation.rss_interval_minutes": 30, "postprocess.transfer_mode": "copy"}},
        headers=admin_headers)
    assert done.status_code == 200 and done.json == {"completed": True}
    assert get_setting("automation.rss_interval_minutes") == 30
    assert get_setting("postprocess.transfer_mode") == "copy"
    assert client.get(f"{URL}/status", headers=admin_headers).json == {"completed": True}
    assert client.get("/api/v1/program/status", headers=admin_headers).json["first_run"] is False
    for step, body in (("test-downloader", {"kind": "blackhole"}),
                       ("test-rss", {"url": serve(server, SAGA)}),
                       ("test-notification", {"kind": "webhook"}), ("complete", {})):
        response = client.post(f"{URL}/{step}", json=body, headers=admin_headers)
        assert (response.status_code, response.json["error"]) == (403, "wizard_completed"), step
    assert server.requests == []  # the feed was never read


def test_only_a_system_admin_runs_the_wizard(client):
    headers = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    assert client.get(f"{URL}/status", headers=headers).status_code == 403
    assert client.post(f"{URL}/complete", json={}, headers=headers).status_code == 403
    assert get_setting("wizard.completed") is False
