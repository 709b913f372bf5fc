"""Fixtures and validators of the OPDS tests.

``opds_v1_schema`` validates an OPDS 1.2 document against the RELAX NG
grammar of OPDS 1.2 (opds-community/specs) with Atom's (RFC 4287) and the
stream link of OPDS-PSE (``tests/fixtures/opds/opds-pse.rnc``), converted to
``.rng`` once with trang; ``opds2_validator`` validates OPDS 2 feeds and
Readium manifests against the JSON schemas of opds-community and Readium,
offline (every ``$ref`` resolves to a file under ``tests/fixtures/opds/opds2``).
"""
from __future__ import annotations

import base64
import json
import re

import pytest
from jsonschema import Draft7Validator, FormatChecker
from lxml import etree
from referencing import Registry, Resource

from tests.conftest import FIXTURES
from tests.factories import PASSWORD

SCHEMAS = FIXTURES / "opds"


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture(scope="session")
def opds_v1_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMAS / "opds-pse.rng")))


def assert_valid_v1(schema: etree.RelaxNG, body: bytes) -> etree._Element:
    document = etree.fromstring(body)
    if not schema.validate(document):
        errors = "\n".join(str(e) for e in schema.error_log)
        raise AssertionError(f"not valid OPDS 1.2 + PSE:\n{errors}\n{body.decode()[:3000]}")
    return document


@pytest.fixture(scope="session")
def opds2_registry() -> Registry:
    resources = []
    for path in sorted((SCHEMAS / "opds2").rglob("*.schema.json")):
        # The schemas' patterns are ECMA-262 regular expressions; Python's re
        # spells their named groups (?<name>...) as (?P<name>...).
        contents = json.loads(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", path.read_text()))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@pytest.fixture(scope="session")
def opds2_validator(opds2_registry):
    def validator(schema_id: str) -> Draft7Validator:
        schema = opds2_registry.contents(schema_id)
        return Draft7Validator(schema, registry=opds2_registry, format_checker=FormatChecker())

    return validator


FEED_SCHEMA = "https://drafts.opds.io/schema/feed.schema.json"
SPEC_FEED_SCHEMA = "https://specs.opds.io/schema/feed.schema.json"
MANIFEST_SCHEMA = "https://readium.org/webpub-manifest/schema/publication.schema.json"
PUBLICATION_SCHEMA = "https://drafts.opds.io/schema/publication.schema.json"


def assert_valid_json(validator, document) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20])


@pytest.fixture
def opds_reader(app):
    """A plain user (Basic credentials from ``basic("opds")``)."""
    from tests.factories import UserFactory

    return UserFactory(username="opds")
