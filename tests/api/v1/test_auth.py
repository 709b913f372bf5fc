"""First-run setup, login (JWT + session cookie), logout, register, /auth/me."""
import base64
from datetime import timedelta

import jwt
import pytest

from comicsrv.auth.permissions import PERMISSIONS, USER_PERMISSIONS
from comicsrv.auth.users import create_client_token
from comicsrv.extensions import db
from comicsrv.models import Setting, User, utcnow
from tests.factories import PASSWORD, AdminFactory, UserFactory, api_key_for

COOKIE = "comicsrv_session"


def login(client, username, password=PASSWORD, **kwargs):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       **kwargs)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def set_cookie_header(response):
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "=")]
    return header


# --- setup ------------------------------------------------------------------------

def test_setup_flow_then_409(app, client):
    assert client.get("/api/v1/setup/status").json == {"need_setup": True}
    response = client.post("/api/v1/setup/initialize",
                           json={"username": "boss", "password": "long enough",
                                 "email": "boss@example.org"})
    assert response.status_code == 201
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    user = db.session.execute(db.select(User)).scalar_one()
    assert body["user"] == {"id": user.id, "username": "boss", "email": "boss@example.org",
                            "is_admin": True}
    assert user.last_login_at is not None
    assert set_cookie_header(response).startswith(f"{COOKIE}={body['access_token']};")
    assert client.get("/api/v1/plugins", headers=bearer(body["access_token"])).status_code == 200

    assert client.get("/api/v1/setup/status").json == {"need_setup": False}
    again = client.post("/api/v1/setup/initialize",
                        json={"username": "intruder", "password": "long enough"})
    assert again.status_code == 409 and again.json["error"] == "already_initialized"
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


@pytest.mark.parametrize("payload", [
    {"username": "boss"}, {"password": "long enough"}, {"username": "boss", "password": "short"},
    {"username": "", "password": "long enough"}, {"username": "a\x00b", "password": "long enough"},
    {"username": "boss", "password": "long enough", "email": "not an email"},
    {"username": "boss", "password": "long enough", "is_admin": False},
])
def test_setup_rejects_bad_input_with_400(app, client, payload):
    response = client.post("/api/v1/setup/initialize", json=payload)
    assert response.status_code == 400, response.json
    assert response.json["error"] == "validation_error"
    assert client.get("/api/v1/setup/status").json == {"need_setup": True}


# --- login ------------------------------------------------------------------------

def test_login_answers_codex_json_and_sets_the_session_cookie(app, client):
    user = UserFactory(username="alice", email="alice@example.org")
    response = login(client, "alice")
    assert response.status_code == 200
    body = response.json
    assert list(body) == ["access_token", "token_type", "expires_in", "user"]
    assert body["user"] == {"id": user.id, "username": "alice", "email": "alice@example.org",
                            "is_admin": False}
    claims = jwt.decode(body["access_token"], app.config["SECRET_KEY"], algorithms=["HS256"])
    assert claims["sub"] == str(user.id) and claims["gen"] == 0
    cookie = set_cookie_header(response)
    assert f"{COOKIE}={body['access_token']};" in cookie
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/;", "Max-Age=86400"):
        assert attribute in cookie + ";"
    assert "Secure" not in cookie
    db.session.refresh(user)
    assert user.last_login_at is not None and utcnow() - user.last_login_at < timedelta(minutes=1)


