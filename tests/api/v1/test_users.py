"""``/api/v1/users``: admin-only account management."""
import base64

import pytest

from comicsrv.auth.permissions import USER_PERMISSIONS
from comicsrv.extensions import db
from comicsrv.models import ApiKey, User
from tests.factories import PASSWORD, AdminFactory, LibraryFactory, UserFactory, api_key_for

USER_FIELDS = {"id", "username", "email", "email_verified_at", "is_admin", "is_active",
               "library_ids", "created_at", "last_login_at", "granted_permissions"}


def test_list_users_in_the_envelope(client, admin, admin_headers):
    UserFactory.create_batch(3)
    body = client.get("/api/v1/users?page_size=2", headers=admin_headers).json
    assert {k: body[k] for k in ("total", "page", "page_size", "total_pages", "has_more")} == \
        {"total": 4, "page": 1, "page_size": 2, "total_pages": 2, "has_more": True}
    assert body["items"][0]["username"] == "admin" and set(body["items"][0]) == USER_FIELDS
    second = client.get("/api/v1/users?page=2&page_size=2", headers=admin_headers).json
    assert len(second["items"]) == 2 and second["has_more"] is False
    clamped = client.get("/api/v1/users?page=-1&page_size=9999", headers=admin_headers).json
    assert clamped["page"] == 1 and clamped["page_size"] == 200
    garbled = client.get("/api/v1/users?page=x", headers=admin_headers)
    assert garbled.status_code == 400 and "page" in garbled.json["details"]["query"]
    far = client.get(f"/api/v1/users?page={10**22}", headers=admin_headers)
    assert far.status_code == 200 and far.json["items"] == [] and far.json["total"] == 4


def test_a_non_admin_gets_403(client, reader, reader_headers):
    one = f"/api/v1/users/{reader.id}"
    for method, path in (("get", "/api/v1/users"), ("post", "/api/v1/users"),
                         ("get", one), ("put", one), ("delete", one)):
        response = getattr(client, method)(path, headers=reader_headers, json={})
        assert response.status_code == 403, (method, path)
        assert response.json["error"] == "forbidden"
    assert client.get("/api/v1/users").status_code == 401


def test_permissions_are_per_operation(client):
    admin = AdminFactory()
    read_only = {"X-API-Key": api_key_for(admin, ["UsersRead"])}
    assert client.get("/api/v1/users", headers=read_only).status_code == 200
    assert client.post("/api/v1/users", headers=read_only,
                       json={"username": "x", "password": "long enough"}).status_code == 403
    assert client.delete(f"/api/v1/users/{UserFactory().id}", headers=read_only).status_code == 403


def test_create_user_never_returns_or_stores_the_password(client, admin_headers):
    library = LibraryFactory()
    response = client.post("/api/v1/users", headers=admin_headers, json={
        "username": "carol", "password": "long enough", "email": "carol@example.org",
        "library_ids": [library.id]})
    assert response.status_code == 201
    body = response.json
    assert set(body) == USER_FIELDS
    assert body["username"] == "carol" and body["library_ids"] == [library.id]
    assert body["is_admin"] is False and body["is_active"] is True and body["last_login_at"] is None
    row = db.session.get(User, body["id"])
    assert "long enough" not in row.password_hash
    assert client.post("/api/v1/auth/login",
                       json={"username": "carol", "password": "long enough"}).status_code == 200


@pytest.mark.parametrize("payload, status", [
    ({"username": "x", "password": "short"}, 400),
    ({"username": "x"}, 400),
    ({"username": "x", "password": "long enough", "library_ids": [999]}, 400),
    ({"username": "x", "password": "long enough", "library_ids": ["1"]}, 400),
    ({"username": "x", "password": "long enough", "library_ids": [2**40]}, 400),
    ({"username": "x", "password": "long enough", "role": "god"}, 400),
    ({"username": "x", "password": "long enough", "granted_permissions": ["Fly"]}, 400),
    ({"username": "x", "password": "long enough", "granted_permissions": ["SystemAdmin"]}, 400),
    ({"username": "x", "password": "long enough", "granted_permissions": ["UsersWrite"]}, 400),
    ({"username": "x", "password": "long enough", "granted_permissions": "MetadataWrite"}, 400),
    ({"username": "admin", "password": "long enough"}, 409),
])
def test_create_user_rejects_bad_input(client, admin_headers, payload, status):
    response = client.post("/api/v1/users", headers=admin_headers, json=payload)
    assert response.status_code == status, response.json
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_get_and_404(client, admin_headers, reader):
    body = client.get(f"/api/v1/users/{reader.id}", headers=admin_headers).json
    assert body["id"] == reader.id and body["username"] == "reader" and body["library_ids"] is None
    for missing in (99999, 2**40):
        response = client.get(f"/api/v1/users/{missing}", headers=admin_headers)
        assert response.status_code == 404 and response.json["error"] == "not_found"


