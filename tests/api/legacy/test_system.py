"""Comicarr's system endpoints: login/logout with the session cookie, the
admin configuration, version, recent logs, and shutdown/restart through the
app's shutdown hook (the real stop would end the test process)."""
from __future__ import annotations

import logging
import threading

import pytest

from comicsrv.auth.tokens import SESSION_COOKIE
from comicsrv.settings_store import get_setting, set_setting
from tests.factories import PASSWORD, UserFactory, api_key_for




@pytest.fixture
def headers(admin):
    return {"X-Api-Key": api_key_for(admin, ["SystemAdmin"])}


def test_login_sets_the_session_cookie_that_then_authenticates_and_logout_clears_it(client):
    UserFactory(username="alice")
    answer = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200 and answer.json["data"]["username"] == "alice"
    assert client.get_cookie(SESSION_COOKIE) is not None
    assert client.get("/api/system/version").json["data"]["version"]
    out = client.post("/api/auth/logout", headers={"X-CSRF-Token": answer.headers["X-CSRF-Token"]})
    assert out.status_code == 200 and out.json["success"] is True
    assert client.get_cookie(SESSION_COOKIE) is None
    assert client.get("/api/system/version").status_code == 401


def test_a_wrong_password_is_401_in_the_envelope(client):
    UserFactory(username="alice")
    answer = client.post("/api/auth/login", json={"username": "alice", "password": "nope"})
    assert answer.status_code == 401 and answer.json["error"]["code"] == 401
    assert client.post("/api/auth/login", json={"username": "alice"}).status_code == 400


def test_config_masks_secrets_validates_and_keeps_a_masked_secret(client, headers, admin):
    set_setting("metadata.comicvine_api_key", "cv-secret", admin.id)
    config = client.get("/api/config", headers=headers).json["data"]
    assert config["metadata.comicvine_api_key"] == "********"
    assert config["automation.rss_interval_minutes"] == 15
    changed = client.put("/api/config", headers=headers, json={
        "automation.rss_interval_minutes": 30, "metadata.comicvine_api_key": "********"})
    assert changed.status_code == 200, changed.json
    assert changed.json["data"]["automation.rss_interval_minutes"] == 30
    assert get_setting("metadata.comicvine_api_key") == "cv-secret"
    bad = client.put("/api/config", headers=headers, json={
        "automation.rss_interval_minutes": "often", "covers.size": 500})
    assert bad.status_code == 400 and "automation.rss_interval_minutes" in bad.json["error"]["message"]
    assert get_setting("covers.size") == 400  # all or nothing
    unknown = client.put("/api/config", headers=headers, json={"no.such": 1})
    assert unknown.status_code == 400 and "no.such" in unknown.json["error"]["message"]
    assert client.put("/api/config", headers=headers, json={}).status_code == 400


def test_config_is_admin_only(client, reader):
    key = api_key_for(reader, ["SystemHealth"])
    assert client.get("/api/config", headers={"X-Api-Key": key}).status_code == 403
    assert client.get("/api/system/version", headers={"X-Api-Key": key}).status_code == 200


def test_logs_filter_by_level_newest_first(client, headers):
    logging.getLogger("comicsrv.test").warning("first %s", "warning")
    logging.getLogger("comicsrv.test").error("then an error")
    records = client.get("/api/system/logs", headers=headers,
                         query_string={"level": "warning", "limit": 2}).json["data"]["results"]
    assert [(r["level"], r["message"]) for r in records] == [
        ("ERROR", "then an error"), ("WARNING", "first warning")]
    errors = client.get("/api/system/logs", headers=headers,
                        query_string={"level": "ERROR"}).json["data"]["results"]
    assert all(r["level"] in ("ERROR", "CRITICAL") for r in errors)
    assert client.get("/api/system/logs", headers=headers,
                      query_string={"level": "LOUD"}).status_code == 400


@pytest.mark.parametrize("path, restart", [("shutdown", False), ("restart", True)])
def test_shutdown_and_restart_call_the_hook_after_the_answer(app, client, headers, path, restart):
    called = threading.Event()
    seen = []

    def hook(want_restart: bool) -> None:
        seen.append(want_restart)
        called.set()

    app.extensions["comicsrv.shutdown"] = hook
    answer = client.post(f"/api/system/{path}", headers=headers)
    assert answer.status_code == 202 and answer.json["success"] is True
    assert called.wait(5) and seen == [restart]


def test_shutdown_is_admin_only(app, client, reader):
    app.extensions["comicsrv.shutdown"] = lambda restart: pytest.fail("must not stop")
    key = api_key_for(reader, ["SystemHealth"])
    assert client.post("/api/system/shutdown", headers={"X-Api-Key": key}).status_code == 403


def test_without_comicsrv_serve_or_a_hook_shutdown_is_refused_not_a_kill(app, client, headers):
    app.extensions.pop("comicsrv.shutdown", None)
    assert "comicsrv.server" not in app.extensions
    answer = client.post("/api/system/restart", headers=headers)
    assert answer.status_code == 409 and "comicsrv serve" in answer.json["error"]["message"]


