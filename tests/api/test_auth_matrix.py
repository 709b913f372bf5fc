"""Every route of every surface, called by every kind of caller.

Surfaces: ``/api/v1``, the LANraragi archive API, the legacy ``/api``,
``/ping``, ``/docs``, ``/openapi.json`` and the web pages. Callers: nobody,
a wrong key, a wrong Bearer token, a wrong password, a plain user with their
default permissions, a key without the route's permission, and an admin;
keys travel the way each surface's clients send them.

What each caller must get comes from the route's own declaration
(``comicsrv.auth.decorators.Access``: ``@require`` on ``/api/v1`` and the
legacy ``/api``, ``reader``/``writer`` on the archive API, CLU's blueprint)
or from ``PUBLIC``, the short list of routes anyone may call. A route that
declares nothing and is not on that list fails the first test: a new
endpoint cannot ship undecided.

Refusals are real requests through the test client, so the view never runs.
A caller who may pass gets the real request on reads; on writes only the
request's ``before_request`` hooks run (the permission guard, CLU's guard),
so the matrix never shuts the server down, starts a search or logs anyone
out. Either way the check is the one a real request meets.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import jwt
import pytest
from werkzeug.security import generate_password_hash

from comicsrv.api.surfaces import surface_for_path
from comicsrv.auth.decorators import ANONYMOUS_RULES, PUBLIC_READING, declared_access
from comicsrv.auth.permissions import PERMISSIONS, USER_PERMISSIONS
from comicsrv.extensions import db
from comicsrv.models import LoginThrottleEntry, User
from tests.factories import AdminFactory, SettingFactory, UserFactory, api_key_for

# Anyone may call these, with or without credentials.
PUBLIC = {
    ("/static/<path:filename>", "GET"),
    ("/ping", "GET"),  # Docker's HEALTHCHECK
    ("/docs", "GET"),
    ("/openapi.json", "GET"),
    ("/api/v1/health", "GET"),
    ("/api/v1/setup/status", "GET"),
    ("/api/v1/setup/initialize", "POST"),  # refuses once any user exists
    ("/api/v1/auth/login", "POST"),
    ("/api/v1/auth/register", "POST"),  # refuses unless the admin allows registration
    ("/api/auth/login", "POST"),
    ("/login", "GET"),  # the web UI's sign-in page and form
    ("/login", "POST"),
    ("/opds/v2.0/auth", "GET"),  # OPDS 2's authentication document
    ("/api/v1/passkey/auth/options", "POST"),  # a challenge; says no more than login does
    ("/api/v1/passkey/auth/verify", "POST"),  # a passkey login
    ("/api/v1/auth/verify-email", "POST"),  # the mailed code is the credential
    ("/koreader/users/create", "POST"),  # KOReader's register: checks the key it is given
}
# A web page refuses a caller without credentials with a redirect to sign-in.
SIGN_IN = "sign-in redirect"
# Routes that trade credentials for a session (a token refresh): an API key
# is refused (403) there, so a narrow key never becomes a full session.
SESSION_ONLY = {("/api/v1/auth/refresh_token", "GET")}
KEY_CALLERS = {"admin", "key without permissions"}
PASS = "pass"  # anything but 401 and 403
PASSWORD = "plain user's password"
WRONG_KEY = "csrv_00000000_" + "x" * 43
_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>")


@dataclass(frozen=True)
class Caller:
    name: str
    # None: no valid credentials; else the permissions the caller holds.
    holds: frozenset[str] | None


CALLERS = (
    Caller("anonymous", None),
    Caller("wrong key", None),
    Caller("wrong bearer", None),
    Caller("wrong basic", None),
    Caller("plain user", USER_PERMISSIONS),
    Caller("key without permissions", frozenset()),
    Caller("admin", frozenset(PERMISSIONS)),
)
ANONYMOUS_CALLERS = [c for c in CALLERS if c.holds is None]


def _url(rule: str) -> str:
    return _ARG.sub(lambda m: "1" if m.group(1) == "int" else "x", rule)


def _routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _surface(app, url: str) -> str | None:
    surface = surface_for_path(app, url)
    return surface.name if surface else None


def _basic(username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _key_request(surface: str | None, key: str) -> dict:
    """A key as the surface's own clients send it."""
    if surface == "archives":  # LANraragi's Authorization: Bearer <base64(key)>
        return {"headers": {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}}
    if surface == "legacy":  # Mylar-style tools and Prowlarr: ?apikey=
        return {"query_string": {"apikey": key}}
    if surface == "koreader":  # KOReader's kosync plugin: the key is its user name
        return {"headers": {"X-Auth-User": key, "X-Auth-Key": "0" * 32}}
    return {"headers": {"X-API-Key": key}}


