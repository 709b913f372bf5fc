"""schemathesis over every ``/komga`` operation of the OpenAPI document, as a
plain reader (an ``X-API-Key``, which Komga's clients send too) over the scanned fixture
library: no input may make the server answer 5xx. The whole-API fuzz
(``tests/api/test_fuzz.py``) covers the same operations as an admin."""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

EXAMPLES = int(os.environ.get("COMICSRV_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def komga_schema(app, scanned_library):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.generation.update(modes=list(GenerationMode), with_security_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("komga_schema").include(path_regex="^/komga")


@pytest.fixture
def credentials(app):
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from tests.factories import UserFactory, api_key_for

    # A key rather than Basic: a password hash per request would make the
    # run slow, and the login throttle would lock the user out mid-run.
    return {"X-API-Key": api_key_for(UserFactory(username="mihon"), sorted(USER_PERMISSIONS))}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, credentials):
    case.call_and_validate(headers=credentials, checks=[not_a_server_error])
