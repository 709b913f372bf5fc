"""``/api/v1/api-keys``: shown once, stored hashed, permissions checked."""
import hashlib
from datetime import timedelta

from comicsrv.extensions import db
from comicsrv.models import ApiKey, utcnow
from tests.factories import AdminFactory, UserFactory, api_key_for

KEY_FIELDS = {"id", "name", "key_prefix", "permissions", "created_at", "user_id", "expires_at",
              "last_used_at"}


def create(client, headers, **payload):
    payload.setdefault("name", "script")
    payload.setdefault("permissions", ["BooksRead"])
    return client.post("/api/v1/api-keys", headers=headers, json=payload)


def test_key_is_shown_once_and_stored_hashed(client, reader, reader_headers):
    response = create(client, reader_headers, name="My Script Key",
                      permissions=["PagesRead", "LibrariesRead", "BooksRead"])
    assert response.status_code == 201
    body = response.json
    assert list(body)[:6] == ["id", "name", "key", "key_prefix", "permissions", "created_at"]
    assert body["name"] == "My Script Key" and body["user_id"] == reader.id
    assert body["permissions"] == ["LibrariesRead", "BooksRead", "PagesRead"]
    key = body["key"]
    assert key.startswith(f"csrv_{body['key_prefix']}_")

    row = db.session.get(ApiKey, body["id"])
    stored = [str(getattr(row, column.key)) for column in ApiKey.__table__.columns]
    secret = key.split("_", 2)[2]
    assert not any(secret in value for value in stored)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()

    listed = client.get("/api/v1/api-keys", headers=reader_headers).json
    shown = client.get(f"/api/v1/api-keys/{body['id']}", headers=reader_headers).json
    assert set(shown) == KEY_FIELDS and all(set(item) == KEY_FIELDS for item in listed["items"])
    assert secret not in str(listed) and secret not in str(shown)

    # The key works, with exactly its permissions.
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).json
    assert me["permissions"] == ["LibrariesRead", "BooksRead", "PagesRead"]
    assert client.get("/api/v1/api-keys", headers={"X-API-Key": key}).status_code == 403


def test_unknown_permissions_are_400_listing_them(client, reader_headers):
    response = create(client, reader_headers, permissions=["BooksRead", "Teleport", "Fly"])
    assert response.status_code == 400
    assert "Fly" in response.json["message"] and "Teleport" in response.json["message"]
    assert response.json["details"] == {"unknown_permissions": ["Fly", "Teleport"]}


def test_cannot_grant_what_you_lack(client, reader, reader_headers):
    response = create(client, reader_headers, permissions=["BooksRead", "UsersWrite"])
    assert response.status_code == 403 and "UsersWrite" in response.json["message"]
    # Nor what your current key lacks, even if your account has it.
    narrow = {"X-API-Key": api_key_for(reader, ["ApiKeysWrite", "BooksRead"])}
    assert create(client, narrow, permissions=["BooksRead"]).status_code == 201
    assert create(client, narrow, permissions=["PagesRead"]).status_code == 403
    assert db.session.scalar(db.select(db.func.count(ApiKey.id)).where(
        ApiKey.user_id == reader.id)) == 3  # the two fixtures' keys and one created here


def test_an_admin_manages_other_users_keys(client, admin_headers, reader, reader_headers):
    created = client.post(f"/api/v1/api-keys?user_id={reader.id}", headers=admin_headers,
                          json={"name": "for reader", "permissions": ["BooksRead"]})
    assert created.status_code == 201 and created.json["user_id"] == reader.id
    # An admin cannot give a plain user's key admin powers.
    refused = client.post(f"/api/v1/api-keys?user_id={reader.id}", headers=admin_headers,
                          json={"name": "x", "permissions": ["UsersRead"]})
    assert refused.status_code == 400
    listed = client.get(f"/api/v1/api-keys?user_id={reader.id}", headers=admin_headers).json
    assert [k["name"] for k in listed["items"]] == ["for reader", "test"]
    own = client.get("/api/v1/api-keys", headers=admin_headers).json
    assert {k["user_id"] for k in own["items"]} == {own["items"][0]["user_id"]} != {reader.id}
    assert client.get("/api/v1/api-keys?user_id=99999", headers=admin_headers).status_code == 404

    key_id = created.json["id"]
    assert client.put(f"/api/v1/api-keys/{key_id}", headers=admin_headers,
                      json={"name": "renamed"}).json["name"] == "renamed"
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=admin_headers).status_code == 204
    assert db.session.get(ApiKey, key_id) is None


def test_a_user_cannot_see_or_touch_anothers_keys(client, reader_headers):
    other = UserFactory()
    api_key_for(other, ["BooksRead"])
    other_key = db.session.execute(db.select(ApiKey).where(ApiKey.user_id == other.id)).scalar_one()
    response = client.get(f"/api/v1/api-keys?user_id={other.id}", headers=reader_headers)
    assert response.status_code == 403
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"/api/v1/api-keys/{other_key.id}",
                                           headers=reader_headers, json={"name": "mine"})
        assert response.status_code == 404, method
    assert db.session.get(ApiKey, other_key.id).name == "test"


def test_update_permissions_and_expiry(client, reader_headers):
    key_id = create(client, reader_headers).json["id"]
    response = client.put(f"/api/v1/api-keys/{key_id}", headers=reader_headers,
                          json={"permissions": ["PagesRead", "BooksRead"],
                                "expires_at": "2099-01-01T12:00:00+02:00"})
    assert response.status_code == 200
    assert response.json["permissions"] == ["BooksRead", "PagesRead"]
    assert response.json["expires_at"] == "2099-01-01T10:00:00+00:00"
    assert client.put(f"/api/v1/api-keys/{key_id}", headers=reader_headers,
                      json={"permissions": ["SystemAdmin"]}).status_code == 403
    assert client.put(f"/api/v1/api-keys/{key_id}", headers=reader_headers,
                      json={"expires_at": "2000-01-01T00:00:00"}).status_code == 400
    cleared = client.put(f"/api/v1/api-keys/{key_id}", headers=reader_headers,
                         json={"expires_at": None}).json
    assert cleared["expires_at"] is None and cleared["permissions"] == ["BooksRead", "PagesRead"]


def test_an_expired_key_stops_working(client, reader, reader_headers):
    key = create(client, reader_headers,
                 expires_at=(utcnow() + timedelta(hours=1)).isoformat()).json["key"]
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    row = db.session.execute(db.select(ApiKey).where(ApiKey.name == "script")).scalar_one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_bad_input_is_400(client, reader_headers):
    for payload in ({"permissions": ["BooksRead"]}, {"name": "x"}, {"name": "", "permissions": []},
                    {"name": "x", "permissions": "BooksRead"},
                    {"name": "x", "permissions": [], "expires_at": "soon"}):
        response = client.post("/api/v1/api-keys", headers=reader_headers, json=payload)
        assert response.status_code == 400, payload
    assert client.get("/api/v1/api-keys/99999", headers=reader_headers).status_code == 404
    assert client.get(f"/api/v1/api-keys/{2**40}", headers=reader_headers).status_code == 404


def test_permissions_per_operation(client):
    user = AdminFactory()
    read_only = {"X-API-Key": api_key_for(user, ["ApiKeysRead"])}
    assert client.get("/api/v1/api-keys", headers=read_only).status_code == 200
    assert create(client, read_only).status_code == 403
    key_id = db.session.execute(db.select(ApiKey.id)).scalar_one()
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=read_only).status_code == 403
    assert client.get("/api/v1/api-keys").status_code == 401
