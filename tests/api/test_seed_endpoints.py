"""Every endpoint of the five API documents comicsrv is built from, with the
route that serves it.

One row per documented endpoint: the system, the method and path as its
document writes them, and comicsrv's method and Flask rule. Comicarr's
``/api``, CLU's ``/api/v1`` and LANraragi's archive API are served at their
own paths; Codex's keep their paths under ``/api/v1``; AutoBangumi's are
features in comic terms (its "bangumi" rules are release rules, its GETs
that change state are POSTs here, its setup wizard is ``/wizard`` because
Codex's first-run setup owns ``/setup``). The test checks that each route
exists for the method and declares who may call it; the behaviour of each
is tested in the module of its resource.
"""
from __future__ import annotations

import pytest

from comicsrv.auth.decorators import declared_access

V1 = "/api/v1"

COMICARR = [  # the legacy /api (Comicarr's REST API)
    ("GET", "/api/series", "GET", "/api/series"),
    ("GET", "/api/series/{comic_id}", "GET", "/api/series/<comic_id>"),
    ("POST", "/api/series", "POST", "/api/series"),
    ("DELETE", "/api/series/{comic_id}", "DELETE", "/api/series/<comic_id>"),
    ("PUT", "/api/series/{comic_id}/pause", "PUT", "/api/series/<comic_id>/pause"),
    ("PUT", "/api/series/{comic_id}/resume", "PUT", "/api/series/<comic_id>/resume"),
    ("POST", "/api/series/{comic_id}/refresh", "POST", "/api/series/<comic_id>/refresh"),
    ("PUT", "/api/series/issues/{issue_id}/queue", "PUT", "/api/series/issues/<issue_id>/queue"),
    ("PUT", "/api/series/issues/{issue_id}/unqueue", "PUT",
     "/api/series/issues/<issue_id>/unqueue"),
    ("GET", "/api/wanted", "GET", "/api/wanted"),
    ("GET", "/api/watchlist", "GET", "/api/watchlist"),
    ("GET", "/api/comics", "GET", "/api/comics"),
    ("GET", "/api/comic/{comic_id}", "GET", "/api/comic/<comic_id>"),
    ("GET", "/api/comic/{comic_id}/issues", "GET", "/api/comic/<comic_id>/issues"),
    ("POST", "/api/search/comics", "POST", "/api/search/comics"),
    ("POST", "/api/search/manga", "POST", "/api/search/manga"),
    ("POST", "/api/search/add", "POST", "/api/search/add"),
    ("POST", "/api/search/add-manga", "POST", "/api/search/add-manga"),
    ("POST", "/api/search/force", "POST", "/api/search/force"),
    ("POST", "/api/search/rss/force", "POST", "/api/search/rss/force"),
    ("GET", "/api/search/providers", "GET", "/api/search/providers"),
    ("GET", "/api/downloads/history", "GET", "/api/downloads/history"),
    ("DELETE", "/api/downloads/history", "DELETE", "/api/downloads/history"),
    ("POST", "/api/downloads/process", "POST", "/api/downloads/process"),
    ("GET", "/api/downloads/queue", "GET", "/api/downloads/queue"),
    ("POST", "/api/downloads/{item_id}/requeue", "POST", "/api/downloads/<int:item_id>/requeue"),
    ("POST", "/api/downloads/ddl", "POST", "/api/downloads/ddl"),
    ("DELETE", "/api/downloads/{item_id}", "DELETE", "/api/downloads/<int:item_id>"),
    ("POST", "/api/metadata/search", "POST", "/api/metadata/search"),
    ("GET", "/api/metadata/comic/{comic_id}", "GET", "/api/metadata/comic/<comic_id>"),
    ("GET", "/api/metadata/issue/{issue_id}", "GET", "/api/metadata/issue/<issue_id>"),
    ("POST", "/api/metadata/metatag", "POST", "/api/metadata/metatag"),
    ("GET", "/api/storyarcs", "GET", "/api/storyarcs"),
    ("GET", "/api/storyarcs/{arc_id}", "GET", "/api/storyarcs/<arc_id>"),
    ("DELETE", "/api/storyarcs/{arc_id}", "DELETE", "/api/storyarcs/<arc_id>"),
    ("POST", "/api/storyarcs/{arc_id}/want-all", "POST", "/api/storyarcs/<arc_id>/want-all"),
    ("POST", "/api/storyarcs/{arc_id}/refresh", "POST", "/api/storyarcs/<arc_id>/refresh"),
    ("POST", "/api/auth/login", "POST", "/api/auth/login"),
    ("POST", "/api/auth/logout", "POST", "/api/auth/logout"),
    ("GET", "/api/events/stream", "GET", "/api/events/stream"),
    ("GET", "/api/config", "GET", "/api/config"),
    ("PUT", "/api/config", "PUT", "/api/config"),
    ("GET", "/api/system/version", "GET", "/api/system/version"),
    ("GET", "/api/system/logs", "GET", "/api/system/logs"),
    ("POST", "/api/system/shutdown", "POST", "/api/system/shutdown"),
    ("POST", "/api/system/restart", "POST", "/api/system/restart"),
    # Mylar's command API (Prowlarr's sync; forceProcess from Mylar's scripts).
    ("GET", "/api?cmd=...", "GET", "/api"),
    ("POST", "/api?cmd=forceProcess", "POST", "/api"),
]

