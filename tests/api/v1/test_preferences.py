"""``/api/v1/user/preferences``: each user's own, defaults filled in."""
from comicsrv.settings_store import PREFERENCES, get_preference
from tests.factories import UserFactory, api_key_for

URL = "/api/v1/user/preferences"


def test_all_preferences_with_defaults(client, reader_headers):
    body = client.get(URL, headers=reader_headers).json
    assert body["total"] == len(PREFERENCES) and body["page"] == 1
    values = {item["key"]: item["value"] for item in body["items"]}
    assert values == {"theme": "system", "language": "en", "reader_direction": "ltr",
                      "reader_page_fit": "screen", "api_browse_mode": "metadata"}
    mode = next(i for i in body["items"] if i["key"] == "api_browse_mode")
    assert mode["choices"] == ["metadata", "filesystem"] and mode["is_default"] is True
    assert mode["type"] == "string" and mode["updated_at"] is None


def test_put_sets_only_the_callers_preference(client, reader, reader_headers):
    response = client.put(f"{URL}/api_browse_mode", json={"value": "filesystem"},
                          headers=reader_headers)
    assert response.status_code == 200
    assert response.json["key"] == "api_browse_mode"
    assert response.json["value"] == "filesystem" and response.json["is_default"] is False
    assert response.json["updated_at"]
    assert get_preference(reader.id, "api_browse_mode") == "filesystem"

    other = UserFactory()
    other_headers = {"X-API-Key": api_key_for(other, ["BooksRead"])}
    values = {i["key"]: i["value"] for i in client.get(URL, headers=other_headers).json["items"]}
    assert values["api_browse_mode"] == "metadata"


def test_unknown_key_and_invalid_value_are_400(client, reader_headers):
    response = client.put(f"{URL}/font_size", json={"value": 12}, headers=reader_headers)
    assert response.status_code == 400
    assert response.json == {"error": "unknown_preference",
                             "message": "Unknown preference 'font_size'", "details": None}
    response = client.put(f"{URL}/reader_direction", json={"value": "diagonal"},
                          headers=reader_headers)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_value"
    assert response.json["message"] == "reader_direction: must be one of ltr, rtl, vertical"
    assert response.json["details"] == {"reader_direction": "must be one of ltr, rtl, vertical"}
    response = client.put(f"{URL}/theme", json={"value": None}, headers=reader_headers)
    assert response.status_code == 400 and response.json["message"] == "theme: must be a string"
    assert client.put(f"{URL}/theme", json={}, headers=reader_headers).status_code == 400
    assert client.delete(f"{URL}/font_size", headers=reader_headers).status_code == 400


def test_delete_resets_to_the_default(client, reader, reader_headers):
    client.put(f"{URL}/theme", json={"value": "dark"}, headers=reader_headers)
    response = client.delete(f"{URL}/theme", headers=reader_headers)
    assert response.status_code == 204 and response.data == b""
    theme = next(i for i in client.get(URL, headers=reader_headers).json["items"]
                 if i["key"] == "theme")
    assert theme["value"] == "system" and theme["is_default"] is True
    # Resetting what was never set is fine too.
    assert client.delete(f"{URL}/language", headers=reader_headers).status_code == 204


def test_needs_credentials(client):
    assert client.get(URL).status_code == 401
    assert client.put(f"{URL}/theme", json={"value": "dark"}).status_code == 401
    assert client.delete(f"{URL}/theme").status_code == 401