def test_cookie_is_secure_over_https_and_scoped_to_the_url_base(make_app):
    app = make_app(URL_BASE="/comics")
    with app.app_context():
        UserFactory(username="alice")
    client = app.test_client()
    response = client.post("/comics/api/v1/auth/login", base_url="https://localhost",
                           json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.json
    cookie = set_cookie_header(response)
    assert "Secure" in cookie and "Path=/comics;" in cookie + ";"


def test_failed_login_is_401_and_missing_fields_400(app, client):
    UserFactory(username="alice")
    UserFactory(username="gone", is_active=False)
    for name, password in (("alice", "wrong password"), ("nobody", PASSWORD), ("gone", PASSWORD)):
        response = login(client, name, password)
        assert response.status_code == 401 and response.json["error"] == "unauthorized"
        assert COOKIE not in response.headers.get("Set-Cookie", "")
    for payload in ({}, {"username": "alice"}, {"password": PASSWORD},
                    {"username": "", "password": "x"}):
        response = client.post("/api/v1/auth/login", json=payload)
        assert response.status_code == 400 and response.json["error"] == "validation_error"


def test_lockout_after_five_failures_of_one_username_from_one_address(app, client):
    UserFactory(username="alice")
    UserFactory(username="bob")
    here, elsewhere = {"REMOTE_ADDR": "10.0.0.1"}, {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(5):
        assert login(client, "alice", "wrong password", environ_base=here).status_code == 401
    locked = login(client, "alice", environ_base=here)
    assert locked.status_code == 429, "even the right password waits"
    assert locked.json["error"] == "too_many_requests"
    assert 0 < int(locked.headers["Retry-After"]) <= 300
    # Mistyping from one place locks alice out there only, and not bob.
    assert login(client, "alice", environ_base=elsewhere).status_code == 200
    assert login(client, "bob", environ_base=here).status_code == 200


def test_lockout_after_twenty_failures_from_one_address(app, client):
    UserFactory(username="alice")
    spraying = {"REMOTE_ADDR": "203.0.113.5"}
    for n in range(20):
        assert login(client, f"guess{n}", "wrong password", environ_base=spraying).status_code == 401
    locked = login(client, "alice", environ_base=spraying)
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 900
    assert login(client, "alice", environ_base={"REMOTE_ADDR": "203.0.113.6"}).status_code == 200


def test_a_successful_login_clears_the_count_of_its_username_and_address(app, client):
    UserFactory(username="alice")
    here = {"REMOTE_ADDR": "10.1.0.1"}
    for _ in range(4):
        login(client, "alice", "wrong password", environ_base=here)
    assert login(client, "alice", environ_base=here).status_code == 200
    for _ in range(4):
        assert login(client, "alice", "wrong password", environ_base=here).status_code == 401


# --- the JWT as a credential ------------------------------------------------------

def test_jwt_works_as_bearer_and_as_cookie_on_a_protected_route(app, client):
    AdminFactory(username="root")
    UserFactory(username="alice")
    token = login(client, "root").json["access_token"]
    assert client.get("/api/v1/plugins", headers=bearer(token)).status_code == 200
    # The test client kept the cookie from the login response.
    assert client.get("/api/v1/plugins").status_code == 200
    assert client.get("/api/v1/auth/me").json["auth_method"] == "session"

    plain = app.test_client()
    alice_token = login(plain, "alice").json["access_token"]
    assert plain.get("/api/v1/plugins").status_code == 403
    me = plain.get("/api/v1/auth/me", headers=bearer(alice_token)).json
    assert me["username"] == "alice" and me["auth_method"] == "jwt"
    assert me["permissions"] == [p for p in PERMISSIONS if p in USER_PERMISSIONS]


def test_revoked_expired_and_badly_signed_tokens_fail(app, client):
    user = AdminFactory(username="root")
    token = login(client, "root").json["access_token"]
    key = app.config["SECRET_KEY"]
    past = utcnow() - timedelta(days=2)
    expired = jwt.encode({"sub": str(user.id), "iat": past, "exp": past + timedelta(days=1),
                          "gen": 0}, key, algorithm="HS256")
    forged = jwt.encode(jwt.decode(token, key, algorithms=["HS256"]),
                        "not the server's key, but long enough", algorithm="HS256")
    fresh = app.test_client()
    for bad in (expired, forged, token[:-2] + "xx"):
        response = fresh.get("/api/v1/auth/me", headers=bearer(bad))
        assert response.status_code == 401 and response.json["error"] == "unauthorized"
        fresh.set_cookie(COOKIE, bad)
        assert fresh.get("/api/v1/auth/me").status_code == 401
    fresh.delete_cookie(COOKIE)

    assert fresh.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    user.token_generation += 1
    db.session.commit()
    assert fresh.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401  # the cookie is the same JWT


def test_cookie_state_changes_need_the_csrf_token_and_our_own_origin(app, client):
    UserFactory(username="alice")
    answer = login(client, "alice")
    token = answer.headers["X-CSRF-Token"]
    assert client.get("/api/v1/auth/me").headers["X-CSRF-Token"] == token
    # Reading with the cookie is harmless from anywhere.
    evil = {"Origin": "https://evil.example"}
    assert client.get("/api/v1/auth/me", headers=evil).status_code == 200
    refused = [
        {},                                                    # no token
        {"X-CSRF-Token": "forged"},                            # a wrong token
        {"X-CSRF-Token": token, **evil},                       # another origin
        {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
        {"X-CSRF-Token": token, "Sec-Fetch-Site": "same-site"},  # another app on the NAS
    ]
    for headers in refused:
        response = client.post("/api/v1/auth/logout", headers=headers)
        assert response.status_code == 403, headers
        assert response.json["error"] == "csrf_failed" and "CSRF" in response.json["message"] \
            or "cannot use the session cookie" in response.json["message"]
    # A form post carries the token as a field.
    form = client.post("/api/v1/auth/logout", data={"csrf_token": "forged"})
    assert form.status_code == 403
    # The session is still there after every refusal; our own page's request works.
    ours = {"X-CSRF-Token": token, "Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/v1/auth/logout", headers=ours).status_code == 204


def test_the_csrf_token_belongs_to_one_session(app):
    UserFactory(username="alice")
    UserFactory(username="bob")
    alice, bob = app.test_client(), app.test_client()
    login(alice, "alice")
    bobs_token = login(bob, "bob").headers["X-CSRF-Token"]
    assert alice.post("/api/v1/auth/logout", headers={"X-CSRF-Token": bobs_token}).status_code == 403
    assert alice.get("/api/v1/auth/me").json["username"] == "alice"


def test_api_keys_need_no_csrf_token(app, client):
    user = UserFactory(username="alice")
    key = api_key_for(user, ["BooksRead"])
    login(client, "alice")  # a cookie is present too, but the key is what counts
    assert client.post("/api/v1/auth/logout", headers={"X-API-Key": key}).status_code == 204


# --- logout -----------------------------------------------------------------------

def test_logout_clears_the_cookie(app, client):
    UserFactory(username="alice")
    answer = login(client, "alice")
    token = answer.json["access_token"]
    response = client.post("/api/v1/auth/logout",
                           headers={"X-CSRF-Token": answer.headers["X-CSRF-Token"]})
    assert response.status_code == 204
    cookie = set_cookie_header(response)
    assert cookie.startswith(f"{COOKIE}=;") and "Max-Age=0" in cookie and "Path=/" in cookie
    assert client.get("/api/v1/auth/me").status_code == 401
    # Without ?all the JWT itself stays valid (an API client may still hold it).
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200


def test_logout_all_revokes_every_session_but_not_keys(app, client):
    user = UserFactory(username="alice")
    key = api_key_for(user, ["BooksRead"])
    first = login(client, "alice").json["access_token"]
    second = login(app.test_client(), "alice").json["access_token"]
    assert client.post("/api/v1/auth/logout?all=true", headers=bearer(first)).status_code == 204
    for token in (first, second):
        assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    assert login(client, "alice").status_code == 200  # a new login works again


def test_logout_needs_credentials(client):
    assert client.post("/api/v1/auth/logout").status_code == 401


# --- register ---------------------------------------------------------------------

def test_register_is_off_by_default(app, client):
    response = client.post("/api/v1/auth/register",
                           json={"username": "newbie", "password": "long enough"})
    assert response.status_code == 403 and response.json["error"] == "registration_disabled"
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_register_when_allowed_makes_a_plain_user_and_logs_in(app, client):
    AdminFactory(username="root")
    db.session.add(Setting(key="auth.allow_registration", value=True))
    db.session.commit()
    response = client.post("/api/v1/auth/register",
                           json={"username": "newbie", "password": "long enough"})
    assert response.status_code == 201
    assert response.json["user"]["is_admin"] is False
    assert client.get("/api/v1/auth/me").json["username"] == "newbie"
    taken = client.post("/api/v1/auth/register",
                        json={"username": "root", "password": "long enough"})
    assert taken.status_code == 409
    short = client.post("/api/v1/auth/register", json={"username": "x", "password": "short"})
    assert short.status_code == 400


# --- /auth/me ---------------------------------------------------------------------

def test_me_reports_how_the_caller_authenticated(app, client):
    user = UserFactory(username="alice", library_ids=[])
    key = api_key_for(user, ["BooksRead", "PagesRead"])
    _, client_token = create_client_token(user, "phone")
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    cases = {"api_key": {"X-API-Key": key}, "client_token": bearer(client_token),
             "basic": {"Authorization": f"Basic {basic}"}}
    for method, headers in cases.items():
        me = client.get("/api/v1/auth/me", headers=headers).json
        assert me["auth_method"] == method and me["id"] == user.id, method
        assert me["library_ids"] == [] and "password" not in str(me)
    # A key's permissions, not the owner's, are what it can do.
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).json["permissions"] == \
        ["BooksRead", "PagesRead"]
    admin_key = api_key_for(AdminFactory(), ["SystemAdmin"])
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": admin_key}).json["permissions"] == \
        list(PERMISSIONS)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_auth_routes_are_documented(client):
    spec = client.get("/openapi.json").json
    for path, method in (("/api/v1/setup/status", "get"), ("/api/v1/setup/initialize", "post"),
                         ("/api/v1/auth/login", "post"), ("/api/v1/auth/register", "post")):
        assert spec["paths"][path][method]["security"] == [], path
    for path, method in (("/api/v1/auth/logout", "post"), ("/api/v1/auth/me", "get")):
        assert {"Bearer": []} in spec["paths"][path][method]["security"], path