CLU = [  # CLU's client API, exact
    ("GET", "/api/v1/auth/ping", "GET", "/api/v1/auth/ping"),
    ("GET", "/api/v1/library/publishers", "GET", "/api/v1/library/publishers"),
    ("GET", "/api/v1/library/series", "GET", "/api/v1/library/series"),
    ("GET", "/api/v1/library/issues", "GET", "/api/v1/library/issues"),
    ("GET", "/api/v1/library/favorites", "GET", "/api/v1/library/favorites"),
    ("GET", "/api/v1/library/to-read", "GET", "/api/v1/library/to-read"),
    ("GET", "/api/v1/library/recent", "GET", "/api/v1/library/recent"),
    ("GET", "/api/v1/issue/{id}", "GET", "/api/v1/issue/<int:book_id>"),
    ("GET", "/api/v1/issue/{id}/cover", "GET", "/api/v1/issue/<int:book_id>/cover"),
    ("GET", "/api/v1/issue/{id}/download", "GET", "/api/v1/issue/<int:book_id>/download"),
    ("GET", "/api/v1/progress?path=", "GET", "/api/v1/progress"),
    ("PUT", "/api/v1/progress", "PUT", "/api/v1/progress"),
    ("GET", "/api/v1/progress/since", "GET", "/api/v1/progress/since"),
    ("POST", "/api/v1/issues/read", "POST", "/api/v1/issues/read"),
]

LANRARAGI = [  # the archive API, exact
    ("GET", "/api/archives/untagged", "GET", "/api/archives/untagged"),
    ("PUT", "/api/archives/upload", "PUT", "/api/archives/upload"),
    ("DELETE", "/api/archives/:id", "DELETE", "/api/archives/<arcid>"),
    ("PUT", "/api/archives/:id/metadata", "PUT", "/api/archives/<arcid>/metadata"),
    ("GET", "/api/archives/:id/thumbnail", "GET", "/api/archives/<arcid>/thumbnail"),
    ("PUT", "/api/archives/:id/thumbnail", "PUT", "/api/archives/<arcid>/thumbnail"),
    ("GET", "/api/archives/:id/files", "GET", "/api/archives/<arcid>/files"),
    ("POST", "/api/archives/:id/files/thumbnails", "POST",
     "/api/archives/<arcid>/files/thumbnails"),
    ("GET", "/api/archives/:id/page", "GET", "/api/archives/<arcid>/page"),
    ("PUT", "/api/archives/:id/progress/:page", "PUT", "/api/archives/<arcid>/progress/<page>"),
    ("DELETE", "/api/archives/:id/isnew", "DELETE", "/api/archives/<arcid>/isnew"),
    ("GET", "/api/minion/:jobid", "GET", "/api/minion/<jobid>"),
]


def _codex(method: str, path: str, rule: str | None = None, ours: str | None = None):
    return (method, path, ours or method, V1 + (rule or path))


