"""Who may read the OPDS catalogues: HTTP Basic (what OPDS apps send), an API
key in the URL or the X-API-Key header, a 401 that makes apps prompt, each
user only their libraries, and the admin's switch."""
from __future__ import annotations

import logging

import pytest
from lxml import etree

from comicsrv.opds.keys import mask_keys
from comicsrv.settings_store import set_setting
from tests.factories import BookFactory, LibraryFactory, UserFactory, api_key_for

from .conftest import basic

NS = {"a": "http://www.w3.org/2005/Atom"}
FEEDS = ["/opds/v1.2/catalog", "/opds/v1.2/recent", "/opds/v2.0/catalog", "/opds/v2.0/recent"]


@pytest.mark.parametrize("path", FEEDS)
def test_without_credentials_the_answer_makes_the_app_prompt(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="comicsrv"'


def test_a_wrong_password_is_a_401_with_the_basic_challenge(client, opds_reader):
    response = client.get("/opds/v1.2/catalog", headers=basic("opds", "wrong password"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="comicsrv"'
    assert response.mimetype == "text/plain" and b"Traceback" not in response.data


def test_opds2_answers_401_with_the_authentication_document(client):
    response = client.get("/opds/v2.0/catalog")
    assert response.status_code == 401
    assert response.mimetype == "application/opds-authentication+json"
    assert response.json["authentication"][0]["type"] == "http://opds-spec.org/auth/basic"
    public = client.get("/opds/v2.0/auth")
    assert public.status_code == 200 and public.json["id"] == response.json["id"]


def test_basic_credentials_open_the_catalogue(client, opds_reader):
    response = client.get("/opds/v1.2/catalog", headers=basic("opds"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/atom+xml;profile=opds-catalog;kind=navigation")


def test_an_api_key_in_the_path_opens_the_catalogue_and_every_link_keeps_it(
        client, opds_reader):
    key = api_key_for(opds_reader, ["BooksRead", "PagesRead"])
    response = client.get(f"/opds/v1.2/key/{key}/catalog")
    assert response.status_code == 200
    hrefs = [link.get("href") for link in etree.fromstring(response.data).iter(
        "{http://www.w3.org/2005/Atom}link")]
    assert hrefs and all(f"/opds/v1.2/key/{key}/" in h or f"/opds/v2.0/key/{key}/" in h
                         for h in hrefs)
    follow = client.get(hrefs[-1].split("localhost", 1)[1])
    assert follow.status_code == 200


def test_an_api_key_in_the_query_or_header_opens_the_catalogue(client, opds_reader):
    key = api_key_for(opds_reader, ["BooksRead"])
    assert client.get(f"/opds/v1.2/catalog?apikey={key}").status_code == 200
    assert client.get("/opds/v2.0/catalog", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/opds/v1.2/key/not-a-key/catalog").status_code == 401


def test_a_key_in_the_url_never_reaches_the_request_path_or_the_log(
        client, opds_reader, caplog):
    key = api_key_for(opds_reader, ["BooksRead"])
    seen = {}

    @client.application.before_request
    def remember():
        from flask import request

        seen.setdefault("urls", []).append(request.url)

    with caplog.at_level(logging.DEBUG):
        client.get(f"/opds/v1.2/key/{key}/series/999999")
        client.get(f"/opds/v1.2/series/999999?apikey={key}&page=2")
    assert len(seen["urls"]) == 2 and not any(key in url for url in seen["urls"])
    assert "page=2" in seen["urls"][1]
    assert key not in caplog.text
    assert mask_keys(f"GET /opds/v2.0/key/{key}/catalog?apikey={key}&x=1") == \
        "GET /opds/v2.0/key/***/catalog?apikey=***&x=1"


def test_a_plain_user_sees_only_the_libraries_it_may_see(client, opds_reader):
    mine, theirs = LibraryFactory(name="Mine"), LibraryFactory(name="Theirs")
    visible = BookFactory(library=mine, title="Visible")
    hidden = BookFactory(library=theirs, title="Hidden")
    opds_reader.library_ids = [mine.id]
    from comicsrv.extensions import db

    db.session.commit()
    headers = basic("opds")
    recent = client.get("/opds/v1.2/recent", headers=headers).data.decode()
    assert f"urn:comicsrv:book:{visible.id}" in recent
    assert f"urn:comicsrv:book:{hidden.id}" not in recent
    libraries = client.get("/opds/v2.0/libraries", headers=headers).json
    assert [item["title"] for item in libraries["navigation"]] == ["Mine"]
    for path in (f"/opds/v1.2/books/{hidden.id}/pages/0", f"/opds/v1.2/books/{hidden.id}/file",
                 f"/opds/v2.0/books/{hidden.id}/manifest",
                 f"/opds/v2.0/books/{hidden.id}/progression",
                 f"/opds/v1.2/libraries/{theirs.id}"):
        assert client.get(path, headers=headers).status_code == 404, path


def test_a_key_without_the_permission_is_refused(client, opds_reader):
    key = api_key_for(opds_reader, ["LibrariesRead"])
    response = client.get(f"/opds/v1.2/key/{key}/catalog")
    assert response.status_code == 403 and b"BooksRead" in response.data


def test_switched_off_every_opds_path_is_a_404_before_any_prompt(client, admin, opds_reader):
    set_setting("opds.enabled", False, admin.id)
    for path in FEEDS + ["/opds/v2.0/auth", "/opds/v1.2/books/1/pages/0"]:
        anonymous = client.get(path)
        assert anonymous.status_code == 404, path
        assert "WWW-Authenticate" not in anonymous.headers
        assert client.get(path, headers=basic("opds")).status_code == 404
    set_setting("opds.enabled", True, admin.id)
    assert client.get("/opds/v1.2/catalog", headers=basic("opds")).status_code == 200


def test_an_inactive_user_cannot_sign_in(client):
    UserFactory(username="gone", is_active=False)
    assert client.get("/opds/v1.2/catalog", headers=basic("gone")).status_code == 401
