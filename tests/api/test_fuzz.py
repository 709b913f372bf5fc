"""Property-based fuzzing of every documented operation: no input may make
the server answer 5xx.

schemathesis generates requests from the OpenAPI document comicsrv serves,
valid ones and invalid ones (both generation modes, the CLI's ``--mode
all``), and calls the app in-process as an admin, over a scanned fixture
library so ids and paths resolve to real rows. The suite runs it on SQLite
and again on PostgreSQL, which refuses more (32-bit integer columns, NUL in
text), so both runs matter.

Examples per operation: COMICSRV_FUZZ_EXAMPLES. The default keeps each run
under about three minutes on the CI machine; the issue notes quote runs with
100 (clean on both databases).
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

EXAMPLES = int(os.environ.get("COMICSRV_FUZZ_EXAMPLES", "25"))
# Endless SSE streams (schemathesis would read each until its timeout; they
# are read incrementally in their own tests).
SKIPPED_PATHS: tuple[str, ...] = ("/api/v1/events/stream", "/api/v1/tasks/stream",
                                  "/api/v1/scans/stream", "/api/events/stream",
                                  # A generated URL would be fetched (only 127.0.0.1 in tests);
                                  # a restart would leave a file watcher running. Both are
                                  # fuzzed in tests/api/lanraragi/test_fuzz_lanraragi.py.
                                  "/api/download_url", "/api/shinobu/restart",
                                  "/api/shinobu/rescan")


@pytest.fixture
def api_schema(app, scanned_library):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # Our admin key, not generated credentials: with those, nearly every
    # request stopped at the 401 and the handlers behind it went unfuzzed.
    schema.config.generation.update(modes=list(GenerationMode), with_security_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


class Credentials:
    """An admin API key that survives the fuzzer: generated requests may
    delete the key, or demote, deactivate or delete its user, and every
    later operation would then only be fuzzing the 401 path."""

    def __init__(self):
        self.key = None
        self.key_id = None

    def headers(self) -> dict[str, str]:
        from comicsrv.extensions import db
        from comicsrv.models import ApiKey
        from tests.factories import AdminFactory, api_key_for

        db.session.rollback()
        row = db.session.get(ApiKey, self.key_id) if self.key_id else None
        if row is None or not (row.user.is_admin and row.user.is_active) or row.expires_at:
            admin = AdminFactory()
            self.key = api_key_for(admin, ["SystemAdmin"], name="fuzz")
            self.key_id = db.session.execute(db.select(ApiKey.id).where(
                ApiKey.user_id == admin.id)).scalar_one()
        return {"X-API-Key": self.key}


@pytest.fixture
def credentials(app):
    return Credentials()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, credentials):
    if case.path.startswith(SKIPPED_PATHS):
        pytest.skip("endless event stream")
    case.call_and_validate(headers=credentials.headers(), checks=[not_a_server_error])