CODEX = [  # Codex's resources, paths kept under /api/v1
    _codex("GET", "/setup/status"),
    _codex("POST", "/setup/initialize"),
    _codex("POST", "/auth/login"),
    _codex("POST", "/auth/register"),
    _codex("POST", "/auth/logout"),
    _codex("GET", "/auth/me"),
    _codex("POST", "/auth/verify-email"),
    _codex("POST", "/auth/resend-verification"),
    _codex("GET", "/libraries"),
    _codex("POST", "/libraries"),
    _codex("GET", "/libraries/{id}", "/libraries/<int:library_id>"),
    _codex("PUT", "/libraries/{id}", "/libraries/<int:library_id>"),
    _codex("DELETE", "/libraries/{id}", "/libraries/<int:library_id>"),
    _codex("GET", "/libraries/{id}/thumbnail", "/libraries/<int:library_id>/thumbnail"),
    _codex("POST", "/libraries/{id}/scan", "/libraries/<int:library_id>/scan"),
    _codex("GET", "/libraries/{id}/scan-status", "/libraries/<int:library_id>/scan-status"),
    _codex("POST", "/libraries/{id}/scan/cancel", "/libraries/<int:library_id>/scan/cancel"),
    _codex("GET", "/scans/active"),
    _codex("GET", "/scans/stream"),
    _codex("GET", "/series"),
    _codex("POST", "/series/list"),
    _codex("POST", "/series/search"),
    _codex("GET", "/series/in-progress"),
    _codex("GET", "/series/recently-added"),
    _codex("GET", "/series/recently-updated"),
    _codex("GET", "/series/{id}", "/series/<int:series_id>"),
    _codex("GET", "/series/{id}/books", "/series/<int:series_id>/books"),
    _codex("GET", "/series/{id}/thumbnail", "/series/<int:series_id>/thumbnail"),
    _codex("POST", "/series/{id}/analyze", "/series/<int:series_id>/analyze"),
    _codex("POST", "/series/{id}/read", "/series/<int:series_id>/read"),
    _codex("POST", "/series/{id}/unread", "/series/<int:series_id>/unread"),
    _codex("GET", "/books"),
    _codex("POST", "/books/list"),
    _codex("GET", "/books/{id}", "/books/<int:book_id>"),
    _codex("GET", "/books/{id}/thumbnail", "/books/<int:book_id>/thumbnail"),
    _codex("POST", "/books/{id}/analyze", "/books/<int:book_id>/analyze"),
    _codex("GET", "/books/in-progress"),
    _codex("GET", "/books/on-deck"),
    _codex("GET", "/books/recently-added"),
    _codex("GET", "/books/recently-read"),
    _codex("GET", "/books/{id}/pages", "/books/<int:book_id>/pages"),
    _codex("GET", "/books/{book_id}/pages/{page_number}",
           "/books/<int:book_id>/pages/<int:page_number>"),
    _codex("GET", "/books/{id}/progress", "/books/<int:book_id>/progress"),
    _codex("PUT", "/books/{id}/progress", "/books/<int:book_id>/progress"),
    _codex("DELETE", "/books/{id}/progress", "/books/<int:book_id>/progress"),
    _codex("GET", "/progress"),
    _codex("GET", "/progress/currently-reading"),
    _codex("POST", "/books/{id}/read", "/books/<int:book_id>/read"),
    _codex("POST", "/books/{id}/unread", "/books/<int:book_id>/unread"),
    _codex("GET", "/users"),
    _codex("POST", "/users"),
    _codex("GET", "/users/{id}", "/users/<int:user_id>"),
    _codex("PUT", "/users/{id}", "/users/<int:user_id>"),
    _codex("DELETE", "/users/{id}", "/users/<int:user_id>"),
    _codex("GET", "/api-keys"),
    _codex("POST", "/api-keys"),
    _codex("GET", "/api-keys/{id}", "/api-keys/<int:key_id>"),
    _codex("PUT", "/api-keys/{id}", "/api-keys/<int:key_id>"),
    _codex("DELETE", "/api-keys/{id}", "/api-keys/<int:key_id>"),
    _codex("GET", "/tasks"),
    _codex("GET", "/tasks/{id}", "/tasks/<int:task_id>"),
    _codex("POST", "/tasks/{id}/cancel", "/tasks/<int:task_id>/cancel"),
    _codex("GET", "/tasks/stats"),
    _codex("GET", "/tasks/stream"),
    _codex("GET", "/duplicates"),
    _codex("POST", "/duplicates/scan"),
    _codex("DELETE", "/duplicates/{id}", "/duplicates/<int:group_id>"),
    _codex("GET", "/user/preferences"),
    _codex("PUT", "/user/preferences/{key}", "/user/preferences/<key>"),
    _codex("DELETE", "/user/preferences/{key}", "/user/preferences/<key>"),
    _codex("GET", "/user/integrations"),
    _codex("POST", "/user/integrations"),
    _codex("DELETE", "/user/integrations/{name}", "/user/integrations/<name>"),
    _codex("POST", "/user/integrations/{name}/sync", "/user/integrations/<name>/sync"),
    _codex("GET", "/admin/settings"),
    _codex("GET", "/admin/settings/{key}", "/admin/settings/<key>"),
    _codex("PUT", "/admin/settings/{key}", "/admin/settings/<key>"),
    _codex("POST", "/admin/settings/bulk"),
    _codex("POST", "/admin/settings/{key}/reset", "/admin/settings/<key>/reset"),
    _codex("GET", "/admin/settings/{key}/history", "/admin/settings/<key>/history"),
    _codex("GET", "/admin/integrations"),
    _codex("POST", "/admin/integrations"),
    _codex("POST", "/admin/integrations/{id}/test", "/admin/integrations/<int:integration_id>/test"),
    _codex("GET", "/filesystem/browse"),
    _codex("GET", "/filesystem/drives"),
    _codex("GET", "/health"),
    _codex("GET", "/metrics"),
    _codex("GET", "/events/stream"),
    # "codex openapi --output": the document the server itself serves.
    ("GET", "openapi export", "GET", "/openapi.json"),
]