@pytest.fixture
def callers(app):
    """How each caller authenticates, per surface."""
    # A cheap hash for the plain user: every route is called with Basic
    # credentials, and scrypt's cost is not what this test measures.
    plain = UserFactory(username="plain",
                        password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1"))
    admin = AdminFactory(username="boss")
    keys = {"admin": api_key_for(admin, ["SystemAdmin"]),
            "key without permissions": api_key_for(plain, [])}
    forged = jwt.encode({"sub": str(admin.id), "iat": 0, "exp": 2**31 - 1, "gen": 0},
                        "not the server's secret, but long enough for HS256", algorithm="HS256")

    def request_for(caller: Caller, surface: str | None) -> dict:
        if caller.name in keys:
            return _key_request(surface, keys[caller.name])
        if caller.name == "plain user":
            return {"headers": _basic("plain", PASSWORD)}
        if caller.name == "wrong key":
            return _key_request(surface, WRONG_KEY)
        if caller.name == "wrong bearer":
            if surface == "archives":
                return _key_request(surface, WRONG_KEY)
            return {"headers": {"Authorization": f"Bearer {forged}"}}
        if caller.name == "wrong basic":
            return {"headers": _basic("plain", "not the password")}
        return {}

    return request_for


def expected(access, caller: Caller, public_reading: bool) -> object:
    """PASS, 401 or 403 for ``caller`` on a route declaring ``access``."""
    if access is None:  # on the public list
        return PASS
    if caller.holds is None:
        return PASS if access.anonymous == PUBLIC_READING and public_reading else 401
    if access.permission is None or access.permission in caller.holds \
            or "SystemAdmin" in caller.holds:
        return PASS
    return 403


def _reset_login_throttle(app) -> None:
    """The matrix sends a wrong password hundreds of times on purpose; it tests
    who gets in, not the brute-force lock-out (``comicsrv.auth.throttle``)."""
    db.session.execute(LoginThrottleEntry.__table__.delete())
    db.session.commit()


def _status(app, client, method: str, url: str, request: dict, outcome: object) -> int:
    if outcome == PASS and method != "GET":
        # Only what runs before the view: the guards that decide 401/403.
        with app.test_request_context(url, method=method, json={}, **request):
            try:
                response = app.preprocess_request()
            except Exception as exc:  # the guard's refusal, as the app renders it
                response = app.handle_user_exception(exc)
            return response.status_code if response is not None else 200
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    response = client.open(url, method=method, buffered=False, **request, **kwargs)
    status = response.status_code
    if outcome == SIGN_IN:
        signs_in = status in (302, 303) and "/login" in response.headers.get("Location", "")
        response.close()
        return SIGN_IN if signs_in else status
    if status == 401 and _surface(app, url) == "opds":
        # OPDS apps prompt for a password only on Basic's challenge.
        assert response.headers.get("WWW-Authenticate", "").startswith("Basic"), url
    elif status in (401, 403) and _surface(app, url) not in (None, "opds"):
        _check_envelope(app, url, status, response.get_json(silent=True))
    response.close()  # SSE streams would otherwise never end
    return status


def _check_envelope(app, url: str, status: int, body) -> None:
    """A refusal comes in the surface's own error shape."""
    surface = _surface(app, url)
    assert isinstance(body, dict), f"{url}: {status} without a JSON body"
    if surface == "legacy":
        assert body["success"] is False and body["error"]["code"] == status, url
    elif surface == "archives":
        assert "error" in body or "errors" in body, url
    elif surface == "komga":  # Spring Boot's error body, as Komga answers
        assert body["status"] == status and body["path"], url
    elif surface == "koreader":  # kosync's {"code", "message"}
        assert body["code"] == 2001 and body["message"], url
    else:
        assert body["error"] in ("unauthorized", "forbidden") or status == 403, url


def _run(app, client, request_for, caller: Caller, public_reading: bool) -> tuple[int, list[str]]:
    checked, wrong = 0, []
    for rule, method in _routes(app):
        url = _url(rule.rule)
        access = None if (rule.rule, method) in PUBLIC else declared_access(
            app, rule.endpoint, method)
        outcome = expected(access, caller, public_reading)
        if outcome == 401 and _surface(app, url) is None:
            outcome = SIGN_IN
        if (rule.rule, method) in SESSION_ONLY and caller.name in KEY_CALLERS:
            outcome = 403
        if caller.name == "wrong basic":
            _reset_login_throttle(app)
        status = _status(app, client, method, url, request_for(caller, _surface(app, url)),
                         outcome)
        checked += 1
        if outcome == PASS and status in (401, 403) or outcome != PASS and status != outcome:
            wrong.append(f"{method} {rule.rule}: {status}, expected {outcome}")
    return checked, wrong


def test_every_route_declares_who_may_call_it(app):
    undeclared = [f"{method} {rule.rule}" for rule, method in _routes(app)
                  if (rule.rule, method) not in PUBLIC
                  and declared_access(app, rule.endpoint, method) is None]
    assert undeclared == []


def test_declarations_are_well_formed_and_the_public_list_is_real(app):
    routes = {(rule.rule, method) for rule, method in _routes(app)}
    assert PUBLIC <= routes
    for rule, method in _routes(app):
        access = declared_access(app, rule.endpoint, method)
        if access is not None:
            assert access.permission is None or access.permission in PERMISSIONS, rule.rule
            assert access.anonymous in ANONYMOUS_RULES, rule.rule
    surfaces = {_surface(app, _url(rule.rule)) for rule, _ in _routes(app)}
    assert surfaces == {"v1", "archives", "legacy", "opds", "komga", "koreader", None}


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_every_caller_on_every_route(app, client, callers, caller):
    checked, wrong = _run(app, client, callers, caller, public_reading=False)
    assert wrong == []
    assert checked > 180


@pytest.mark.parametrize("caller", ANONYMOUS_CALLERS, ids=[c.name for c in ANONYMOUS_CALLERS])
def test_public_reading_opens_lanraragis_reads_and_nothing_else(app, client, callers, caller):
    """With ``library.public_reading`` on (LANraragi's No-Fun Mode off), the
    archive API's public reads answer anyone, a wrong key included (LANraragi
    does not look at keys there); every other route still wants credentials."""
    SettingFactory(key="library.public_reading", value=True)
    checked, wrong = _run(app, client, callers, caller, public_reading=True)
    assert wrong == []
    opened = [rule.rule for rule, method in _routes(app)
              if (access := declared_access(app, rule.endpoint, method)) is not None
              and access.anonymous == PUBLIC_READING]
    assert len(opened) > 15 and all(_surface(app, _url(r)) == "archives" for r in opened)


def test_a_plain_users_key_is_capped_by_its_owner(app, client, callers):
    """A key row naming every permission gives a plain user's key no more than
    the user holds: the admin-only routes still answer 403."""
    plain = db.session.execute(db.select(User).where(User.username == "plain")).scalar_one()
    key = api_key_for(plain, list(PERMISSIONS))
    for url in ("/api/v1/admin/settings", "/api/v1/users", "/api/v1/duplicates", "/api/v1/logs",
                "/api/v1/metrics", "/api/v1/rss", "/api/v1/downloader/clients"):
        assert client.get(url, headers={"X-API-Key": key}).status_code == 403, url
    assert client.get("/api/watchlist", query_string={"apikey": key}).status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/library/publishers", "/api/v1/auth/ping"])
def test_clu_routes_answer_503_while_no_key_or_token_exists(client, path):
    response = client.get(path)
    assert response.status_code == 503 and response.json["error"] == "api_disabled"
