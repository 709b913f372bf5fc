"""GETs that change state (``@changes_state_on_get``) never accept the web
UI's session cookie: any page the admin visits can make the browser send a
GET with it. Every route declared so is walked here: the cookie is refused
in the surface's envelope and nothing changes; an API key works.

Of all GET routes of the three surfaces, only Mylar's command API changes
state (Prowlarr's addProvider, changeProvider, delProvider). LANraragi's
``/archives/<id>/thumbnail?no_fallback=true`` queues the thumbnail the same
GET otherwise makes on the spot, and ``/archives/<id>/files`` may correct a
stale page count: caches of what is already there, not changes a caller
asks for. LANraragi clears "new" flags with DELETE, which the CSRF check
covers.
"""
from __future__ import annotations

from typing import Callable

import pytest

from comicsrv.api.surfaces import surface_for_path
from comicsrv.auth.declarations import declared_views
from comicsrv.extensions import db
from comicsrv.models.automation import IndexerConfig
from tests.factories import PASSWORD, IndexerConfigFactory

COOKIE = "comicsrv_session"


def _provider_names() -> set[str]:
    db.session.expire_all()
    return set(db.session.execute(db.select(IndexerConfig.name)).scalars())


# A state-changing call of each declared route, and how to see that it
# happened: (query string, effect seen?).
EXAMPLES: dict[str, list[tuple[str, Callable[[], bool]]]] = {
    "/api": [
        ("cmd=addProvider&name=Planted&providertype=newznab&host=http://127.0.0.1:9/api",
         lambda: "Planted" in _provider_names()),
        ("cmd=delProvider&name=Existing&providertype=torznab",
         lambda: "Existing" not in _provider_names()),
        ("cmd=changeProvider&name=Existing&providertype=torznab&host=http://127.0.0.1:9/api"
         "&altername=Renamed", lambda: "Renamed" in _provider_names()),
    ],
}


def _refused_in_the_surface_envelope(app, path: str, response) -> bool:
    surface = surface_for_path(app, path)
    body = response.get_json()
    if surface.name == "legacy":
        return body["success"] is False and body["error"]["code"] == 403 \
            and "API key" in body["error"]["message"]
    if surface.name == "v1":
        return body["error"] == "api_key_required"
    return "API key" in (body.get("error") or body["errors"][0]["message"])


@pytest.fixture
def logged_in(app, admin, client):
    """The test client holding the admin's session cookie."""
    answer = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert answer.status_code == 200 and client.get_cookie(COOKIE) is not None
    return client


def test_every_declared_route_has_an_example(app):
    declared = {rule.rule for rule, _method in declared_views(app)}
    assert declared, "the Mylar command API changes state on GET"
    assert declared == set(EXAMPLES)


@pytest.mark.parametrize("path, query, happened",
                         [(path, query, check) for path, calls in EXAMPLES.items()
                          for query, check in calls])
def test_the_cookie_is_refused_and_an_api_key_works(app, logged_in, admin_headers, path, query,
                                                    happened):
    IndexerConfigFactory(name="Existing", kind="torznab", protocol="torrent", managed_by="prowlarr",
                         settings={"url": "http://127.0.0.1:9", "api_path": "/api"})
    url = f"{path}?{query}"
    # Whatever a hostile page can make a browser send along: a top-level
    # navigation carries the cookie and no token.
    for headers in ({}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-origin"}):
        for method in ("GET", "HEAD"):
            refused = logged_in.open(url, method=method, headers=headers)
            assert refused.status_code == 403, (method, headers)
        assert _refused_in_the_surface_envelope(app, path, logged_in.get(url, headers=headers))
    assert not happened()

    with_key = logged_in.get(url, headers=admin_headers)  # the cookie rides along, harmless
    assert with_key.status_code == 200, with_key.get_json()
    assert happened()


def test_the_mylar_api_takes_the_key_as_prowlarr_sends_it_with_the_cookie_present(
        app, logged_in, admin_headers):
    key = admin_headers["X-API-Key"]
    answer = logged_in.get(f"/api?cmd=getVersion&apikey={key}")
    assert answer.status_code == 200 and answer.json["success"] is True


def test_gets_that_only_read_still_take_the_cookie(app, logged_in):
    assert logged_in.get("/api/v1/auth/me").json["auth_method"] == "session"
    assert logged_in.get("/api/system/version").json["success"] is True
    assert logged_in.get("/api/info").status_code == 200
