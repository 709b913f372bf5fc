"""Codex's email verification through a real SMTP server on 127.0.0.1
(aiosmtpd): registration mails a code, the code verifies the address once,
a resend replaces it, a changed address needs a new one."""
from __future__ import annotations

import re
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from comicsrv.extensions import db
from comicsrv.models import User
from comicsrv.settings_store import set_setting
from tests.factories import PASSWORD, UserFactory, api_key_for

CODE = re.compile(r"verification code is:\s+(\S+)")


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def code(self, index=-1) -> str:
        return CODE.search(self.messages[index][1].get_payload()).group(1)


@pytest.fixture
def inbox(free_port):
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def mail_on(app, inbox, free_port):
    for key, value in (("email.smtp_host", "127.0.0.1"), ("email.smtp_port", free_port),
                       ("email.smtp_security", "none"),
                       ("email.from_address", "comics@example.org"),
                       ("email.verification_enabled", True),
                       ("auth.allow_registration", True)):
        set_setting(key, value, None)


def register(client, name="alice", email="alice@example.org"):
    answer = client.post("/api/v1/auth/register", json={"username": name, "password": PASSWORD,
                                                        "email": email})
    assert answer.status_code == 201, answer.json
    return answer.json


def test_registration_mails_a_code_that_verifies_the_address_once(client, mail_on, inbox):
    registered = register(client)
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["alice@example.org"] and message["From"] == "comicsrv <comics@example.org>"
    token = registered["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json
    assert me["email_verified_at"] is None

    code = inbox.code()
    verified = client.post("/api/v1/auth/verify-email", json={"token": code})
    assert verified.status_code == 200 and verified.json == {
        "verified": True, "username": "alice", "email": "alice@example.org"}
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json
    assert me["email_verified_at"] is not None
    again = client.post("/api/v1/auth/verify-email", json={"token": code})
    assert again.status_code == 400 and again.json["error"] == "invalid_token"


def test_resend_replaces_the_code_and_is_throttled(client, mail_on, inbox):
    token = register(client)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    first = inbox.code()
    too_soon = client.post("/api/v1/auth/resend-verification", headers=headers)
    assert too_soon.status_code == 429 and int(too_soon.headers["Retry-After"]) >= 1
    # A minute later (the last code's time moved back), a new code replaces it.
    from comicsrv.models import EmailToken
    from comicsrv.auth.email_verification import RESEND_INTERVAL

    row = db.session.execute(db.select(EmailToken)).scalar_one()
    row.created_at -= RESEND_INTERVAL
    db.session.commit()
    sent = client.post("/api/v1/auth/resend-verification", headers=headers)
    assert sent.status_code == 202 and sent.json["sent_to"] == "alice@example.org"
    second = inbox.code()
    assert second != first
    assert client.post("/api/v1/auth/verify-email", json={"token": first}).status_code == 400
    assert client.post("/api/v1/auth/verify-email", json={"token": second}).status_code == 200
    done = client.post("/api/v1/auth/resend-verification", headers=headers)
    assert done.status_code == 409 and done.json["error"] == "already_verified"


def test_a_code_does_not_verify_a_changed_address(client, app, mail_on, inbox, admin_headers):
    register(client)
    code = inbox.code()
    user = db.session.execute(db.select(User).where(User.username == "alice")).scalar_one()
    changed = client.put(f"/api/v1/users/{user.id}", headers=admin_headers,
                         json={"email": "alice@elsewhere.example"})
    assert changed.status_code == 200, changed.json
    answer = client.post("/api/v1/auth/verify-email", json={"token": code})
    assert answer.status_code == 400 and "no longer has" in answer.json["message"]
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified_at is None


def test_verification_is_off_by_default_and_says_so(client, app):
    user = UserFactory(username="bob", email="bob@example.org")
    key = api_key_for(user, ["BooksRead"])
    answer = client.post("/api/v1/auth/resend-verification", headers={"X-API-Key": key})
    assert answer.status_code == 409 and answer.json["error"] == "verification_disabled"
    bogus = client.post("/api/v1/auth/verify-email", json={"token": "x" * 43})
    assert bogus.status_code == 400


def test_an_unreachable_smtp_server_does_not_fail_the_registration(client, app, free_port):
    for key, value in (("email.smtp_host", "127.0.0.1"), ("email.smtp_port", free_port),
                       ("email.smtp_security", "none"), ("email.from_address", "c@example.org"),
                       ("email.verification_enabled", True), ("auth.allow_registration", True)):
        set_setting(key, value, None)
    token = register(client)["access_token"]  # nothing listens on the port: still 201
    from comicsrv.auth.email_verification import RESEND_INTERVAL
    from comicsrv.models import EmailToken

    row = db.session.execute(db.select(EmailToken)).scalar_one()
    row.created_at -= RESEND_INTERVAL
    db.session.commit()
    resend = client.post("/api/v1/auth/resend-verification",
                         headers={"Authorization": f"Bearer {token}"})
    assert resend.status_code == 503 and resend.json["error"] == "mail_not_sent"
    assert f"127.0.0.1:{free_port}" in resend.json["message"]