def _ab(method: str, path: str, ours: str, rule: str):
    return (method, path, ours, V1 + rule)


AUTOBANGUMI = [  # AutoBangumi's features, in comic terms
    _ab("POST", "/auth/login", "POST", "/auth/login"),
    _ab("GET", "/auth/refresh_token", "GET", "/auth/refresh_token"),
    _ab("GET", "/auth/logout", "POST", "/auth/logout"),
    _ab("POST", "/auth/update", "POST", "/auth/update"),
    _ab("POST", "/passkey/register/options", "POST", "/passkey/register/options"),
    _ab("POST", "/passkey/register/verify", "POST", "/passkey/register/verify"),
    _ab("POST", "/passkey/auth/options", "POST", "/passkey/auth/options"),
    _ab("POST", "/passkey/auth/verify", "POST", "/passkey/auth/verify"),
    _ab("GET", "/passkey/list", "GET", "/passkey/list"),
    _ab("POST", "/passkey/delete", "POST", "/passkey/delete"),
    _ab("GET", "/config/get", "GET", "/config"),
    _ab("PATCH", "/config/update", "PATCH", "/config"),
    _ab("GET", "/bangumi/get/all", "GET", "/rules"),
    _ab("GET", "/bangumi/get/{bangumi_id}", "GET", "/rules/<int:rule_id>"),
    _ab("PATCH", "/bangumi/update/{bangumi_id}", "PATCH", "/rules/<int:rule_id>"),
    _ab("DELETE", "/bangumi/delete/{bangumi_id}", "DELETE", "/rules/<int:rule_id>"),
    _ab("DELETE", "/bangumi/delete/many/", "POST", "/rules/delete-many"),
    _ab("DELETE", "/bangumi/disable/{bangumi_id}", "POST", "/rules/<int:rule_id>/disable"),
    _ab("DELETE", "/bangumi/disable/many/", "POST", "/rules/disable-many"),
    _ab("GET", "/bangumi/enable/{bangumi_id}", "POST", "/rules/<int:rule_id>/enable"),
    _ab("GET", "/bangumi/refresh/poster/all", "POST", "/rules/posters/refresh"),
    _ab("GET", "/bangumi/refresh/poster/{bangumi_id}", "POST",
        "/rules/<int:rule_id>/poster/refresh"),
    _ab("GET", "/bangumi/refresh/calendar", "POST", "/calendar/refresh"),
    _ab("GET", "/bangumi/reset/all", "POST", "/rules/reset-all"),
    _ab("GET", "/rss", "GET", "/rss"),
    _ab("POST", "/rss/add", "POST", "/rss"),
    _ab("POST", "/rss/enable/many", "POST", "/rss/enable-many"),
    _ab("PATCH", "/rss/disable/{rss_id}", "POST", "/rss/<int:feed_id>/disable"),
    _ab("POST", "/rss/disable/many", "POST", "/rss/disable-many"),
    _ab("DELETE", "/rss/delete/{rss_id}", "DELETE", "/rss/<int:feed_id>"),
    _ab("POST", "/rss/delete/many", "POST", "/rss/delete-many"),
    _ab("PATCH", "/rss/update/{rss_id}", "PATCH", "/rss/<int:feed_id>"),
    _ab("GET", "/rss/refresh/all", "POST", "/rss/refresh"),
    _ab("GET", "/rss/refresh/{rss_id}", "POST", "/rss/<int:feed_id>/refresh"),
    _ab("GET", "/rss/torrent/{rss_id}", "GET", "/rss/<int:feed_id>/items"),
    _ab("POST", "/rss/analysis", "POST", "/rss/analysis"),
    _ab("POST", "/rss/collect", "POST", "/rss/<int:feed_id>/collect"),
    _ab("POST", "/rss/subscribe", "POST", "/rss/subscribe"),
    _ab("GET", "/search/bangumi", "GET", "/search/stream"),
    # The search providers are the configured indexers.
    _ab("GET", "/search/provider", "GET", "/indexers"),
    _ab("GET", "/status", "GET", "/program/status"),
    _ab("GET", "/start", "POST", "/program/start"),
    _ab("GET", "/restart", "POST", "/program/restart"),
    _ab("GET", "/stop", "POST", "/program/stop"),
    _ab("GET", "/shutdown", "POST", "/program/shutdown"),
    _ab("GET", "/check/downloader", "POST", "/downloader/clients/<int:client_id>/test"),
    _ab("GET", "/downloader/torrents", "GET", "/downloader/items"),
    _ab("POST", "/downloader/torrents/pause", "POST", "/downloader/items/pause"),
    _ab("POST", "/downloader/torrents/resume", "POST", "/downloader/items/resume"),
    _ab("POST", "/downloader/torrents/delete", "POST", "/downloader/items/delete"),
    _ab("GET", "/setup/status", "GET", "/wizard/status"),
    _ab("POST", "/setup/test-downloader", "POST", "/wizard/test-downloader"),
    _ab("POST", "/setup/test-rss", "POST", "/wizard/test-rss"),
    _ab("POST", "/setup/test-notification", "POST", "/wizard/test-notification"),
    _ab("POST", "/setup/complete", "POST", "/wizard/complete"),
    _ab("GET", "/log", "GET", "/logs"),
    _ab("GET", "/log/clear", "DELETE", "/logs"),
]

