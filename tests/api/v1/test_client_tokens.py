"""``/api/v1/client-tokens``: CLU's reader-app tokens."""
import hashlib

from comicsrv.auth.users import create_client_token
from comicsrv.extensions import db
from comicsrv.models import ClientToken
from tests.factories import UserFactory, api_key_for


def test_create_shows_the_token_once_and_it_works_as_bearer(client, reader, reader_headers):
    response = client.post("/api/v1/client-tokens", headers=reader_headers, json={"name": "Phone"})
    assert response.status_code == 201
    body = response.json
    assert list(body)[:4] == ["id", "name", "token", "created_at"]
    assert body["name"] == "Phone" and body["user_id"] == reader.id
    row = db.session.get(ClientToken, body["id"])
    assert row.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in row.token_hash

    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"}).json
    assert me["auth_method"] == "client_token" and me["id"] == reader.id

    listed = client.get("/api/v1/client-tokens", headers=reader_headers).json
    assert listed["total"] == 1 and listed["page"] == 1 and listed["has_more"] is False
    [item] = listed["items"]
    assert set(item) == {"id", "name", "user_id", "created_at", "last_used_at"}
    assert item["last_used_at"] is not None  # stamped by the request above
    assert body["token"] not in str(listed)


def test_name_defaults_and_bad_names_are_400(client, reader_headers):
    assert client.post("/api/v1/client-tokens", headers=reader_headers,
                       json={}).json["name"] == "reader"
    for name in ("", "x" * 201, "tab\there"):
        assert client.post("/api/v1/client-tokens", headers=reader_headers,
                           json={"name": name}).status_code == 400


def test_users_see_only_their_own_and_admins_anyones(client, admin_headers, reader, reader_headers):
    other = UserFactory()
    other_row, _ = create_client_token(other, "tablet")
    mine, _ = create_client_token(reader, "phone")
    listed = client.get("/api/v1/client-tokens", headers=reader_headers).json
    assert [t["name"] for t in listed["items"]] == ["phone"]
    assert client.get(f"/api/v1/client-tokens?user_id={other.id}",
                      headers=reader_headers).status_code == 403
    assert client.delete(f"/api/v1/client-tokens/{other_row.id}",
                         headers=reader_headers).status_code == 404
    assert db.session.get(ClientToken, other_row.id) is not None

    as_admin = client.get(f"/api/v1/client-tokens?user_id={other.id}", headers=admin_headers).json
    assert [t["name"] for t in as_admin["items"]] == ["tablet"]
    made = client.post(f"/api/v1/client-tokens?user_id={other.id}", headers=admin_headers,
                       json={"name": "e-reader"})
    assert made.status_code == 201 and made.json["user_id"] == other.id
    assert client.delete(f"/api/v1/client-tokens/{other_row.id}",
                         headers=admin_headers).status_code == 204
    assert client.delete(f"/api/v1/client-tokens/{mine.id}",
                         headers=reader_headers).status_code == 204
    assert db.session.scalar(db.select(db.func.count(ClientToken.id))) == 1


def test_a_revoked_token_stops_working(client, reader, reader_headers):
    row, token = create_client_token(reader)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    path = f"/api/v1/client-tokens/{row.id}"
    assert client.delete(path, headers=reader_headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    assert client.delete(path, headers=reader_headers).status_code == 404
    huge = f"/api/v1/client-tokens/{2**40}"
    assert client.delete(huge, headers=reader_headers).status_code == 404


def test_permissions(client, reader):
    read_only = {"X-API-Key": api_key_for(reader, ["ApiKeysRead"])}
    assert client.get("/api/v1/client-tokens", headers=read_only).status_code == 200
    assert client.post("/api/v1/client-tokens", headers=read_only, json={}).status_code == 403
    row, _ = create_client_token(reader)
    assert client.delete(f"/api/v1/client-tokens/{row.id}", headers=read_only).status_code == 403
    assert client.get("/api/v1/client-tokens").status_code == 401