def test_under_comicsrv_serve_restart_re_executes_and_shutdown_stops_cleanly(tmp_path, free_port):
    """A real ``comicsrv serve`` on 127.0.0.1: restart comes back as the same
    process, shutdown ends it with status 0 after answering."""
    import os
    import subprocess
    import sys
    import time

    import requests

    base = f"http://127.0.0.1:{free_port}"
    env = {**os.environ, "COMICSRV_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "comicsrv", "serve", "--port", str(free_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def ping_until(up: bool, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/ping", timeout=0.5)
                if up:
                    return
            except requests.ConnectionError:
                if not up:
                    return
            except requests.Timeout:
                pass  # accepted but busy (a loaded machine): neither up nor down yet
            time.sleep(0.05)
        raise AssertionError(f"server never went {'up' if up else 'down'}")

    try:
        ping_until(up=True)
        token = requests.post(f"{base}/api/v1/setup/initialize", timeout=10, json={
            "username": "admin", "password": PASSWORD}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        answer = requests.post(f"{base}/api/system/restart", headers=auth, timeout=10)
        assert answer.status_code == 202 and answer.json()["data"]["message"] == "Restarting"
        ping_until(up=False)
        ping_until(up=True)
        assert proc.poll() is None  # the same process, re-executed
        answer = requests.post(f"{base}/api/system/shutdown", headers=auth, timeout=10)
        assert answer.status_code == 202
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert output.count("shutting down") == 2 and "Traceback" not in output


@pytest.mark.parametrize("body", [
    '{"username": "\\ud800", "password": "whatever"}',  # a lone surrogate
    '{"username": "al\\u0000ice", "password": "whatever"}',
    '{"username": "alice", "password": "\\udfff"}',
])
def test_login_text_no_database_accepts_is_a_400_in_the_envelope(client, body):
    UserFactory(username="alice")
    answer = client.post("/api/auth/login", data=body, content_type="application/json")
    assert answer.status_code == 400 and answer.json["error"]["code"] == 400


def test_repeated_failed_logins_are_throttled_in_the_envelope(client):
    UserFactory(username="alice")
    statuses = [client.post("/api/auth/login", json={"username": "alice", "password": "no"})
                for _ in range(6)]
    assert [s.status_code for s in statuses[:5]] == [401] * 5
    assert statuses[5].status_code == 429 and statuses[5].json["error"]["code"] == 429
    assert statuses[5].headers.get("Retry-After")


def test_version_answers_comicarrs_fields_and_stays_offline_by_default(app, client, headers):
    from comicsrv import __version__, updates

    updates.forget()
    data = client.get("/api/system/version", headers=headers).json["data"]
    assert {k: data[k] for k in ("current_version", "latest_version", "commits_behind",
                                 "update_check")} == {
        "current_version": __version__, "latest_version": __version__, "commits_behind": 0,
        "update_check": "off"}
    assert data["install_type"] in ("docker", "git", "pip")


def test_version_counts_newer_releases_at_the_package_index_when_asked_to(
        make_app, admin):
    """The update check reads the index's JSON API (a local server here):
    final, non-yanked releases newer than this one are "behind"."""
    from comicsrv import __version__, updates
    from comicsrv.testing.replay import Recorded, ReplayServer
    from packaging.version import Version

    current = Version(__version__)
    newer = [f"{current.major}.{current.minor}.{current.micro + 1}",
             f"{current.major}.{current.minor + 1}.0"]
    releases = {__version__: [{"yanked": False}], newer[0]: [{"yanked": False}],
                newer[1]: [{"yanked": False}],
                f"{current.major + 1}.0.0": [{"yanked": True}],
                f"{current.major + 1}.0.0rc1": [{"yanked": False}], "0.0.1": []}
    with ReplayServer() as index:
        index.add("GET", "/pypi/comicsrv/json", Recorded.json({"info": {}, "releases": releases}))
        app = make_app(UPDATE_CHECK_URL=f"{index.url}/pypi/comicsrv/json")
        with app.app_context():
            updates.forget()
            set_setting("system.check_updates", True, None)
            key = api_key_for(admin, ["SystemAdmin"])
            client = app.test_client()
            data = client.get("/api/system/version", headers={"X-Api-Key": key}).json["data"]
            assert data["latest_version"] == newer[1] and data["commits_behind"] == 2
            assert data["update_check"] == "ok"
            # Prowlarr's getVersion reads the same.
            mylar = client.get("/api", query_string={"cmd": "getVersion", "apikey": key}).json
            assert mylar["data"]["latest_version"] == newer[1]
            requests_made = len(index.requests)
            client.get("/api/system/version", headers={"X-Api-Key": key})
            assert len(index.requests) == requests_made  # answered from the cache
        updates.forget()


def test_an_unreachable_index_reports_this_version_and_why(make_app, admin):
    from comicsrv import __version__, updates

    app = make_app(UPDATE_CHECK_URL="http://127.0.0.1:9/pypi/comicsrv/json")
    with app.app_context():
        updates.forget()
        set_setting("system.check_updates", True, None)
        key = api_key_for(admin, ["SystemAdmin"])
        data = app.test_client().get("/api/system/version", headers={"X-Api-Key": key}).json["data"]
    assert data["latest_version"] == __version__ and data["commits_behind"] == 0
    assert data["update_check"].startswith("failed")
