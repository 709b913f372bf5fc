"""schemathesis over LANraragi's own OpenAPI description (its parameters,
not ours): every archive-API operation, valid and invalid inputs, as an
admin over the scanned fixture library. No input may make a 5xx.

Examples per operation: COMICSRV_LRR_FUZZ_EXAMPLES (default 8 keeps the
run near a minute). The Shinobu operations start a watcher in this
process; it is stopped at the end.
"""
import base64
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from .test_openapi_walk import SPEC

EXAMPLES = int(os.environ.get("COMICSRV_LRR_FUZZ_EXAMPLES", "8"))


@pytest.fixture
def lrr_schema(app, scanned_library, monkeypatch):
    if SPEC is None:
        pytest.skip("LANraragi's openapi.yaml is not beside the repository")
    # Only 127.0.0.1 in tests: a generated /download_url URL is checked, never fetched.
    # (comicsrv.lrr.uploads imports requests where it downloads.)
    import requests
    monkeypatch.setattr(requests, "get", _refuse)
    schema = schemathesis.openapi.from_dict(SPEC)
    schema.app = app
    schema.config.generation.update(modes=list(GenerationMode), with_security_parameters=False)
    yield schema
    from comicsrv.library.watcher import stop_watcher

    from .conftest import drain_jobs
    stop_watcher(app)
    drain_jobs(app)


schema = schemathesis.pytest.from_fixture("lrr_schema")


@pytest.fixture
def lrr_key(app):
    from comicsrv.extensions import db
    from comicsrv.models import ApiKey
    from tests.factories import AdminFactory, api_key_for

    state = {}

    def headers():
        db.session.rollback()
        row = db.session.get(ApiKey, state.get("id")) if state.get("id") else None
        if row is None or not (row.user.is_admin and row.user.is_active):
            admin = AdminFactory()
            state["key"] = api_key_for(admin, ["SystemAdmin"], name="lrr-fuzz")
            state["id"] = db.session.execute(db.select(ApiKey.id).where(
                ApiKey.user_id == admin.id)).scalar_one()
        return {"Authorization": "Bearer " + base64.b64encode(state["key"].encode()).decode()}

    return headers


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_lanraragi_request_makes_a_server_error(case, lrr_key):
    case.call_and_validate(headers=lrr_key(), checks=[not_a_server_error])


def _refuse(url, **_kwargs):
    import requests

    raise requests.ConnectionError(f"not fetched in tests: {url}")
