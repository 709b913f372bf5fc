"""Property-based fuzzing of every documented operation: no input may make
the server answer 5xx, and every answer must be what the OpenAPI document
says (its status, media type, headers and body schema), every request the
document allows must be accepted and every one it forbids refused.

schemathesis generates requests from the OpenAPI document comicsrv serves,
valid ones and invalid ones (both generation modes, the CLI's ``--mode
all``), and calls the app in-process as an admin, over a scanned fixture
library so ids and paths resolve to real rows. The suite runs it on SQLite
and again on PostgreSQL, which refuses more (32-bit integer columns, NUL in
text), so both runs matter.

The checks are schemathesis' ``--checks all`` minus the ones listed in
``EXCLUDED_CHECKS`` (each with why it cannot apply here); the few
operations a check cannot judge are in ``NOT_JUDGED`` with the reason.

Examples per operation: COMICSRV_FUZZ_EXAMPLES (default 10: every check
runs on each answer and ignored_auth sends each request twice, so this is
about as long as the earlier 25-example "no 5xx" run). The examples are
derandomized: CI sees the inputs a developer saw, and a new failure comes
from a change, not from the dice.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks, positive_data_acceptance
from schemathesis.generation import GenerationMode

EXAMPLES = int(os.environ.get("COMICSRV_FUZZ_EXAMPLES", "10"))
# Endless SSE streams (schemathesis would read each until its timeout; they
# are read incrementally in their own tests).
SKIPPED_PATHS: tuple[str, ...] = ("/api/v1/events/stream", "/api/v1/tasks/stream",
                                  "/api/v1/scans/stream", "/api/events/stream",
                                  # A generated URL would be fetched (only 127.0.0.1 in tests);
                                  # a restart would leave a file watcher running. Both are
                                  # fuzzed in tests/api/lanraragi/test_fuzz_lanraragi.py.
                                  "/api/download_url", "/api/shinobu/restart",
                                  "/api/shinobu/rescan")
# The LANraragi archive API answers in LANraragi's shapes, checked against
# LANraragi's own OpenAPI description by tests/api/lanraragi (the walk of
# every operation, its clients, its fuzz); only "no 5xx" here.
LANRARAGI_PREFIXES: tuple[str, ...] = ("/api/archives", "/api/minion", "/api/info",
                                       "/api/categories", "/api/database", "/api/tankoubons",
                                       "/api/shinobu", "/api/stamps", "/api/opds", "/api/plugins",
                                       "/api/tempfolder", "/api/regen_thumbs")
LANRARAGI_PATHS = frozenset({"/api/search", "/api/search/random", "/api/search/ids",
                             "/api/search/cache"})

load_all_checks()
EXCLUDED_CHECKS = {
    # Compares what two different users may see of one object: needs a
    # second set of credentials per operation, and this run is one admin
    # (the per-user rules have their own tests: tests/api/test_auth_matrix.py).
    "object_level_authorization",
    # Both follow a DELETE, or a POST's Location, to the next request: only
    # in stateful (link-following) runs; these cases are independent.
    "use_after_free",
    "ensure_resource_availability",
    # No response time is promised (max_response_time is off unless given a
    # limit, and a shared 2-core CI machine would make one flaky).
    "max_response_time",
}


def positive_data_within_request_limits(ctx, response, case):
    """positive_data_acceptance, but a 400 for a JSON integer beyond 64 bits
    is the body check every surface applies (``api.request_limits``: no
    column or consumer holds one); free-form objects in an OpenAPI 3.0
    document cannot say so, so schemathesis generates them as valid."""
    if response.status_code == 400 and b"does not fit in 64 bits" in (response.content or b""):
        return None
    return positive_data_acceptance(ctx, response, case)


positive_data_within_request_limits.__name__ = "positive_data_acceptance"
CONFORMANCE_CHECKS = [positive_data_within_request_limits if check is positive_data_acceptance
                      else check
                      for check in CHECKS.get_all() if check.__name__ not in EXCLUDED_CHECKS]

# Operations a check cannot judge, and why.
#
# positive_data_acceptance: valid per the schema, yet refused with a 400
# because of what the value names, which a schema cannot express (a folder
# that must exist, an installed plugin, an http(s) URL, a time still to
# come, a code that was sent, a row that must exist)...
NAMES_SOMETHING = {
    "POST /api/v1/auth/verify-email": "the code must be the one sent",
    "POST /api/v1/passkey/auth/options": "the user must have a passkey",
    "POST /api/v1/passkey/auth/verify": "a signed WebAuthn assertion",
    "POST /api/v1/api-keys": "permission names that exist",
    "POST /api/v1/users": "library ids that exist",
    "PUT /api/v1/api-keys/{key_id}": "expires_at in the future",
    "GET /api/v1/issue/{book_id}/download": "a Range inside the file (416)",
    "POST /api/v1/library/to-read": "a path inside the libraries",
    "POST /api/v1/downloader/clients": "an installed download-client plugin",
    "POST /api/v1/wizard/test-downloader": "an installed download-client plugin",
    "POST /api/v1/wizard/test-notification": "an installed notifier plugin",
    "POST /api/v1/notification-targets": "an installed notifier plugin",
    "POST /api/v1/indexers": "an installed indexer plugin",
    "POST /api/v1/indexers/test": "an installed indexer plugin",
    "POST /api/v1/admin/integrations": "an installed sync plugin",
    "GET /api/v1/filesystem/browse": "an existing folder",
    "POST /api/v1/libraries": "an existing folder",
    "PUT /api/v1/libraries/{library_id}": "an existing folder",
    "POST /api/v1/path-mappings": "absolute remote and local folders",
    "GET /api/v1/path-mappings/resolve": "an existing download client",
    "PUT /api/v1/user/preferences/{key}": "a known preference",
    "DELETE /api/v1/user/preferences/{key}": "a known preference",
    "POST /api/v1/reading-lists/import": "a CBL document",
    "POST /api/v1/rss": "an http(s) URL",
    "POST /api/v1/rss/analysis": "an http(s) URL",
    "POST /api/v1/rss/subscribe": "an http(s) URL",
    "POST /api/v1/wizard/test-rss": "an http(s) URL",
    "POST /api/v1/rules/reset-all": "confirm must be true",
    "PATCH /api/v1/config": "at least one setting",
    "PUT /api/config": "at least one setting",
    "POST /api/v1/admin/settings/bulk": "setting names that exist",
    "POST /api/v1/wizard/complete": "setting names that exist",
    "POST /api/v1/books/list": "filter field names that exist",
    "POST /api/v1/series/list": "filter field names that exist",
    "POST /api/metadata/search": "an installed metadata plugin",
    "GET /api/metadata/comic/{comic_id}": "an installed metadata plugin",
    "POST /api/search/comics": "an installed metadata plugin",
    "POST /api/search/manga": "an installed metadata plugin",
    "POST /api/search/add": "an installed metadata plugin",
    "POST /api/search/add-manga": "an installed metadata plugin",
    "POST /api/series": "an installed metadata plugin",
    "POST /api/storyarcs": "an installed metadata plugin",
    "POST /api/series/{comic_id}/refresh": "a comic that exists",
    "GET /api": "host is an http(s) URL (a format cannot name the schemes)",
    "POST /api": "host is an http(s) URL (a format cannot name the schemes)",
}
# ...and CLU's own refusals, which its clients expect as they are: one of
# two parameters required together, a mode word, a query free of control
# characters (searched text), a 64-bit integer.
CLU_REFUSALS = {
    "GET /api/v1/library/publishers": "mode is metadata or filesystem",
    "GET /api/v1/library/series": "mode is metadata or filesystem",
    "GET /api/v1/library/issues": "series is required (CLU's 400 wording)",
    "POST /api/v1/library/favorites": "path or value is required",
    "DELETE /api/v1/library/favorites": "path or value is required",
    "DELETE /api/v1/library/to-read": "integers beyond 64 bits",
    "GET /api/v1/progress": "an empty path",
    "GET /api/v1/series": "search text without control characters",
    "POST /api/v1/series/search": "search text without control characters",
    "GET /opds/v2.0/search": "search text without control characters",
}
# ...and what OpenAPI 3.0 cannot say at all: the keys of a free-form object
# (a plugin's settings: 1-100 characters) need propertyNames, which comes
# with OpenAPI 3.1; this document is 3.0.3, as the client generators read.
OPENAPI_30_LIMITS = {
    "PATCH /api/v1/indexers/{indexer_id}": "settings keys of 1-100 characters",
    "POST /api/v1/notification-targets/test": "settings keys of 1-100 characters",
    "PATCH /api/v1/notification-targets/{target_id}": "settings keys of 1-100 characters",
    "POST /api/v1/user/integrations": "settings keys of 1-100 characters",
    "PATCH /api/v1/admin/integrations/{integration_id}": "settings keys of 1-100 characters",
}
# negative_data_rejection: accepted on purpose. CLU's paging reads a
# page/page_size that is not a number as the default (reader apps rely on
# it; the parameters' descriptions say so), and marshmallow reads "1" and
# "true" in a JSON body as 1 and true.
LENIENT = {
    "GET /api/v1/library/publishers": "CLU paging", "GET /api/v1/library/series": "CLU paging",
    "GET /api/v1/library/issues": "CLU paging", "GET /api/v1/library/favorites": "CLU paging",
    "GET /api/v1/library/to-read": "CLU paging", "GET /api/v1/library/recent": "CLU paging",
    "GET /api/v1/progress": "CLU paging", "GET /api/v1/progress/since": "CLU paging",
    "POST /api/v1/series/list": "numbers as strings", "POST /api/v1/series/search":
    "numbers as strings", "POST /api/v1/books/list": "numbers as strings",
    "POST /api/v1/users": "booleans as strings",
}
NOT_JUDGED: dict[str, dict[str, str]] = {
    "positive_data_acceptance": {**NAMES_SOMETHING, **CLU_REFUSALS, **OPENAPI_30_LIMITS},
    "negative_data_rejection": LENIENT,
    # The URL also names the setting "bulk" of /admin/settings/{key} (and
    # Komga's series or book "list" of /series/{id}, /books/{id}), whose GET
    # and PUT the Allow header rightly lists.
    "allow_header_conformance": {
        "POST /api/v1/admin/settings/bulk": "also /admin/settings/{key}",
        "POST /komga/api/v1/series/list": "also /series/{series_id}",
        "POST /komga/api/v1/books/list": "also /books/{book_id}",
    },
}


@pytest.fixture
def api_schema(app, scanned_library):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # Our admin key, not generated credentials: with those, nearly every
    # request stopped at the 401 and the handlers behind it went unfuzzed.
    schema.config.generation.update(modes=list(GenerationMode), with_security_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")
# COMICSRV_FUZZ_ONLY=<regex>: only the paths it matches (to work on a few).
if os.environ.get("COMICSRV_FUZZ_ONLY"):
    schema = schema.include(path_regex=os.environ["COMICSRV_FUZZ_ONLY"])


class Credentials:
    """An admin API key that survives the fuzzer: generated requests may
    delete the key, or demote, deactivate or delete its user, and every
    later operation would then only be fuzzing the 401 path."""

    def __init__(self):
        self.key = None
        self.key_id = None

    def headers(self) -> dict[str, str]:
        from comicsrv.extensions import db
        from comicsrv.models import ApiKey, LoginThrottleEntry
        from tests.factories import AdminFactory, api_key_for

        db.session.rollback()
        # ignored_auth sends each request again with bad credentials, all
        # from one address: the login throttle would soon answer those with
        # 429 instead of the 401 that check wants to see.
        db.session.execute(db.delete(LoginThrottleEntry))
        db.session.commit()
        row = db.session.get(ApiKey, self.key_id) if self.key_id else None
        if row is None or not (row.user.is_admin and row.user.is_active) or row.expires_at:
            admin = AdminFactory()
            self.key = api_key_for(admin, ["SystemAdmin"], name="fuzz")
            self.key_id = db.session.execute(db.select(ApiKey.id).where(
                ApiKey.user_id == admin.id)).scalar_one()
        return {"X-API-Key": self.key}

    def for_case(self, case) -> dict[str, str]:
        """The key under the header name the operation's security scheme
        declares (the legacy surface's is Mylar's X-Api-Key), so the
        ignored_auth check can take it away again and see the refusal."""
        headers = self.headers()
        schemes = {name for requirement in case.operation.definition.raw.get("security") or []
                   for name in requirement}
        if "LegacyApiKey" in schemes:
            return {"X-Api-Key": headers["X-API-Key"]}
        return headers


@pytest.fixture
def credentials(app):
    return Credentials()


def is_lanraragi(path: str) -> bool:
    return path.startswith(LANRARAGI_PREFIXES) or path in LANRARAGI_PATHS


def checks_for(label: str, path: str) -> list:
    from schemathesis.checks import not_a_server_error

    if is_lanraragi(path):
        return [not_a_server_error]
    return [check for check in CONFORMANCE_CHECKS
            if label not in NOT_JUDGED.get(check.__name__, {})]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
# One test holds every operation (subtests): the suite's 300 s per test is
# for single tests, this one is several minutes on a loaded 2-core machine.
@pytest.mark.timeout(1800)
def test_every_answer_is_the_documented_one(case, credentials):
    if case.path.startswith(SKIPPED_PATHS):
        pytest.skip("endless event stream")
    case.call_and_validate(headers=credentials.for_case(case),
                           checks=checks_for(case.operation.label, case.path))
