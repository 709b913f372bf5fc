"""schemathesis over the ``/koreader`` operations with a reader's key (as
KOReader sends it): no input may make the server answer 5xx."""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

EXAMPLES = int(os.environ.get("COMICSRV_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def kosync_schema(app, scanned_library):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.generation.update(modes=list(GenerationMode), with_security_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("kosync_schema").include(path_regex="^/koreader")


@pytest.fixture
def credentials(app):
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from tests.factories import UserFactory, api_key_for

    key = api_key_for(UserFactory(username="kindle"), sorted(USER_PERMISSIONS))
    return {"X-Auth-User": key, "X-Auth-Key": "0" * 32}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, credentials):
    case.call_and_validate(headers=credentials, checks=[not_a_server_error])
