from tests.conftest import FIXTURE_ARCHIVES  # noqa: F401  (re-exported for these tests)
