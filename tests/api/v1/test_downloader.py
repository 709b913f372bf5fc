"""``/api/v1/downloader``: download clients and their items, against a real
qbittorrent-nox on loopback (tests/peers.py) and the real blackhole client."""
from __future__ import annotations

import pytest

from comicsrv.automation.integrations import instance_for
from comicsrv.extensions import db
from comicsrv.models.automation import (
    DL_QUEUED, DL_REMOVED, SNATCHED, WANTED, Download, DownloadClientConfig, WatchedIssue,
)
from tests.factories import (
    DownloadClientConfigFactory, DownloadFactory, UserFactory, WatchedIssueFactory, api_key_for,
)
from tests.peers import qbittorrent  # noqa: F401 (fixture)
from tests.plugins.test_qbittorrent import comic_torrent, release, served, wait_for

CLIENTS = "/api/v1/downloader/clients"
ITEMS = "/api/v1/downloader/items"


def qbt_body(peer, **extra):
    return {"name": "qBittorrent", "kind": "qbittorrent", "category": "comics",
            "settings": peer.settings(category="comics", **extra)}


def test_client_crud_masks_secrets_and_keeps_them(client, admin_headers, qbittorrent):
    response = client.post(CLIENTS, json=qbt_body(qbittorrent), headers=admin_headers)
    assert response.status_code == 201
    created = response.json
    assert (created["kind"], created["protocol"], created["enabled"]) == ("qbittorrent", "torrent", True)
    assert created["settings"]["password"] == "********"
    assert created["settings"]["username"] == qbittorrent.username
    listed = client.get(CLIENTS, headers=admin_headers).json
    assert listed["total"] == 1 and listed["items"][0]["settings"]["password"] == "********"

    # The masked value sent back keeps the stored password; the check still logs in.
    settings = {**created["settings"], "save_path": "/downloads/comics"}
    changed = client.patch(f"{CLIENTS}/{created['id']}", json={"settings": settings, "priority": 3},
                           headers=admin_headers).json
    assert changed["priority"] == 3 and changed["settings"]["save_path"] == "/downloads/comics"
    row = db.session.get(DownloadClientConfig, created["id"])
    assert row.settings["password"] == qbittorrent.password
    assert client.post(f"{CLIENTS}/{created['id']}/test", headers=admin_headers).json["ok"] is True

    assert client.delete(f"{CLIENTS}/{created['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"{CLIENTS}/{created['id']}", headers=admin_headers).status_code == 404


def test_connectivity_check_says_why_it_fails(client, admin_headers, qbittorrent, tmp_path):
    wrong = client.post(CLIENTS, json={**qbt_body(qbittorrent), "settings": {
        **qbittorrent.settings(), "password": "not-it"}}, headers=admin_headers).json
    result = client.post(f"{CLIENTS}/{wrong['id']}/test", headers=admin_headers).json
    assert result["ok"] is False and result["message"]
    down = client.post(CLIENTS, json={"name": "Down", "kind": "qbittorrent",
                                      "settings": {"url": "http://127.0.0.1:9"}},
                       headers=admin_headers).json
    assert client.post(f"{CLIENTS}/{down['id']}/test", headers=admin_headers).json["ok"] is False
    (tmp_path / "watch").mkdir()
    (tmp_path / "done").mkdir()
    hole = client.post(CLIENTS, json={"name": "Hole", "kind": "blackhole", "settings": {
        "watch_folder": str(tmp_path / "watch"), "completed_folder": str(tmp_path / "done")}},
        headers=admin_headers).json
    assert client.post(f"{CLIENTS}/{hole['id']}/test", headers=admin_headers).json["ok"] is True


@pytest.mark.parametrize("body, status, code", [
    ({"name": "X", "kind": "utorrent"}, 400, "unknown_kind"),
    ({"name": "X"}, 400, "validation_error"),
    ({"name": "", "kind": "blackhole"}, 400, "validation_error"),
])
def test_bad_clients_are_clear_errors(client, admin_headers, body, status, code):
    response = client.post(CLIENTS, json=body, headers=admin_headers)
    assert (response.status_code, response.json["error"]) == (status, code)


def test_a_taken_name_is_a_conflict(client, admin_headers):
    DownloadClientConfigFactory(name="Taken")
    response = client.post(CLIENTS, json={"name": "Taken", "kind": "blackhole"}, headers=admin_headers)
    assert response.status_code == 409 and response.json["error"] == "name_taken"
    other = DownloadClientConfigFactory(name="Other")
    assert client.patch(f"{CLIENTS}/{other.id}", json={"name": "Taken"},
                        headers=admin_headers).status_code == 409


def _incomplete_torrent(peer, tmp_path, name):
    """A torrent qBittorrent cannot finish (no peers): it stays downloading."""
    _, torrent, info_hash = comic_torrent(tmp_path / name, f"{name}.cbz")
    return torrent, info_hash


def test_items_across_clients_pause_resume_delete(client, admin_headers, qbittorrent, tmp_path):
    empty = qbittorrent.downloads / "empty"
    empty.mkdir()
    row = DownloadClientConfigFactory(name="qBittorrent", kind="qbittorrent", category="comics",
                                      settings=qbittorrent.settings(category="comics",
                                                                    save_path=str(empty)))
    DownloadClientConfigFactory(name="Unreachable", kind="qbittorrent",
                                settings={"url": "http://127.0.0.1:9"})
    plugin = instance_for("download_client", row)
    tracked_torrent, tracked_hash = _incomplete_torrent(qbittorrent, tmp_path, "tracked")
    other_torrent, other_hash = _incomplete_torrent(qbittorrent, tmp_path, "other")
    for torrent in (tracked_torrent, other_torrent):
        with served(torrent) as server:
            plugin.add(release(f"{server.url}/download/1.torrent"), category="comics")
    issue = WatchedIssueFactory(state=SNATCHED)
    download = DownloadFactory(client_id=row.id, client_item_id=tracked_hash.upper(),
                               watched_issue_id=issue.id, title="Captain Science 001",
                               protocol="torrent", state=DL_QUEUED)

    body = client.get(ITEMS, headers=admin_headers).json
    assert sorted((i["id"], i["download_id"], i["client"]) for i in body["items"]) == sorted(
        [(tracked_hash, download.id, "qBittorrent"), (other_hash, None, "qBittorrent")])
    assert list(body["errors"]) == ["Unreachable"]
    assert (body["total"], body["page"], body["has_more"]) == (2, 1, False)

    both = [tracked_hash, other_hash]
    result = client.post(f"{ITEMS}/pause", json={"ids": both}, headers=admin_headers).json
    assert result == {"done": both, "not_found": [], "errors": {}}
    wait_for(lambda: {s.state for s in plugin.status(both)} == {"paused"}, what="both paused")
    assert db.session.get(Download, download.id).state == "paused"

    client.post(f"{ITEMS}/resume", json={"ids": both}, headers=admin_headers)
    wait_for(lambda: "paused" not in {s.state for s in plugin.status(both)}, what="resumed")

    result = client.post(f"{ITEMS}/delete", json={"ids": [*both, "f" * 40], "delete_files": True},
                         headers=admin_headers).json
    assert result["done"] == both and result["not_found"] == ["f" * 40]
    wait_for(lambda: not plugin.status(both), what="removed")
    # The tracked download is removed and its issue wanted again.
    assert db.session.get(Download, download.id).state == DL_REMOVED
    assert db.session.get(WatchedIssue, issue.id).state == WANTED


def test_unknown_items_are_a_404(client, admin_headers):
    response = client.post(f"{ITEMS}/pause", json={"ids": ["abc"]}, headers=admin_headers)
    assert response.status_code == 404 and "abc" in response.json["message"]
    assert client.post(f"{ITEMS}/delete", json={"ids": []},
                       headers=admin_headers).status_code == 400


def test_only_a_system_admin_manages_downloaders(client):
    headers = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    assert client.get(CLIENTS, headers=headers).status_code == 403
    assert client.get(ITEMS, headers=headers).status_code == 403
