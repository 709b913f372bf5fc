# scratch: per-check measurement, not for commit
import json, os
import pytest, schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import load_all_checks, CHECKS
from schemathesis.generation import GenerationMode
from tests.api.test_fuzz import Credentials, SKIPPED_PATHS, credentials  # noqa

load_all_checks()
ALL = [c for c in CHECKS.get_all()]
EXAMPLES = int(os.environ.get("COMICSRV_FUZZ_EXAMPLES", "10"))
OUT = os.environ.get("MEASURE_OUT", "/tmp/measure.jsonl")


@pytest.fixture
def api_schema(app, scanned_library):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.generation.update(modes=list(GenerationMode), with_security_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_measure(case, credentials):
    if case.path.startswith(SKIPPED_PATHS):
        pytest.skip("stream")
    headers = credentials.headers()
    response = case.call(headers=headers)
    rows = []
    for check in ALL:
        try:
            case.validate_response(response, checks=[check], headers=headers)
        except BaseException as exc:  # noqa
            if isinstance(exc, (KeyboardInterrupt,)):
                raise
            rows.append({"op": case.operation.label, "sent": case.method, "check": check.__name__,
                         "status": response.status_code, "msg": str(exc)[:1500],
                         "body": (response.text or "")[:300] if hasattr(response, 'text') else "",
                         "req": {"q": case.query, "b": repr(case.body)[:300], "p": case.path_parameters}})
    with open(OUT, "a") as fh:
        for r in rows:
            fh.write(json.dumps(r, default=str) + "\n")
        fh.write(json.dumps({"op": case.operation.label, "sent": case.method, "check": "_ran"}) + "\n")
