"""``/api/v1/filesystem``: folder browsing for admins, fenced to the roots."""
import os

import pytest

from comicsrv.api.v1.filesystem import browse_roots
from comicsrv.settings_store import set_setting
from tests.factories import LibraryFactory

BROWSE, DRIVES = "/api/v1/filesystem/browse", "/api/v1/filesystem/drives"


@pytest.fixture
def tree(app, tmp_path):
    """``root`` (the only allowed root) and ``outside`` beside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    for folder in ("Marvel", "dc", "Image/Saga", ".hidden"):
        (root / folder).mkdir(parents=True)
    (outside / "secret").mkdir(parents=True)
    (root / "Batman 001.cbz").write_bytes(b"PK")
    (root / "notes.txt").write_text("not a comic")
    (root / "Saga 001.CBR").write_bytes(b"Rar!")
    (root / "inside-link").symlink_to(root / "Image")
    (root / "escape-link").symlink_to(outside)
    set_setting("filesystem.allowed_roots", [str(root)], None)
    return {"root": str(root.resolve()), "outside": str(outside.resolve())}


def names(body):
    return [(e["name"], e["type"]) for e in body["items"]]


def test_lists_folders_by_name_and_no_files_by_default(client, admin_headers, tree):
    response = client.get(BROWSE, query_string={"path": tree["root"]}, headers=admin_headers)
    assert response.status_code == 200
    body = response.json
    assert names(body) == [("dc", "directory"), ("Image", "directory"),
                           ("inside-link", "directory"), ("Marvel", "directory")]
    assert body["path"] == tree["root"] and body["parent"] is None
    assert body["items"][0] == {"name": "dc", "path": os.path.join(tree["root"], "dc"),
                                "type": "directory", "size": None}
    assert (body["total"], body["page"], body["page_size"]) == (4, 1, 50)


def test_comic_files_and_hidden_folders_on_request(client, admin_headers, tree):
    body = client.get(BROWSE, headers=admin_headers, query_string={
        "path": tree["root"], "include_files": "true", "include_hidden": "true"}).json
    assert names(body) == [(".hidden", "directory"), ("dc", "directory"),
                           ("Image", "directory"), ("inside-link", "directory"),
                           ("Marvel", "directory"), ("Batman 001.cbz", "file"),
                           ("Saga 001.CBR", "file")]
    assert body["items"][-1]["size"] == 4


def test_subfolder_has_a_parent_and_pages(client, admin_headers, tree):
    sub = os.path.join(tree["root"], "Image")
    body = client.get(BROWSE, query_string={"path": sub}, headers=admin_headers).json
    assert names(body) == [("Saga", "directory")] and body["parent"] == tree["root"]
    body = client.get(BROWSE, headers=admin_headers,
                      query_string={"path": tree["root"], "page": 2, "page_size": 3}).json
    assert names(body) == [("Marvel", "directory")]
    assert body["total_pages"] == 2 and body["has_more"] is False


def test_a_symlink_inside_the_roots_is_followed(client, admin_headers, tree):
    link = os.path.join(tree["root"], "inside-link")
    body = client.get(BROWSE, query_string={"path": link}, headers=admin_headers).json
    assert body["path"] == os.path.join(tree["root"], "Image")
    assert names(body) == [("Saga", "directory")]


@pytest.mark.parametrize("path", [
    "{outside}", "{outside}/secret", "{root}/..", "{root}/../outside",
    "{root}/escape-link", "{root}/escape-link/secret", "{outside}/does-not-exist", "/etc",
])
def test_paths_outside_the_roots_are_403_existing_or_not(client, admin_headers, tree, path):
    response = client.get(BROWSE, query_string={"path": path.format(**tree)},
                          headers=admin_headers)
    assert response.status_code == 403
    assert response.json["error"] == "path_not_allowed"
    assert "outside the folders that may be browsed" in response.json["message"]


def test_missing_file_relative_and_nul_paths(client, admin_headers, tree):
    def get(path):
        return client.get(BROWSE, query_string={"path": path}, headers=admin_headers)

    response = get(os.path.join(tree["root"], "nope"))
    assert response.status_code == 404 and response.json["message"].endswith("does not exist")
    response = get(os.path.join(tree["root"], "notes.txt"))
    assert response.status_code == 400 and response.json["message"].endswith("is not a folder")
    response = get("root/Marvel")
    assert response.status_code == 400
    assert response.json["message"] == "'root/Marvel' is not an absolute path"
    assert get(tree["root"] + "/\x00").status_code == 400


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder_is_403(client, admin_headers, tree):
    locked = os.path.join(tree["root"], "Marvel")
    os.chmod(locked, 0)
    try:
        response = client.get(BROWSE, query_string={"path": locked}, headers=admin_headers)
    finally:
        os.chmod(locked, 0o755)
    assert response.status_code == 403
    assert response.json["message"].endswith("is not readable by the server")


def test_without_a_path_and_drives_list_the_roots(client, admin_headers, tree):
    root_entry = {"name": tree["root"], "path": tree["root"], "type": "directory", "size": None}
    body = client.get(BROWSE, headers=admin_headers).json
    assert body["items"] == [root_entry] and body["path"] is None and body["parent"] is None
    assert client.get(DRIVES, headers=admin_headers).json["items"] == [root_entry]


def test_automatic_roots_without_the_setting(app, tmp_path):
    """Nothing set: the existing libraries' folders (and the Docker image's
    /comics and /downloads where they exist), never the server user's home,
    the data directory's parent or a library's parent."""
    LibraryFactory(path="/nonexistent-comicsrv/comics")
    LibraryFactory(path=str(tmp_path / "libraries" / "manga"))
    docker = {os.path.realpath(r) for r in ("/comics", "/downloads") if os.path.isdir(r)}
    expected = {"/nonexistent-comicsrv/comics", os.path.realpath(tmp_path / "libraries" / "manga"),
                *docker}
    assert browse_roots() == sorted(expected)
    home = os.path.realpath(os.path.expanduser("~"))
    assert home not in browse_roots() and os.path.realpath(tmp_path) not in browse_roots()


def test_missing_roots_are_not_offered_as_drives(client, admin_headers, tree, tmp_path):
    set_setting("filesystem.allowed_roots", [tree["root"], str(tmp_path / "gone")], None)
    assert [e["path"] for e in client.get(DRIVES, headers=admin_headers).json["items"]] == [
        tree["root"]]


def test_admin_only(client, reader_headers, tree):
    for url in (BROWSE, DRIVES):
        response = client.get(url, query_string={"path": tree["root"]}, headers=reader_headers)
        assert response.status_code == 403 and response.json["error"] == "forbidden"
        assert client.get(url).status_code == 401
