"""The login throttle and the password pool through real ``comicsrv serve``
processes: HTTP Basic on every surface, both login forms, two client
addresses (127.0.0.1 and 127.0.0.2, both loopback), a trusted proxy's
``X-Forwarded-For``, two processes on one database, and page requests
while password hashes run."""
from __future__ import annotations

import base64
import threading
import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from comicsrv.extensions import db
from comicsrv.models import Book
from tests.factories import PASSWORD, UserFactory
from tests.serving import live_server  # noqa: F401

WRONG = "not the password"


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class FromAddress(HTTPAdapter):
    """Connect from a given local address: 127.0.0.2 is another client."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def form_login(server, path: str, username: str, password: str, session=None, **kwargs):
    return (session or requests).post(server.url + path, timeout=60, **kwargs,
                                      json={"username": username, "password": password})


def lockout_lines(server) -> list[str]:
    return [line for line in server.output().splitlines()
            if "WARNING" in line and "locked out" in line]


def test_thirty_wrong_basic_passwords_then_the_right_one_is_429_on_every_surface(
        live_server, app):
    UserFactory(username="alice")
    server = live_server()
    statuses = [server.get("/api/v1/auth/me", headers=basic("alice", f"{WRONG} {n}")).status_code
                for n in range(30)]
    assert statuses == [401] * 5 + [429] * 25
    right = basic("alice", PASSWORD)
    v1 = server.get("/api/v1/auth/me", headers=right)
    assert v1.status_code == 429 and v1.json()["error"] == "too_many_requests"
    assert 0 < int(v1.headers["Retry-After"]) <= 300
    legacy = server.get("/api/system/version", headers=right)
    assert legacy.status_code == 429 and legacy.json()["error"]["code"] == 429
    assert legacy.headers["Retry-After"]
    lanraragi = server.get("/api/info", headers=right)
    assert lanraragi.status_code == 429 and lanraragi.headers["Retry-After"]
    assert lanraragi.json()["operation"] == "server_info" and lanraragi.json()["success"] == 0
    # One line for the one lock-out: the user name and address, never a password.
    [line] = lockout_lines(server)
    assert "'alice'" in line and "127.0.0.1" in line
    assert WRONG not in server.output() and PASSWORD not in server.output()


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/auth/login"])
def test_the_sixth_failure_at_a_login_form_is_429(live_server, app, path):
    UserFactory(username="alice")
    server = live_server()
    answers = [form_login(server, path, "alice", WRONG) for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert 0 < int(answers[5].headers["Retry-After"]) <= 300
    assert form_login(server, path, "alice", PASSWORD).status_code == 429
    # Basic counts into the same throttle as the form.
    assert server.get("/api/v1/auth/me", headers=basic("alice", PASSWORD)).status_code == 429


def test_a_lockout_from_one_address_leaves_the_user_alone_elsewhere(live_server, app):
    UserFactory(username="alice")
    server = live_server()
    here, there = client_at("127.0.0.1"), client_at("127.0.0.2")
    for _ in range(5):
        assert form_login(server, "/api/v1/auth/login", "alice", WRONG, here).status_code == 401
    assert form_login(server, "/api/v1/auth/login", "alice", PASSWORD, here).status_code == 429
    assert form_login(server, "/api/v1/auth/login", "alice", PASSWORD, there).status_code == 200
    assert there.get(server.url + "/api/v1/auth/me", headers=basic("alice", PASSWORD),
                     timeout=60).status_code == 200


def test_behind_a_trusted_proxy_each_forwarded_client_counts_apart(live_server, app):
    UserFactory(username="alice")
    server = live_server(trusted_proxies="127.0.0.1/32")
    proxy = client_at("127.0.0.1")

    def via_proxy(client: str, password: str) -> int:
        return form_login(server, "/api/v1/auth/login", "alice", password, proxy,
                          headers={"X-Forwarded-For": client}).status_code

    assert [via_proxy("198.51.100.1", WRONG) for _ in range(6)] == [401] * 5 + [429]
    assert via_proxy("198.51.100.2", PASSWORD) == 200
    [line] = lockout_lines(server)
    assert "198.51.100.1" in line


def test_an_untrusted_client_cannot_rotate_x_forwarded_for_out_of_a_lockout(live_server, app):
    UserFactory(username="alice")
    server = live_server(trusted_proxies="127.0.0.1/32")
    spoofer = client_at("127.0.0.2")
    statuses = [form_login(server, "/api/v1/auth/login", "alice", WRONG, spoofer,
                           headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    [line] = lockout_lines(server)
    assert "127.0.0.2" in line and "203.0.113" not in line


def test_two_server_processes_share_the_count(live_server, app):
    UserFactory(username="alice")
    # Processes of one deployment share SECRET_KEY (sessions need it too).
    first, second = (live_server(secret_key="one deployment") for _ in range(2))
    statuses = [form_login(server, "/api/v1/auth/login", "alice", WRONG).status_code
                for server in (first, second, first, second, first)]
    assert statuses == [401] * 5
    assert form_login(second, "/api/v1/auth/login", "alice", PASSWORD).status_code == 429
    assert second.get("/api/v1/auth/me", headers=basic("alice", PASSWORD)).status_code == 429
    assert first.get("/api/v1/auth/me", headers=basic("alice", PASSWORD)).status_code == 429


def test_password_hashes_do_not_starve_page_requests(live_server, scanned_library, admin_headers):
    """20 parallel wrong Basic logins (20 user names from one address: the
    throttle lets each through) while another client asks for a resized page.
    On the shared CPU pool the page waited behind the hashes, over 3 s."""
    book = db.session.execute(db.select(Book).where(
        Book.filename == "Captain Science #001.cbz")).scalar_one()
    for n in range(20):
        UserFactory(username=f"sprayed{n}")
    server = live_server()
    page = f"/api/v1/books/{book.id}/pages/1"
    assert server.get(page + "?width=299", headers=admin_headers).status_code == 200  # warm up
    answered: list[float] = []

    def guess(n: int) -> None:
        response = requests.get(server.url + "/api/v1/auth/me", timeout=120,
                                headers=basic(f"sprayed{n}", WRONG))
        assert response.status_code == 401
        answered.append(time.monotonic())

    guesses = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in guesses:
        thread.start()
    time.sleep(0.3)  # the hashes are queued
    asked = time.monotonic()
    resized = server.get(page + "?width=300", headers=admin_headers)
    took = time.monotonic() - asked
    for thread in guesses:
        thread.join()
    assert resized.status_code == 200 and resized.headers["Content-Type"].startswith("image/")
    assert took < 1.0, f"the resized page took {took:.2f} s"
    assert sum(1 for moment in answered if moment > asked + took) >= 5, \
        "the logins were still being checked while the page was served"
