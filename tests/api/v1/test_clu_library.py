"""CLU's ``/api/v1`` auth rules, ``/auth/ping`` and ``/library/*``: both browse
modes, their parameters and errors, and the favourites, want-to-read and
recently-added lists (reads and writes)."""
import os
from datetime import timedelta

import pytest

from comicsrv.auth.users import create_client_token
from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book, Favorite, Library, ToReadEntry, utcnow
from comicsrv.settings_store import set_preference, set_setting
from tests.factories import UserFactory, api_key_for

CLU_GETS = ["/api/v1/auth/ping", "/api/v1/library/publishers", "/api/v1/library/series",
            "/api/v1/library/issues?series=x", "/api/v1/library/favorites",
            "/api/v1/library/to-read", "/api/v1/library/recent", "/api/v1/issue/1",
            "/api/v1/issue/1/cover", "/api/v1/issue/1/download", "/api/v1/progress?path=/x",
            "/api/v1/progress", "/api/v1/progress/since?ts=0"]
CLU_WRITES = [("put", "/api/v1/progress"), ("post", "/api/v1/issues/read"),
              ("post", "/api/v1/library/favorites"), ("delete", "/api/v1/library/favorites"),
              ("post", "/api/v1/library/to-read"), ("delete", "/api/v1/library/to-read")]


