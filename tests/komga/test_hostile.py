"""Text no database can store (NUL, lone surrogates) in any Komga argument
or body is a 400 with Komga's error body, never a 500 (PostgreSQL refuses a
query that carries a NUL; run on both databases)."""
from __future__ import annotations

import pytest

from comicsrv.auth.permissions import USER_PERMISSIONS
from tests.factories import UserFactory, api_key_for


@pytest.fixture
def key(app):
    return api_key_for(UserFactory(username="hostile"), sorted(USER_PERMISSIONS))


@pytest.mark.parametrize("query", [
    "search=a%00b", "publisher=a%00b", "genre=a%00", "tag=%00", "author=a%00,writer",
    "library_id=1%00"])
def test_series_arguments(client, key, query):
    response = client.get(f"/komga/api/v1/series?{query}", headers={"X-API-Key": key})
    assert response.status_code == 400 and response.json["status"] == 400


@pytest.mark.parametrize("url", ["/komga/api/v1/books?search=a%00b",
                                 "/komga/api/v1/readlists?search=a%00",
                                 "/komga/api/v1/authors?search=a%00"])
def test_other_searches(client, key, url):
    assert client.get(url, headers={"X-API-Key": key}).status_code == 400


def test_search_bodies(client, key):
    response = client.post("/komga/api/v1/series/list", headers={"X-API-Key": key}, json={
        "fullTextSearch": "a\x00", "condition": {"libraryId": {"operator": "is",
                                                               "value": "1\x00"}}})
    assert response.status_code == 400
    ignored = client.post("/komga/api/v1/books/list", headers={"X-API-Key": key}, json={
        "condition": {"seriesId": {"operator": "is", "value": "\x00"},
                      "readStatus": {"operator": "is", "value": "\x00"}}})
    assert ignored.status_code == 200 and ignored.json["content"] == []
