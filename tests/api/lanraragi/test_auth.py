"""Who may call the archive API, and the exact 400/401 bodies clients get."""
import pytest

from comicsrv.auth.permissions import USER_PERMISSIONS
from tests.factories import SettingFactory, UserFactory, api_key_for

from .conftest import bearer

NOFUN = {"error": "This API is protected and requires login or an API Key."}
SECURITY = {"errors": [{"message": "Unauthorized", "path": "/security/0/api_key"}], "status": 401}


def test_every_way_a_client_sends_its_key(client, captain, admin_key):
    url = f"/api/archives/{captain.arcid}/metadata"
    for kwargs in ({"headers": bearer(admin_key)},
                   {"headers": {"Authorization": f"Bearer {admin_key}"}},
                   {"headers": {"X-API-Key": admin_key}},
                   {"query_string": {"key": admin_key}}):
        response = client.get(url, **kwargs)
        assert response.status_code == 200, kwargs
        assert response.json["arcid"] == captain.arcid


@pytest.mark.parametrize("header", ["Bearer " + "Zm9v", "Bearer !!!", "Bearer ", "Basic Zm9vOmJhcg=="])
def test_a_wrong_key_on_a_read_is_the_no_fun_401(client, captain, header):
    response = client.get(f"/api/archives/{captain.arcid}/metadata",
                          headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json == NOFUN


def test_reads_are_closed_by_default(client, captain):
    for url in ("/api/info", "/api/archives", "/api/search", "/api/categories",
                f"/api/archives/{captain.arcid}/thumbnail", f"/api/archives/{captain.arcid}/files",
                "/api/database/stats", "/api/minion/1"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.json == NOFUN


def test_public_reading_opens_reads_but_not_writes(client, captain, public_reading):
    assert client.get("/api/info").json["nofun_mode"] is False
    assert client.get(f"/api/archives/{captain.arcid}/metadata").status_code == 200
    assert client.get("/api/search").status_code == 200
    assert client.delete(f"/api/archives/{captain.arcid}/isnew").status_code == 200
    for method, url in (("put", f"/api/archives/{captain.arcid}/metadata?title=x"),
                        ("delete", f"/api/archives/{captain.arcid}"),
                        ("put", "/api/archives/upload"),
                        ("put", "/api/categories?name=x"),
                        ("delete", "/api/search/cache"),
                        ("put", f"/api/archives/{captain.arcid}/isnew")):
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert response.json == SECURITY
    assert captain.title == "The Beginning; The End"


def test_public_reading_stored_as_a_string_counts_too(client, captain):
    SettingFactory(key="library.public_reading", value="true")
    assert client.get(f"/api/archives/{captain.arcid}/metadata").status_code == 200


def test_anonymous_progress_is_lanraragis_authenticated_progress_401(client, captain, public_reading):
    response = client.put(f"/api/archives/{captain.arcid}/progress/2")
    assert response.status_code == 401
    assert response.json == {"operation": "update_progress",
                             "error": "This operation requires authentication.",
                             "success": 0, "successMessage": ""}


def test_a_key_without_the_permission_is_refused_with_lanraragis_body(client, captain, lrr_reader):
    response = client.delete(f"/api/archives/{captain.arcid}", headers=lrr_reader)
    assert response.status_code == 403
    assert response.json == {"operation": "delete_archive",
                             "error": "This API key lacks the BooksDelete permission.",
                             "success": 0, "successMessage": ""}
    assert client.get(f"/api/archives/{captain.arcid}/metadata", headers=lrr_reader).status_code == 200


def test_a_plain_user_cannot_change_what_every_user_sees(client, captain, lrr_reader, lrr_admin):
    """Retitling, re-covering and flagging an archive "new" are LANraragi 🔑
    edits of shared metadata: a plain user's default key gets LANraragi's 403
    body and nothing changes; the admin's key does them."""
    from comicsrv.extensions import db

    edits = ((f"/api/archives/{captain.arcid}/metadata?title=Defaced", "update_metadata"),
             (f"/api/archives/{captain.arcid}/thumbnail?page=2", "update_thumbnail"),
             (f"/api/archives/{captain.arcid}/isnew", "add_new"))
    client.delete(f"/api/archives/{captain.arcid}/isnew", headers=lrr_reader)
    for url, operation in edits:
        response = client.put(url, headers=lrr_reader)
        assert response.status_code == 403, url
        assert response.json == {"operation": operation,
                                 "error": "This API key lacks the MetadataWrite permission.",
                                 "success": 0, "successMessage": ""}
    db.session.expire_all()
    assert (captain.title, captain.cover_page, captain.is_new) == (
        "The Beginning; The End", 0, False)
    for url, operation in edits:
        response = client.put(url, headers=lrr_admin)
        assert response.status_code == 200 and response.json["success"] == 1, url
    db.session.expire_all()
    assert (captain.title, captain.cover_page, captain.is_new) == ("Defaced", 1, True)


def test_metadata_write_granted_by_an_admin_opens_the_edits(client, captain):
    user = UserFactory(granted_permissions=["MetadataWrite"])
    headers = bearer(api_key_for(user, [*sorted(USER_PERMISSIONS), "MetadataWrite"]))
    response = client.put(f"/api/archives/{captain.arcid}/metadata?title=Fixed", headers=headers)
    assert response.status_code == 200 and response.json["success"] == 1


def test_a_key_limited_to_other_libraries_does_not_see_the_archive(client, captain):
    user = UserFactory(library_ids=[captain.library_id + 1000])
    headers = bearer(api_key_for(user, sorted(USER_PERMISSIONS)))
    response = client.get(f"/api/archives/{captain.arcid}/metadata", headers=headers)
    assert response.status_code == 400
    assert response.json["error"] == "This ID doesn't exist on the server."
    assert client.get("/api/info", headers=headers).json["total_archives"] == 0


@pytest.mark.parametrize(("arcid", "message"), [
    ("abc", "String is too short: 3/40."),
    ("a" * 41, "String is too long: 41/40."),
    ("g" * 40, "String does not match ^[0-9a-f]{40}$."),
])
def test_malformed_ids_get_the_validators_400(client, scanned_library, lrr_admin, arcid, message):
    for method, url in (("get", f"/api/archives/{arcid}/metadata"),
                        ("get", f"/api/archives/{arcid}/thumbnail"),
                        ("put", f"/api/archives/{arcid}/progress/1"),
                        ("delete", f"/api/archives/{arcid}")):
        response = getattr(client, method)(url, headers=lrr_admin)
        assert response.status_code == 400, url
        assert response.json == {"errors": [{"message": message, "path": "/id"}], "status": 400}


def test_unknown_ids_get_lanraragis_operation_error(client, scanned_library, lrr_admin):
    unknown = "0" * 40
    response = client.get(f"/api/archives/{unknown}/metadata", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json == {"operation": "metadata", "error": "This ID doesn't exist on the server.",
                             "success": 0, "successMessage": ""}
    response = client.get(f"/api/archives/{unknown}/files", headers=lrr_admin)
    assert response.json["operation"] == "get_file_list"


def test_upper_case_ids_are_accepted(client, captain, lrr_admin):
    response = client.get(f"/api/archives/{captain.arcid.upper()}/metadata", headers=lrr_admin)
    assert response.json["arcid"] == captain.arcid


def test_bad_parameters_get_the_validators_shape(client, scanned_library, lrr_admin):
    response = client.get("/api/search?start=abc", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json == {"errors": [{"message": "Not a valid integer.", "path": "/start"}],
                             "status": 400}


def test_unknown_path_and_wrong_method_answer_in_the_surface_shape(client, scanned_library, lrr_admin):
    response = client.get("/api/archives/" + "a" * 40 + "/nothing", headers=lrr_admin)
    assert response.status_code == 404
    assert response.json["success"] == 0 and response.json["operation"] == "not_found"
    assert set(response.json) == {"operation", "error", "success", "successMessage"}
    response = client.post("/api/info", headers=lrr_admin)
    assert response.status_code == 405
    assert response.json["success"] == 0 and response.json["error"]
    assert "GET" in response.headers["Allow"]
