"""``/api/v1/admin/settings``: SystemAdmin only, typed, validated, with history."""
import pytest

from comicsrv.settings_store import SETTINGS, get_setting
from tests.factories import AdminFactory, api_key_for

URL = "/api/v1/admin/settings"


def test_list_shows_every_setting_with_its_default_and_type(client, admin_headers):
    body = client.get(URL, headers=admin_headers).json
    assert body["total"] == len(SETTINGS) and body["page"] == 1 and body["has_more"] is False
    by_key = {item["key"]: item for item in body["items"]}
    assert list(by_key) == list(SETTINGS)
    assert by_key["covers.size"] == {
        "key": "covers.size", "value": 400, "default": 400, "is_default": True,
        "type": "integer", "description": "Default edge of a cover thumbnail, in pixels.",
        "choices": None, "minimum": 64, "maximum": 2000, "nullable": False, "updated_at": None,
        "updated_by": None}
    assert by_key["auth.allow_registration"]["value"] is False
    assert by_key["filesystem.allowed_roots"]["type"] == "path_list"


def test_list_pages_with_the_v1_envelope(client, admin_headers):
    body = client.get(URL, query_string={"page": 2, "page_size": 4}, headers=admin_headers).json
    assert [i["key"] for i in body["items"]] == list(SETTINGS)[4:8]
    assert (body["total"], body["total_pages"], body["has_more"]) == (
        len(SETTINGS), -(-len(SETTINGS) // 4), len(SETTINGS) > 8)


def test_put_get_and_history(client, admin, admin_headers):
    response = client.put(f"{URL}/covers.size", json={"value": 640}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["value"] == 640 and response.json["updated_by"] == "admin"
    assert response.json["is_default"] is False and response.json["updated_at"]
    assert client.get(f"{URL}/covers.size", headers=admin_headers).json["value"] == 640
    assert get_setting("covers.size") == 640

    other = AdminFactory(username="second")
    other_headers = {"X-API-Key": api_key_for(other, ["SystemAdmin"])}
    client.put(f"{URL}/covers.size", json={"value": 800}, headers=other_headers)

    history = client.get(f"{URL}/covers.size/history", headers=admin_headers).json
    assert history["total"] == 2
    assert [(h["old_value"], h["new_value"], h["changed_by"], h["changed_by_id"])
            for h in history["items"]] == [(640, 800, "second", other.id),
                                            (400, 640, "admin", admin.id)]
    assert all(h["key"] == "covers.size" and h["changed_at"] for h in history["items"])


def test_history_pages_newest_first(client, admin_headers):
    for size in range(100, 105):
        client.put(f"{URL}/covers.size", json={"value": size}, headers=admin_headers)
    body = client.get(f"{URL}/covers.size/history", query_string={"page_size": 2, "page": 2},
                      headers=admin_headers).json
    assert [h["new_value"] for h in body["items"]] == [102, 101]
    assert (body["total"], body["total_pages"], body["has_more"]) == (5, 3, True)


@pytest.mark.parametrize("key, value, message", [
    ("covers.size", 10, "covers.size: must be between 64 and 2000"),
    ("covers.size", "400", "covers.size: must be a whole number"),
    ("auth.allow_registration", "true", "auth.allow_registration: must be true or false"),
    ("filesystem.allowed_roots", ["relative/path"],
     "filesystem.allowed_roots: 'relative/path' is not an absolute path"),
])
def test_invalid_value_is_400_with_a_message(client, admin_headers, key, value, message):
    response = client.put(f"{URL}/{key}", json={"value": value}, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_value"
    assert response.json["message"] == message
    assert client.get(f"{URL}/{key}", headers=admin_headers).json["is_default"] is True


def test_missing_value_or_bad_body_is_400(client, admin_headers):
    response = client.put(f"{URL}/covers.size", json={}, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["error"] == "validation_error" and "value" in response.json["message"]
    response = client.put(f"{URL}/covers.size", data="not json", headers=admin_headers,
                          content_type="application/json")
    assert response.status_code == 400


def test_unknown_key_is_404(client, admin_headers):
    for response in (client.get(f"{URL}/no.such", headers=admin_headers),
                     client.put(f"{URL}/no.such", json={"value": 1}, headers=admin_headers),
                     client.post(f"{URL}/no.such/reset", headers=admin_headers),
                     client.get(f"{URL}/no.such/history", headers=admin_headers)):
        assert response.status_code == 404
        assert response.json == {"error": "unknown_setting",
                                 "message": "Unknown setting 'no.such'", "details": None}


def test_bulk_update_is_all_or_nothing(client, admin_headers):
    response = client.post(f"{URL}/bulk", headers=admin_headers, json={"settings": {
        "library.public_reading": True, "covers.size": 5000, "made.up": 1}})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_value"
    assert response.json["details"] == {"covers.size": "must be between 64 and 2000",
                                        "made.up": "unknown setting"}
    assert response.json["message"].startswith("No setting was changed: ")
    assert get_setting("library.public_reading") is False

    response = client.post(f"{URL}/bulk", headers=admin_headers, json={"settings": {
        "library.public_reading": True, "library.recent_days": 14}})
    assert response.status_code == 200
    assert [(i["key"], i["value"]) for i in response.json["items"]] == [
        ("library.public_reading", True), ("library.recent_days", 14)]
    assert response.json["total"] == 2
    assert get_setting("library.recent_days") == 14


def test_bulk_needs_settings(client, admin_headers):
    assert client.post(f"{URL}/bulk", json={}, headers=admin_headers).status_code == 400
    response = client.post(f"{URL}/bulk", json={"settings": {}}, headers=admin_headers)
    assert response.status_code == 400 and response.json["message"] == "No settings given"


def test_reset_returns_to_the_default_and_is_recorded(client, admin_headers):
    client.put(f"{URL}/auth.allow_registration", json={"value": True}, headers=admin_headers)
    response = client.post(f"{URL}/auth.allow_registration/reset", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["value"] is False and response.json["is_default"] is True
    history = client.get(f"{URL}/auth.allow_registration/history", headers=admin_headers).json
    assert [(h["old_value"], h["new_value"]) for h in history["items"]] == [
        (True, False), (False, True)]


def test_plain_users_get_403_and_anonymous_401(client, reader_headers):
    for method, path, kwargs in (
            ("get", URL, {}), ("get", f"{URL}/covers.size", {}),
            ("put", f"{URL}/covers.size", {"json": {"value": 500}}),
            ("post", f"{URL}/bulk", {"json": {"settings": {"covers.size": 500}}}),
            ("post", f"{URL}/covers.size/reset", {}), ("get", f"{URL}/covers.size/history", {})):
        response = getattr(client, method)(path, headers=reader_headers, **kwargs)
        assert response.status_code == 403, path
        assert response.json["error"] == "forbidden"
        assert getattr(client, method)(path, **kwargs).status_code == 401
    assert get_setting("covers.size") == 400
