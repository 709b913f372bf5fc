"""schemathesis over this area's /api routes with a watched series, an arc
and Metron replayed, so generated ids and bodies reach the real services
(the suite-wide fuzz runs them over an empty watchlist): no input may make
the server answer 5xx."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api.legacy.metron_replay import add_inhumans, app, headers, metron  # noqa: F401

EXAMPLES = int(os.environ.get("COMICSRV_FUZZ_EXAMPLES", "15"))
AREA = (r"^/api/(series|wanted|watchlist|comics?|search/(comics|manga|add|add-manga|providers)"
        r"|metadata|storyarcs)")


@pytest.fixture
def watchlist_schema(app, client, headers):
    add_inhumans(client, headers)
    assert client.post("/api/storyarcs", json={"arc_id": 2}, headers=headers).status_code == 201
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("watchlist_schema").include(path_regex=AREA)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, headers):
    case.call_and_validate(headers=headers, checks=[not_a_server_error])
