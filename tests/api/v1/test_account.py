"""AutoBangumi's account routes in ``/api/v1``: refresh_token, auth/update,
and passkeys registered and used by a software authenticator (a real P-256
key making "none" attestations and signed assertions) against py_webauthn's
checks, challenges kept in the database."""
from __future__ import annotations

import pytest

from comicsrv.extensions import db
from comicsrv.models import Passkey, User
from tests.auth.soft_authenticator import SoftAuthenticator
from tests.factories import PASSWORD, UserFactory, api_key_for

ORIGIN = "http://localhost"  # what the test client's requests reach


def login(client, username="alice", password=PASSWORD):
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.json
    return answer.json["access_token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(app):
    return UserFactory(username="alice")


@pytest.fixture
def token(client, alice):
    return login(client)


def register(client, token, authenticator, name="Phone"):
    options = client.post("/api/v1/passkey/register/options", headers=bearer(token))
    assert options.status_code == 200, options.json
    credential = authenticator.create(options.json, ORIGIN)
    answer = client.post("/api/v1/passkey/register/verify", headers=bearer(token),
                         json={"name": name, "attestation_response": credential})
    assert answer.status_code == 201, answer.json
    return answer.json


def passkey_login(client, authenticator, username=None, **kwargs):
    options = client.post("/api/v1/passkey/auth/options", json={"username": username})
    assert options.status_code == 200, options.json
    return client.post("/api/v1/passkey/auth/verify", json={
        "username": username, "credential": authenticator.get(options.json, ORIGIN, **kwargs)})


# --- refresh_token and auth/update -----------------------------------------------------

def test_refresh_token_issues_a_working_token_for_a_session_only(app, client, alice, token):
    answer = client.get("/api/v1/auth/refresh_token", headers=bearer(token))
    assert answer.status_code == 200 and answer.json["token_type"] == "Bearer"
    assert answer.json["user"]["username"] == "alice" and answer.json["expires_in"] > 0
    me = client.get("/api/v1/auth/me", headers=bearer(answer.json["access_token"]))
    assert me.status_code == 200 and me.json["auth_method"] == "jwt"
    # An API key with few permissions is not traded for a full session.
    key = api_key_for(alice, ["BooksRead"])
    refused = client.get("/api/v1/auth/refresh_token", headers={"X-API-Key": key})
    assert refused.status_code == 403 and refused.json["error"] == "session_required"
    # The session cookie login set refreshes too; nothing at all is a 401.
    assert client.get("/api/v1/auth/refresh_token").status_code == 200
    assert app.test_client().get("/api/v1/auth/refresh_token").status_code == 401


def test_auth_update_changes_the_password_and_ends_the_other_sessions(app, client, alice, token):
    other_session = login(client)
    wrong = client.post("/api/v1/auth/update", headers=bearer(token),
                        json={"current_password": "not it", "password": "a new secret!"})
    assert wrong.status_code == 401
    changed = client.post("/api/v1/auth/update", headers=bearer(token),
                          json={"current_password": PASSWORD, "password": "a new secret!"})
    assert changed.status_code == 200, changed.json
    # The caller's fresh token works; every older one is revoked (asked
    # without the cookie, which holds the fresh token).
    fresh = app.test_client()
    assert fresh.get("/api/v1/auth/me", headers=bearer(changed.json["access_token"])).status_code == 200
    assert fresh.get("/api/v1/auth/me", headers=bearer(other_session)).status_code == 401
    assert fresh.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    login(client, password="a new secret!")


def test_auth_update_renames_and_refuses_a_taken_or_empty_change(client, alice, token):
    UserFactory(username="bob")
    taken = client.post("/api/v1/auth/update", headers=bearer(token),
                        json={"current_password": PASSWORD, "username": "bob"})
    assert taken.status_code == 409
    nothing = client.post("/api/v1/auth/update", headers=bearer(token),
                          json={"current_password": PASSWORD})
    assert nothing.status_code == 400 and "Nothing to change" in nothing.json["message"]
    short = client.post("/api/v1/auth/update", headers=bearer(token),
                        json={"current_password": PASSWORD, "password": "short"})
    assert short.status_code == 400
    renamed = client.post("/api/v1/auth/update", headers=bearer(token),
                          json={"current_password": PASSWORD, "username": "alice2"})
    assert renamed.status_code == 200 and renamed.json["user"]["username"] == "alice2"
    login(client, username="alice2")


# --- passkeys -----------------------------------------------------------------------

def test_register_a_passkey_then_log_in_with_it(client, alice, token):
    authenticator = SoftAuthenticator()
    registered = register(client, token, authenticator)
    assert registered["name"] == "Phone" and registered["transports"] == ["internal"]
    listed = client.get("/api/v1/passkey/list", headers=bearer(token)).json
    assert listed["total"] == 1 and listed["items"][0]["id"] == registered["id"]

    answer = passkey_login(client, authenticator, "alice")
    assert answer.status_code == 200, answer.json
    assert answer.json["user"]["username"] == "alice"
    assert client.get("/api/v1/auth/me",
                      headers=bearer(answer.json["access_token"])).json["username"] == "alice"
    assert client.get_cookie("comicsrv_session") is not None
    passkey = db.session.get(Passkey, registered["id"])
    db.session.refresh(passkey)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None


def test_a_discoverable_passkey_names_its_user(client, alice, token):
    authenticator = SoftAuthenticator()
    register(client, token, authenticator)
    options = client.post("/api/v1/passkey/auth/options", json={}).json
    assert "allowCredentials" not in options or options["allowCredentials"] == []
    answer = client.post("/api/v1/passkey/auth/verify",
                         json={"credential": authenticator.get(options, ORIGIN)})
    assert answer.status_code == 200 and answer.json["user"]["username"] == "alice"


def test_an_assertion_is_good_once_and_a_cloned_counter_is_refused(client, alice, token):
    authenticator = SoftAuthenticator()
    register(client, token, authenticator)
    options = client.post("/api/v1/passkey/auth/options", json={"username": "alice"}).json
    assertion = authenticator.get(options, ORIGIN)
    assert client.post("/api/v1/passkey/auth/verify",
                       json={"credential": assertion}).status_code == 200
    replayed = client.post("/api/v1/passkey/auth/verify", json={"credential": assertion})
    assert replayed.status_code == 401 and replayed.json["error"] == "passkey_refused"
    # A copy of the key whose counter does not move on: refused.
    authenticator.sign_count = 1
    cloned = passkey_login(client, authenticator, "alice", count=False)
    assert cloned.status_code == 401 and "refused" in cloned.json["message"]


def test_login_options_do_not_tell_which_users_exist(client, alice):
    UserFactory(username="bob")
    unknown = client.post("/api/v1/passkey/auth/options", json={"username": "nobody"})
    without = client.post("/api/v1/passkey/auth/options", json={"username": "bob"})
    assert unknown.status_code == without.status_code == 400
    assert unknown.json == without.json


def test_a_signature_by_another_key_or_for_another_user_is_refused(client, alice, token):
    authenticator = SoftAuthenticator()
    register(client, token, authenticator)
    UserFactory(username="bob")
    # The assertion names alice's credential but is signed by another key.
    impostor = SoftAuthenticator()
    impostor.credential_id = authenticator.credential_id
    impostor.user_handle = authenticator.user_handle
    answer = passkey_login(client, impostor, "alice")
    assert answer.status_code == 401
    # Alice's passkey cannot log bob in.
    options = client.post("/api/v1/passkey/auth/options", json={"username": "alice"}).json
    as_bob = client.post("/api/v1/passkey/auth/verify", json={
        "username": "bob", "credential": authenticator.get(options, ORIGIN)})
    assert as_bob.status_code == 401


def test_registration_options_are_for_their_user_and_purpose_only(client, alice, token):
    UserFactory(username="bob")
    bob_token = login(client, "bob")
    authenticator = SoftAuthenticator()
    options = client.post("/api/v1/passkey/register/options", headers=bearer(token)).json
    credential = authenticator.create(options, ORIGIN)
    stolen = client.post("/api/v1/passkey/register/verify", headers=bearer(bob_token),
                         json={"attestation_response": credential})
    assert stolen.status_code == 401
    # A login challenge does not register anything.
    login_options = client.post("/api/v1/passkey/auth/options", json={}).json
    login_options["rp"] = {"id": "localhost"}
    login_options["user"] = options["user"]
    crossed = client.post("/api/v1/passkey/register/verify", headers=bearer(token), json={
        "attestation_response": authenticator.create(login_options, ORIGIN)})
    assert crossed.status_code == 401
    garbled = client.post("/api/v1/passkey/register/verify", headers=bearer(token),
                          json={"attestation_response": {"response": {"clientDataJSON": "%%"}}})
    assert garbled.status_code == 400
    assert db.session.execute(db.select(Passkey)).first() is None


def test_an_api_key_cannot_register_a_passkey(client, alice):
    key = api_key_for(alice, ["BooksRead"])
    answer = client.post("/api/v1/passkey/register/options", headers={"X-API-Key": key})
    assert answer.status_code == 403 and answer.json["error"] == "session_required"


def test_delete_a_passkey_only_ones_own(client, alice, token):
    authenticator = SoftAuthenticator()
    registered = register(client, token, authenticator)
    UserFactory(username="bob")
    bob_token = login(client, "bob")
    assert client.post("/api/v1/passkey/delete", headers=bearer(bob_token),
                       json={"passkey_id": registered["id"]}).status_code == 404
    deleted = client.post("/api/v1/passkey/delete", headers=bearer(token),
                          json={"passkey_id": registered["id"]})
    assert deleted.status_code == 200 and deleted.json == {"deleted": registered["id"]}
    assert client.post("/api/v1/passkey/auth/options",
                       json={"username": "alice"}).status_code == 400
    user = db.session.execute(db.select(User).where(User.username == "alice")).scalar_one()
    assert db.session.execute(db.select(Passkey).where(Passkey.user_id == user.id)).first() is None
