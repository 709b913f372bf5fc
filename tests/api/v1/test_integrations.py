"""Codex's user and admin integrations with the built-in reading log
webhook, against a real HTTP receiver on 127.0.0.1: the admin sets it up
and tests it, users connect with their own token, syncs send what changed
since the last one (signed), a refused sync keeps the mark."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from comicsrv.extensions import db
from comicsrv.models import Book, UserIntegration
from tests.api.v1.test_automation_config import Receiver
from tests.factories import UserFactory, api_key_for

MASK = "********"


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def alice(app):
    return UserFactory(username="alice")


@pytest.fixture
def alice_headers(alice):
    return {"X-API-Key": api_key_for(alice, ["BooksRead", "BooksWrite"])}


@pytest.fixture
def tracker(client, admin_headers, receiver):
    answer = client.post("/api/v1/admin/integrations", headers=admin_headers, json={
        "name": "Tracker", "kind": "reading_webhook",
        "settings": {"url": f"{receiver.url}/reading", "secret": "shh"}})
    assert answer.status_code == 201, answer.json
    return answer.json


def _signature_ok(received) -> bool:
    body = json.dumps(received["body"], separators=(",", ":")).encode()
    expected = "sha256=" + hmac.new(b"shh", body, hashlib.sha256).hexdigest()
    return received["headers"].get("X-Comicsrv-Signature") == expected


def set_progress(client, headers, book_id, page, completed=False):
    answer = client.put(f"/api/v1/books/{book_id}/progress", headers=headers,
                        json={"current_page": page, "is_completed": completed})
    assert answer.status_code == 200, answer.json


def test_admin_sets_up_and_tests_an_integration_secrets_masked(client, admin_headers, tracker,
                                                               receiver):
    assert tracker["settings"] == {"url": f"{receiver.url}/reading", "secret": MASK}
    tested = client.post(f"/api/v1/admin/integrations/{tracker['id']}/test", headers=admin_headers)
    assert tested.json == {"ok": True, "message": "the receiver answered"}
    assert receiver.received[0]["body"]["event"] == "test" and _signature_ok(receiver.received[0])
    listed = client.get("/api/v1/admin/integrations", headers=admin_headers).json
    assert listed["total"] == 1 and listed["items"][0]["settings"]["secret"] == MASK
    unknown = client.post("/api/v1/admin/integrations", headers=admin_headers, json={
        "name": "x", "kind": "anilist", "settings": {}})
    assert unknown.status_code == 400 and unknown.json["error"] == "unknown_kind"
    no_url = client.post("/api/v1/admin/integrations", headers=admin_headers, json={
        "name": "x", "kind": "reading_webhook", "settings": {}})
    assert no_url.status_code == 400 and no_url.json["details"] == {"missing": ["url"]}


def test_a_user_connects_syncs_what_changed_and_disconnects(
        client, alice_headers, tracker, receiver, scanned_library):
    listing = client.get("/api/v1/user/integrations", headers=alice_headers).json
    assert listing["connected"] == []
    assert listing["available"][0]["name"] == "Tracker"
    assert {f["name"] for f in listing["available"][0]["user_settings_fields"]} == {"account",
                                                                                    "token"}
    connected = client.post("/api/v1/user/integrations", headers=alice_headers, json={
        "name": "Tracker", "settings": {"account": "alice@tracker", "token": "t0ken"}})
    assert connected.status_code == 201, connected.json
    assert connected.json["settings"] == {"account": "alice@tracker", "token": MASK}

    books = db.session.execute(db.select(Book).where(Book.state == "ok", Book.page_count >= 3)
                               .order_by(Book.id)).scalars().all()
    set_progress(client, alice_headers, books[0].id, 2)
    set_progress(client, alice_headers, books[1].id, 3, completed=True)
    synced = client.post("/api/v1/user/integrations/Tracker/sync", headers=alice_headers)
    assert synced.status_code == 200 and synced.json["sent"] == 2, synced.json
    sent = receiver.received[-1]
    assert _signature_ok(sent) and sent["headers"]["Authorization"] == "Bearer t0ken"
    assert sent["body"]["account"] == "alice@tracker" and sent["body"]["event"] == "reading"
    assert [(r["book_id"], r["page"], r["completed"]) for r in sent["body"]["records"]] == [
        (books[0].id, 2, False), (books[1].id, 3, True)]

    # Only what changed since goes next time.
    assert client.post("/api/v1/user/integrations/Tracker/sync",
                       headers=alice_headers).json["sent"] == 0
    set_progress(client, alice_headers, books[0].id, 3)
    again = client.post("/api/v1/user/integrations/Tracker/sync", headers=alice_headers).json
    assert again["sent"] == 1 and receiver.received[-1]["body"]["records"][0]["page"] == 3

    tested = client.post("/api/v1/user/integrations/Tracker/test", headers=alice_headers).json
    assert tested["ok"] is True
    assert client.delete("/api/v1/user/integrations/Tracker",
                         headers=alice_headers).status_code == 204
    assert client.post("/api/v1/user/integrations/Tracker/sync",
                       headers=alice_headers).status_code == 404


def test_a_refused_sync_is_said_and_keeps_the_mark(client, alice, alice_headers, admin_headers,
                                                    scanned_library):
    refusing = Receiver(status=401)
    try:
        created = client.post("/api/v1/admin/integrations", headers=admin_headers, json={
            "name": "Strict", "kind": "reading_webhook", "settings": {"url": refusing.url}}).json
        client.post("/api/v1/user/integrations", headers=alice_headers,
                    json={"name": "Strict", "settings": {"token": "wrong"}})
        book = db.session.execute(db.select(Book).where(Book.state == "ok")).scalars().first()
        set_progress(client, alice_headers, book.id, 2)
        answer = client.post("/api/v1/user/integrations/Strict/sync", headers=alice_headers)
        assert answer.status_code == 503 and answer.json["error"] == "sync_failed"
        assert "refused the token" in answer.json["message"]
        row = db.session.execute(db.select(UserIntegration)).scalar_one()
        db.session.refresh(row)
        assert row.synced_until is None and "refused" in row.last_error
        shown = client.get("/api/v1/user/integrations", headers=alice_headers).json
        assert shown["connected"][0]["last_error"]
        # The admin turns it off: syncing says so.
        client.patch(f"/api/v1/admin/integrations/{created['id']}", headers=admin_headers,
                     json={"enabled": False})
        off = client.post("/api/v1/user/integrations/Strict/sync", headers=alice_headers)
        assert off.status_code == 409 and off.json["error"] == "integration_disabled"
    finally:
        refusing.close()


def test_the_admin_syncs_every_connected_user(client, admin_headers, tracker, receiver,
                                              scanned_library):
    book = db.session.execute(db.select(Book).where(Book.state == "ok")).scalars().first()
    for name in ("ann", "ben"):
        user = UserFactory(username=name)
        headers = {"X-API-Key": api_key_for(user, ["BooksRead", "BooksWrite"])}
        client.post("/api/v1/user/integrations", headers=headers,
                    json={"name": "Tracker", "settings": {}})
        set_progress(client, headers, book.id, 1)
    answer = client.post(f"/api/v1/admin/integrations/{tracker['id']}/sync", headers=admin_headers)
    assert answer.json == {"users": 2, "failed": {}}
    accounts = sorted(r["body"]["account"] for r in receiver.received if r["body"]["records"])
    assert accounts == ["ann", "ben"]  # no account given: the user name


def test_connections_are_by_available_name_and_admin_routes_are_admin_only(
        client, alice_headers, tracker):
    assert client.post("/api/v1/user/integrations", headers=alice_headers,
                       json={"name": "Nope", "settings": {}}).status_code == 404
    assert client.get("/api/v1/admin/integrations", headers=alice_headers).status_code == 403
    assert client.post(f"/api/v1/admin/integrations/{tracker['id']}/test",
                       headers=alice_headers).status_code == 403
