"""Property-based fuzzing of every documented operation: no input may make
the server answer 5xx.

schemathesis generates requests from the OpenAPI document comicsrv serves
(valid and invalid ones) and calls the app in-process as an admin, over a
scanned fixture library so ids and paths resolve to real rows. Examples per
operation: COMICSRV_FUZZ_EXAMPLES (default 15 keeps CI fast; the issue notes
quote a run with more).
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

EXAMPLES = int(os.environ.get("COMICSRV_FUZZ_EXAMPLES", "15"))
# Endless SSE streams (schemathesis would read each until its timeout; they
# are read incrementally in their own tests).
SKIPPED_PATHS: tuple[str, ...] = ("/api/v1/events/stream", "/api/v1/tasks/stream",
                                  "/api/v1/scans/stream", "/api/events/stream")


@pytest.fixture
def api_schema(app, scanned_library):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, admin_headers):
    if case.path.startswith(SKIPPED_PATHS):
        pytest.skip("endless event stream")
    case.call_and_validate(headers=admin_headers, checks=[not_a_server_error])