SEEDS = {"Comicarr": COMICARR, "CLU": CLU, "LANraragi": LANRARAGI, "Codex": CODEX,
         "AutoBangumi": AUTOBANGUMI}
# Public routes of the table: anyone may call them (test_auth_matrix's PUBLIC).
PUBLIC = {("/api/v1/setup/status", "GET"), ("/api/v1/setup/initialize", "POST"),
          ("/api/v1/auth/login", "POST"), ("/api/v1/auth/register", "POST"),
          ("/api/v1/auth/verify-email", "POST"), ("/api/v1/health", "GET"),
          ("/api/auth/login", "POST"), ("/openapi.json", "GET"),
          ("/api/v1/passkey/auth/options", "POST"), ("/api/v1/passkey/auth/verify", "POST")}
ROWS = [(system, *row) for system, rows in SEEDS.items() for row in rows]


@pytest.fixture(scope="module")
def routes(make_app_module):
    app = make_app_module
    return {(rule.rule, method): rule.endpoint for rule in app.url_map.iter_rules()
            for method in rule.methods}, app


@pytest.fixture(scope="module")
def make_app_module(database_url, tmp_path_factory):
    from comicsrv.app import create_app

    return create_app({"DATA_DIR": str(tmp_path_factory.mktemp("seeds")),
                       "DATABASE_URL": database_url, "AUTO_MIGRATE": False,
                       "SCHEDULER_ENABLED": False, "TESTING": True})


@pytest.mark.parametrize("system, seed_method, seed_path, method, rule", ROWS,
                         ids=[f"{r[0]} {r[1]} {r[2]}" for r in ROWS])
def test_each_seed_endpoint_is_served_and_declares_who_may_call_it(
        routes, system, seed_method, seed_path, method, rule):
    found, app = routes
    endpoint = found.get((rule, method))
    assert endpoint is not None, f"{system} {seed_method} {seed_path}: no route {method} {rule}"
    if (rule, method) not in PUBLIC:
        assert declared_access(app, endpoint, method) is not None, \
            f"{method} {rule} declares nobody who may call it"


def test_the_table_has_every_endpoint_of_each_document_once():
    counts = {system: len(rows) for system, rows in SEEDS.items()}
    # Comicarr 46 (+2 of Mylar's commands), CLU 14, LANraragi 12 (11 + the
    # minion job it names), Codex 88 (+ the OpenAPI export), AutoBangumi 57.
    assert counts == {"Comicarr": 48, "CLU": 14, "LANraragi": 12, "Codex": 89,
                      "AutoBangumi": 57}
    for system, rows in SEEDS.items():
        documented = [(method, path) for method, path, _, _ in rows]
        assert len(documented) == len(set(documented)), f"{system} lists an endpoint twice"
