"""Fixtures of the Komga API tests: a plain user who reads through Basic, as
Mihon's Komga extension does, over the scanned fixture library."""
from __future__ import annotations

import base64

import pytest

from tests.factories import PASSWORD, UserFactory


def basic(username: str = "mihon", password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def reader(app):
    return UserFactory(username="mihon")
