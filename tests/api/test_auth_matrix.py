"""Every /api/v1 route, called without credentials and with a key that holds
no permission.

Expectations come from what each view declares (``@require(...)``, or CLU's
blueprint guard), and a route that declares nothing and is not on the short
public list fails the test: a new endpoint cannot ship unprotected by
accident.
"""
import re

import pytest

from comicsrv.api.v1.clu_common import _guard as clu_guard
from comicsrv.auth.decorators import declared_permission, is_declared
from tests.factories import UserFactory, api_key_for

PUBLIC = {
    ("/ping", "GET"),
    ("/api/v1/health", "GET"),
    ("/api/v1/setup/status", "GET"),
    ("/api/v1/setup/initialize", "POST"),
    ("/api/v1/auth/login", "POST"),
    ("/api/v1/auth/register", "POST"),
}
_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>")


def _url(rule: str) -> str:
    return _ARG.sub(lambda m: "1" if m.group(1) == "int" else "x", rule)


def _routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _is_clu(app, endpoint):
    blueprint = endpoint.rpartition(".")[0]
    return clu_guard in app.before_request_funcs.get(blueprint, [])


def _call(client, method, url, headers=None):
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    response = client.open(url, method=method, headers=headers or {}, buffered=False, **kwargs)
    status = response.status_code
    response.close()  # SSE streams would otherwise never end
    return status


def test_every_route_declares_who_may_call_it(app):
    undeclared = [f"{method} {rule.rule}" for rule, method in _routes(app)
                  if (rule.rule, method) not in PUBLIC and not _is_clu(app, rule.endpoint)
                  and not is_declared(declared_permission(app, rule.endpoint, method))]
    assert undeclared == []


def test_without_credentials_every_protected_route_is_401(app, client):
    api_key_for(UserFactory(), [])  # an API key exists: CLU routes are enabled
    wrong = []
    for rule, method in _routes(app):
        if (rule.rule, method) in PUBLIC:
            continue
        status = _call(client, method, _url(rule.rule))
        if status != 401:
            wrong.append(f"{method} {rule.rule}: {status}")
    assert wrong == []


def test_a_key_without_the_permission_is_403(app, client):
    headers = {"X-API-Key": api_key_for(UserFactory(), [])}
    checked, wrong = 0, []
    for rule, method in _routes(app):
        if (rule.rule, method) in PUBLIC:
            continue
        permission = ("BooksRead" if _is_clu(app, rule.endpoint)
                      else declared_permission(app, rule.endpoint, method))
        status = _call(client, method, _url(rule.rule), headers)
        if permission is None:
            # Any authenticated caller: must get past authentication.
            if status in (401, 403):
                wrong.append(f"{method} {rule.rule}: {status} for an authenticated caller")
            continue
        checked += 1
        if status != 403:
            wrong.append(f"{method} {rule.rule}: {status}, expected 403 ({permission})")
    assert wrong == []
    assert checked > 50


@pytest.mark.parametrize("path", ["/api/v1/library/publishers", "/api/v1/auth/ping"])
def test_clu_routes_answer_503_while_no_key_or_token_exists(client, path):
    response = client.get(path)
    assert response.status_code == 503 and response.json["error"] == "api_disabled"
