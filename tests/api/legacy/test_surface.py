"""The legacy /api surface's envelope and auth, beside the archive API."""
from tests.factories import api_key_for


def test_an_unknown_path_answers_in_comicarrs_error_envelope(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json["success"] is False and response.json["error"]["code"] == 404
    assert response.json["error"]["message"]


def test_lanraragi_keeps_its_own_search_paths_and_shapes(client):
    # /api/search is LANraragi's (its error shape); /api/search/comics is not.
    assert "success" not in (client.get("/api/search", query_string={"start": "x"}).json or {})
    assert client.get("/api/search/no-such").json["success"] is False


def test_apikey_query_parameter_is_accepted_only_on_the_legacy_surface(client, admin):
    from flask import request

    from comicsrv.auth import current_principal

    key = api_key_for(admin, ["SystemAdmin"])
    with client.application.test_request_context("/api/anything", query_string={"apikey": key}):
        assert current_principal() is not None and request.path == "/api/anything"
    with client.application.test_request_context("/api/v1/books", query_string={"apikey": key}):
        assert current_principal() is None