def test_update_changes_only_what_is_sent(client, admin_headers, reader):
    library = LibraryFactory()
    response = client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
                          json={"email": "r@example.org", "library_ids": [library.id]})
    assert response.status_code == 200
    assert response.json["email"] == "r@example.org"
    assert response.json["library_ids"] == [library.id]
    assert response.json["username"] == "reader"
    back_to_all = client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
                             json={"library_ids": None}).json
    assert back_to_all["library_ids"] is None and back_to_all["email"] == "r@example.org"
    assert client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
                      json={"username": "admin"}).status_code == 409


def test_new_password_and_deactivation_revoke_sessions(app, client, admin_headers, reader):

    def works(token):
        return client.get("/api/v1/auth/me",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 200

    token = client.post("/api/v1/auth/login",
                        json={"username": "reader", "password": PASSWORD}).json["access_token"]
    client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
               json={"password": "brand new pw"})
    assert not works(token)
    login = client.post("/api/v1/auth/login",
                        json={"username": "reader", "password": "brand new pw"})
    assert login.status_code == 200
    token = login.json["access_token"]
    assert client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
                      json={"is_active": False}).json["is_active"] is False
    assert not works(token)
    client.put(f"/api/v1/users/{reader.id}", headers=admin_headers, json={"is_active": True})
    assert not works(token), "reactivation does not bring old sessions back"


def test_last_admin_protection(client, admin, admin_headers):
    for change in ({"is_admin": False}, {"is_active": False}):
        response = client.put(f"/api/v1/users/{admin.id}", headers=admin_headers, json=change)
        assert response.status_code == 409 and response.json["error"] == "last_admin"
    response = client.delete(f"/api/v1/users/{admin.id}", headers=admin_headers)
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(User, admin.id).is_admin is True

    other = AdminFactory()
    assert client.put(f"/api/v1/users/{admin.id}", headers=admin_headers,
                      json={"is_admin": False}).status_code == 200
    # Now `other` is the last active admin; the demoted admin's key lost its power.
    other_headers = {"X-API-Key": api_key_for(other, ["SystemAdmin"])}
    assert client.get("/api/v1/users", headers=admin_headers).status_code == 403
    assert client.delete(f"/api/v1/users/{other.id}", headers=other_headers).status_code == 409


def test_delete_user_takes_their_keys(client, admin_headers, reader, reader_headers):
    assert client.delete(f"/api/v1/users/{reader.id}", headers=admin_headers).status_code == 204
    assert db.session.get(User, reader.id) is None
    assert db.session.scalar(db.select(db.func.count(ApiKey.id))
                             .where(ApiKey.user_id == reader.id)) == 0
    assert client.get("/api/v1/auth/me", headers=reader_headers).status_code == 401
    assert client.delete(f"/api/v1/users/{reader.id}", headers=admin_headers).status_code == 404


def test_a_plain_users_key_cannot_reach_users_even_if_the_row_says_so(client):
    key = api_key_for(UserFactory(), ["UsersRead", *sorted(USER_PERMISSIONS)])
    assert client.get("/api/v1/users", headers={"X-API-Key": key}).status_code == 403


def test_an_admin_grants_a_user_more_than_the_defaults_and_takes_it_back(client, admin_headers,
                                                                        reader):
    """MetadataWrite is no plain user's by default; granted, the user and a key
    of theirs that names it hold it; revoked, the key keeps the name but not
    the power (keys are capped by their owner at use time)."""
    me = "/api/v1/auth/me"
    key_headers = {"X-API-Key": api_key_for(reader, ["BooksRead", "MetadataWrite"])}
    assert "MetadataWrite" not in client.get(me, headers=key_headers).json["permissions"]
    response = client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
                          json={"granted_permissions": ["MetadataWrite", "BooksRead"]})
    assert response.status_code == 200
    # Canonical order; a default named again is harmless.
    assert response.json["granted_permissions"] == ["BooksRead", "MetadataWrite"]
    assert client.get(me, headers=key_headers).json["permissions"] == [
        "BooksRead", "MetadataWrite"]
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"reader:{PASSWORD}".encode()).decode()}
    assert "MetadataWrite" in client.get(me, headers=basic).json["permissions"]
    # The user may now put it on a key of their own.
    created = client.post("/api/v1/api-keys", headers=basic,
                          json={"name": "tagger", "permissions": ["MetadataWrite"]})
    assert created.status_code == 201, created.json

    client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
               json={"granted_permissions": []})
    assert "MetadataWrite" not in client.get(me, headers=key_headers).json["permissions"]
    assert "MetadataWrite" not in client.get(me, headers=basic).json["permissions"]


def test_grants_are_refused_for_what_only_an_admin_may_hold(client, admin_headers, reader):
    for refused in (["SystemAdmin"], ["UsersRead"], ["Nope"]):
        response = client.put(f"/api/v1/users/{reader.id}", headers=admin_headers,
                              json={"granted_permissions": refused})
        assert response.status_code == 400, refused
    db.session.expire_all()
    assert db.session.get(User, reader.id).granted_permissions in (None, [])