def get(client, headers, url, **query):
    response = client.get(url, headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def names(body):
    return [item["name"] for item in body["items"]]


def book_at(path):
    return db.session.execute(db.select(Book).where(Book.path == path)).scalar_one()


# --- auth: 503 while disabled, 401, 403 -------------------------------------------------


def test_every_clu_endpoint_is_503_until_a_token_or_key_exists(client, app):
    for url in CLU_GETS:
        response = client.get(url, headers={"Authorization": "Bearer whatever"})
        assert response.status_code == 503, url
        assert response.json["error"] == "api_disabled"
        assert "Client API Access" in response.json["message"]
    for method, url in CLU_WRITES:
        assert getattr(client, method)(url, json={}).status_code == 503
    # Only CLU's endpoints: the rest of /api/v1 is unaffected.
    assert client.get("/api/v1/health").status_code == 200


def test_without_valid_credentials_every_clu_endpoint_is_401(client, clu_token):
    for headers in ({}, {"Authorization": "Bearer wrong-token"},
                    {"Authorization": clu_token}, {"X-API-Key": "wrong"}):
        for url in CLU_GETS:
            response = client.get(url, headers=headers)
            assert response.status_code == 401, (url, headers)
            assert response.json["error"] == "unauthorized"
    for method, url in CLU_WRITES:
        assert getattr(client, method)(url, json={}).status_code == 401


def test_an_api_key_alone_enables_the_api_as_bearer_or_header(client):
    key = api_key_for(UserFactory(), ["BooksRead"])
    assert client.get("/api/v1/auth/ping").status_code == 401
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        assert client.get("/api/v1/auth/ping", headers=headers).json["ok"] is True


def test_a_key_that_cannot_read_books_is_403_and_an_inactive_users_token_401(client):
    key = api_key_for(UserFactory(), ["SystemHealth"])
    response = client.get("/api/v1/library/recent", headers={"X-API-Key": key})
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    token = create_client_token(UserFactory(is_active=False))[1]
    assert client.get("/api/v1/auth/ping",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- browse mode ------------------------------------------------------------------------


def test_saved_browse_mode_applies_and_mode_overrides_it(client, clu_user, clu_headers,
                                                         scanned_library):
    assert get(client, clu_headers, "/api/v1/library/publishers")["mode"] == "metadata"
    set_preference(clu_user.id, "api_browse_mode", "filesystem")
    assert get(client, clu_headers, "/api/v1/auth/ping")["browse_mode"] == "filesystem"
    body = get(client, clu_headers, "/api/v1/library/publishers")
    assert body["mode"] == "filesystem" and names(body) == ["Komga", "Youthful"]
    upper = get(client, clu_headers, "/api/v1/library/publishers", mode="METADATA")
    assert upper["mode"] == "metadata"
    assert get(client, clu_headers, "/api/v1/library/publishers", mode="")["mode"] == "filesystem"


@pytest.mark.parametrize("url", ["/api/v1/library/publishers", "/api/v1/library/series",
                                 "/api/v1/library/issues"])
def test_an_unknown_mode_is_400_invalid_mode(client, clu_headers, url):
    response = client.get(url, headers=clu_headers, query_string={"mode": "bogus", "series": "x"})
    assert response.status_code == 400 and response.json["error"] == "invalid_mode"


# --- filesystem mode ------------------------------------------------------------------


def test_filesystem_publishers_are_the_top_folders_of_every_visible_library(
        client, clu_headers, scanned_library, volume_library, marvel_library):
    body = get(client, clu_headers, "/api/v1/library/publishers", mode="filesystem")
    assert body["items"] == [
        {"value": "Archie Comics", "name": "Archie Comics",
         "path": f"{volume_library.path}/Archie Comics", "has_thumbnail": True, "count": 4},
        {"value": "Komga", "name": "Komga", "path": f"{scanned_library.path}/Komga",
         "has_thumbnail": False, "count": 5},
        {"value": "Marvel", "name": "Marvel", "path": f"{marvel_library.path}/Marvel",
         "has_thumbnail": False, "count": 1},
        {"value": "Youthful", "name": "Youthful", "path": f"{scanned_library.path}/Youthful",
         "has_thumbnail": False, "count": 3},
    ]  # ".trash" is hidden
    by_count = get(client, clu_headers, "/api/v1/library/publishers", mode="filesystem",
                   sort="count", page=2, page_size=2)
    assert names(by_count) == ["Youthful", "Marvel"]
    assert (by_count["total"], by_count["total_pages"], by_count["has_more"]) == (4, 2, False)
    garbled = get(client, clu_headers, "/api/v1/library/publishers", mode="filesystem",
                  sort="sideways", page="x", page_size="9999")
    assert names(garbled)[0] == "Archie Comics"
    assert (garbled["page"], garbled["page_size"]) == (1, 200)


def test_filesystem_series_with_volumes(client, clu_headers, volume_library):
    archie = f"{volume_library.path}/Archie Comics"
    body = get(client, clu_headers, "/api/v1/library/series", mode="filesystem",
               publisher="Archie Comics")
    assert body["items"] == [
        {"value": "Empty Series", "name": "Empty Series", "path": f"{archie}/Empty Series",
         "has_thumbnail": False, "count": 0},
        {"value": "Jughead", "name": "Jughead", "path": f"{archie}/Jughead",
         "has_thumbnail": False, "count": 1},
        {"value": "Sabrina the Teenage Witch", "name": "Sabrina the Teenage Witch",
         "path": f"{archie}/Sabrina the Teenage Witch", "has_thumbnail": False, "count": 3,
         "volumes": ["v1971", "v1997"]},
    ]
    # the absolute path a client echoes back, q, and sort=count
    by_path = get(client, clu_headers, "/api/v1/library/series", mode="filesystem",
                  publisher=archie, q="e", sort="count")
    assert names(by_path) == ["Sabrina the Teenage Witch", "Jughead", "Empty Series"]
    assert names(get(client, clu_headers, "/api/v1/library/series", mode="filesystem",
                     publisher=archie, search="JUG")) == ["Jughead"]


def test_filesystem_series_of_a_folder_with_comics_on_top_has_no_volumes(
        app, client, clu_headers, volume_library):
    sabrina = f"{volume_library.path}/Archie Comics/Sabrina the Teenage Witch"
    os.rename(f"{sabrina}/v1997/Sabrina 001.cbz", f"{sabrina}/Sabrina 001.cbz")
    app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": volume_library.id})
    item = get(client, clu_headers, "/api/v1/library/series", mode="filesystem",
               publisher="Archie Comics")["items"][2]
    assert item["name"] == "Sabrina the Teenage Witch" and "volumes" not in item
    assert item["count"] == 3


def test_filesystem_issues_of_volumes(client, clu_headers, volume_library):
    sabrina = f"{volume_library.path}/Archie Comics/Sabrina the Teenage Witch"
    query = {"mode": "filesystem", "publisher": "Archie Comics",
             "series": "Sabrina the Teenage Witch"}
    # a multi-volume series has no comics of its own: pick a volume
    assert get(client, clu_headers, "/api/v1/library/issues", **query)["total"] == 0
    body = get(client, clu_headers, "/api/v1/library/issues", volume="v1971", **query)
    assert names(body) == ["Sabrina 001.cbr", "Sabrina 002.cbr"]
    assert [i["path"] for i in body["items"]] == [f"{sabrina}/v1971/Sabrina 001.cbr",
                                                  f"{sabrina}/v1971/Sabrina 002.cbr"]
    assert body["items"][0]["id"] == book_at(f"{sabrina}/v1971/Sabrina 001.cbr").id
    page = get(client, clu_headers, "/api/v1/library/issues", volume="v1971", page=2,
               page_size=1, **query)
    assert names(page) == ["Sabrina 002.cbr"] and page["total_pages"] == 2
    assert get(client, clu_headers, "/api/v1/library/issues", volume="v9999", **query)["total"] == 0
    # absolute paths for series (and publisher) work too
    absolute = get(client, clu_headers, "/api/v1/library/issues", mode="filesystem",
                   publisher=f"{volume_library.path}/Archie Comics", series=f"{sabrina}/v1997")
    assert names(absolute) == ["Sabrina 001.cbz"]


def test_filesystem_issues_list_indexed_files_that_are_on_disk(client, clu_headers,
                                                               scanned_library):
    folder = f"{scanned_library.path}/Youthful/Captain Science"
    query = {"mode": "filesystem", "publisher": "Youthful", "series": "Captain Science"}
    os.remove(f"{folder}/Captain Science #001 (rar).cbr")
    with open(f"{folder}/Not Scanned Yet.cbz", "wb") as handle:
        handle.write(b"PK")
    assert names(get(client, clu_headers, "/api/v1/library/issues", **query)) == [
        "Captain Science #001.cbz"]


@pytest.mark.parametrize("query", [
    {"publisher": "../Komga"}, {"publisher": "Youthful/../../.."}, {"publisher": "/etc"},
    {"publisher": "/etc/passwd"}, {"publisher": "..\\secret"},
    {"publisher": "Youthful", "series": "../Komga", "issues": True},
    {"publisher": "Youthful", "series": "Captain Science", "volume": "../../Komga", "issues": True},
    {"publisher": "Youthful", "series": "/etc", "issues": True},
    {"publisher": "nul\x00byte"},
])
def test_filesystem_paths_outside_the_libraries_are_400_invalid_path(client, clu_headers,
                                                                     scanned_library, query):
    query = dict(query, mode="filesystem")
    url = "/api/v1/library/issues" if query.pop("issues", False) else "/api/v1/library/series"
    response = client.get(url, headers=clu_headers, query_string=query)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_path"


def test_a_symlink_out_of_a_library_is_neither_listed_nor_followed(client, clu_headers,
                                                                   scanned_library, tmp_path):
    outside = tmp_path / "outside" / "Secret Series"
    outside.mkdir(parents=True)
    os.symlink(outside.parent, f"{scanned_library.path}/Escape")
    assert "Escape" not in names(get(client, clu_headers, "/api/v1/library/publishers",
                                     mode="filesystem"))
    body = get(client, clu_headers, "/api/v1/library/series", mode="filesystem",
               publisher="Escape")
    assert body["total"] == 0 and body["items"] == []


def test_filesystem_mode_requires_its_parameters(client, clu_headers):
    both = "Missing 'publisher' or 'series' parameter"
    cases = [("/api/v1/library/series", {}, "Missing 'publisher' parameter"),
             ("/api/v1/library/issues", {"series": "x"}, both),
             ("/api/v1/library/issues", {"publisher": "x"}, both),
             ("/api/v1/library/issues", {"mode": "metadata"}, "Missing 'series' parameter")]
    for url, query, error in cases:
        response = client.get(url, headers=clu_headers,
                              query_string={"mode": "filesystem", **query})
        assert response.status_code == 400
        assert response.json["error"] == error and response.json["message"] == error


def test_a_scoped_user_browses_only_their_libraries(client, scanned_library, marvel_library):
    user = UserFactory(library_ids=[marvel_library.id])
    headers = {"Authorization": f"Bearer {create_client_token(user)[1]}"}
    for mode in ("filesystem", "metadata"):
        assert names(get(client, headers, "/api/v1/library/publishers", mode=mode)) == ["Marvel"]
    assert get(client, headers, "/api/v1/library/series", mode="filesystem",
               publisher="Youthful")["total"] == 0
    response = client.get("/api/v1/library/series", headers=headers, query_string={
        "mode": "filesystem", "publisher": f"{scanned_library.path}/Youthful"})
    assert response.status_code == 400 and response.json["error"] == "invalid_path"
    assert get(client, headers, "/api/v1/library/issues", series="Captain Science")["total"] == 0
    assert get(client, headers, "/api/v1/library/recent")["total"] == 0


def test_disabled_libraries_are_not_browsed(client, clu_headers, scanned_library, marvel_library):
    db.session.get(Library, scanned_library.id).enabled = False
    db.session.commit()
    for mode in ("filesystem", "metadata"):
        body = get(client, clu_headers, "/api/v1/library/publishers", mode=mode)
        assert names(body) == ["Marvel"]


# --- metadata mode --------------------------------------------------------------------


def test_metadata_publishers_group_books_by_publisher(client, clu_headers, scanned_library,
                                                      volume_library):
    body = get(client, clu_headers, "/api/v1/library/publishers", mode="metadata", sort="count")
    assert [(i["name"], i["count"]) for i in body["items"]] == [
        ("Komga", 5), ("Archie Comics", 4), ("Youthful Adventure Stories", 3)]
    assert body["items"][1] == {
        "value": "Archie Comics", "name": "Archie Comics", "count": 4,
        "cover_path": f"{volume_library.path}/Archie Comics/Jughead/Jughead 001.cbr"}
    # a book gone missing is not counted
    book_at(f"{volume_library.path}/Archie Comics/Jughead/Jughead 001.cbr").state = "missing"
    db.session.commit()
    alpha = get(client, clu_headers, "/api/v1/library/publishers", mode="metadata",
                page_size=1, page=1)
    assert alpha["items"] == [{"value": "Archie Comics", "name": "Archie Comics", "count": 3,
                               "cover_path": f"{volume_library.path}/Archie Comics/Sabrina the "
                                             "Teenage Witch/v1971/Sabrina 001.cbr"}]
    assert (alpha["total"], alpha["total_pages"], alpha["has_more"]) == (3, 3, True)


def test_metadata_series_filters_and_sorts(client, clu_headers, scanned_library, volume_library):
    url = "/api/v1/library/series"
    assert names(get(client, clu_headers, url)) == [
        "Captain Science", "empty", "encrypted", "Jughead", "komga", "rar4", "rar5-solid",
        "Sabrina"]
    assert names(get(client, clu_headers, url, publisher="Archie Comics")) == ["Jughead", "Sabrina"]
    assert names(get(client, clu_headers, url, q="RAR")) == ["rar4", "rar5-solid"]
    assert names(get(client, clu_headers, url, search="sab")) == ["Sabrina"]
    assert names(get(client, clu_headers, url, q="100%")) == []  # not a LIKE pattern
    by_count = get(client, clu_headers, url, sort="count", page_size=2)
    assert [(i["name"], i["count"]) for i in by_count["items"]] == [
        ("Captain Science", 3), ("Sabrina", 3)]
    assert names(get(client, clu_headers, url, sort="year", page_size=1)) == ["Captain Science"]
    jughead = book_at(f"{volume_library.path}/Archie Comics/Jughead/Jughead 001.cbr")
    jughead.created_at = utcnow() + timedelta(minutes=1)
    db.session.commit()
    assert names(get(client, clu_headers, url, sort="recent"))[0] == "Jughead"
    sabrina = get(client, clu_headers, url, q="Sabrina")["items"][0]
    assert sabrina == {"value": "Sabrina", "name": "Sabrina", "publisher": "Archie Comics",
                       "count": 3, "year": None,
                       "cover_path": f"{volume_library.path}/Archie Comics/Sabrina the "
                                     "Teenage Witch/v1971/Sabrina 001.cbr"}


def test_metadata_issues_of_a_series_with_progress(client, clu_user, clu_headers,
                                                   volume_library):
    base = f"{volume_library.path}/Archie Comics/Sabrina the Teenage Witch"
    reading.save_progress(clu_user.id, book_at(f"{base}/v1971/Sabrina 002.cbr"),
                          reading.ProgressUpdate(page=2))
    body = get(client, clu_headers, "/api/v1/library/issues", series="Sabrina")
    assert [(i["path"], i["has_progress"], i["last_page"]) for i in body["items"]] == [
        (f"{base}/v1971/Sabrina 001.cbr", False, None),
        (f"{base}/v1997/Sabrina 001.cbz", False, None),
        (f"{base}/v1971/Sabrina 002.cbr", True, 2)]
    assert body["items"][0]["number"] == "001" and body["items"][0]["publisher"] == "Archie Comics"
    assert get(client, clu_headers, "/api/v1/library/issues", series="Sabrina",
               publisher="Marvel")["total"] == 0


# --- favourites -----------------------------------------------------------------------


def test_favorites_add_list_remove(client, clu_user, clu_headers, scanned_library):
    url = "/api/v1/library/favorites"
    by_name = client.post(url, json={"value": "Komga"}, headers=clu_headers)
    assert by_name.status_code == 201
    assert by_name.json["path"] == f"{scanned_library.path}/Komga"
    assert by_name.json["type"] == "publisher" and by_name.json["value"] == "Komga"
    metadata_only = client.post(url, json={"value": "Youthful Adventure Stories",
                                           "type": "publisher"}, headers=clu_headers)
    assert metadata_only.status_code == 201 and metadata_only.json["path"] is None
    again = client.post(url, json={"value": "Komga"}, headers=clu_headers)
    assert again.status_code == 201 and again.json == by_name.json
    client.post(url, json={"value": "Captain Science", "type": "series"}, headers=clu_headers)

    body = get(client, clu_headers, url, page_size=1)
    assert body["total"] == 2 and body["scope"] == "favorites" and body["has_more"] is True
    assert db.session.execute(db.select(db.func.count(Favorite.id))).scalar() == 3

    assert client.delete(url, json={"value": "Komga"}, headers=clu_headers).status_code == 204
    assert client.delete(url, json={"path": f"{scanned_library.path}/Komga"},
                         headers=clu_headers).status_code == 204
    assert names(get(client, clu_headers, url)) == ["Youthful Adventure Stories"]
    other = {"Authorization": f"Bearer {create_client_token(UserFactory())[1]}"}
    assert get(client, other, url)["total"] == 0


@pytest.mark.parametrize("body, status, error", [
    ({"path": "/etc"}, 400, "invalid_path"),
    ({"path": "/etc/passwd", "type": "folder"}, 400, "invalid_path"),
    ({"path": "Youthful/../.."}, 400, "invalid_path"),
    ({}, 400, "Missing 'path' or 'value'"),
    ({"value": "Komga", "type": "planet"}, 400, "validation_error"),
    ({"path": "/etc/passwd", "type": "book"}, 404, "not_found"),
])
def test_favorites_refuse_paths_outside_the_libraries(client, clu_headers, scanned_library,
                                                      body, status, error):
    response = client.post("/api/v1/library/favorites", json=body, headers=clu_headers)
    assert response.status_code == status and response.json["error"] == error


# --- want to read ---------------------------------------------------------------------


def test_to_read_add_is_idempotent_and_remove_works(client, clu_headers, scanned_library):
    url = "/api/v1/library/to-read"
    path = f"{scanned_library.path}/Komga/Tests/rar4.cbr"
    first = client.post(url, json={"path": path}, headers=clu_headers)
    assert first.status_code == 201
    assert first.json["type"] == "file" and first.json["id"] == book_at(path).id
    assert first.json["name"] == "rar4" and first.json["has_progress"] is False
    assert client.post(url, json={"path": path}, headers=clu_headers).json == first.json
    assert db.session.execute(db.select(db.func.count(ToReadEntry.id))).scalar() == 1
    folder = client.post(url, json={"path": f"{scanned_library.path}/Komga/"},
                         headers=clu_headers)
    assert folder.status_code == 201 and folder.json["path"] == f"{scanned_library.path}/Komga"
    assert get(client, clu_headers, url)["total"] == 2
    assert client.delete(url, json={"path": path}, headers=clu_headers).status_code == 204
    assert client.delete(url, json={"path": path}, headers=clu_headers).status_code == 204
    assert names(get(client, clu_headers, url)) == ["Komga"]


@pytest.mark.parametrize("path, status, error", [
    ("/etc/passwd", 400, "invalid_path"), ("/etc", 400, "invalid_path"),
    ("Komga/Tests", 400, "invalid_path"), ("{root}/Komga/../..", 400, "invalid_path"),
    ("{root}/Komga/Nope", 404, "not_found"), ("{root}/Komga/Tests/notes.txt", 404, "not_found"),
    ("", 400, "Missing 'path'"), (None, 400, "Missing 'path'"),
])
def test_to_read_refuses_what_is_not_a_book_or_library_folder(client, clu_headers,
                                                              scanned_library, path, status, error):
    with open(f"{scanned_library.path}/Komga/Tests/notes.txt", "w") as handle:
        handle.write("not a comic")
    body = {} if path is None else {"path": path.format(root=scanned_library.path)}
    response = client.post("/api/v1/library/to-read", json=body, headers=clu_headers)
    assert response.status_code == status and response.json["error"] == error


def test_to_read_file_of_a_library_out_of_scope_shows_no_id(client, clu_user, clu_headers,
                                                            scanned_library, marvel_library):
    path = f"{marvel_library.path}/Marvel/X-Men/X-Men 001.cb7"
    client.post("/api/v1/library/to-read", json={"path": path}, headers=clu_headers)
    clu_user.library_ids = [scanned_library.id]
    db.session.commit()
    [item] = get(client, clu_headers, "/api/v1/library/to-read")["items"]
    assert item["path"] == path and item["id"] is None and item["has_progress"] is False


# --- recently added ---------------------------------------------------------------------


def test_recent_has_cbz_and_cbr_of_the_last_30_days_newest_first(client, clu_user, clu_headers,
                                                                   scanned_library):
    base = f"{scanned_library.path}/Komga/Tests"
    old, older = book_at(f"{base}/rar4.cbr"), book_at(f"{base}/rar5-solid.cbr")
    old.created_at = utcnow() - timedelta(days=29)
    older.created_at = utcnow() - timedelta(days=31)
    db.session.commit()
    reading.save_progress(clu_user.id, old, reading.ProgressUpdate(page=2))
    body = get(client, clu_headers, "/api/v1/library/recent")
    assert body["total"] == 5 and "rar5-solid.cbr" not in names(body)
    assert body["items"][-1]["name"] == "rar4.cbr"
    assert (body["items"][-1]["has_progress"], body["items"][-1]["last_page"]) == (True, 2)
    set_setting("library.recent_days", 7, None)
    assert "rar4.cbr" not in names(get(client, clu_headers, "/api/v1/library/recent"))
