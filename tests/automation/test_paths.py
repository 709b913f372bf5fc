"""Remote path mappings from the rows the admin configured."""
from __future__ import annotations

import pytest

from comicsrv.automation.paths import is_windows_path, map_remote_path
from comicsrv.extensions import db
from comicsrv.models.automation import RemotePathMapping
from tests.factories import DownloadClientConfigFactory


def mapping(client, remote: str, local: str) -> None:
    db.session.add(RemotePathMapping(download_client_id=client.id if client else None,
                                     remote_path=remote, local_path=local))
    db.session.commit()


@pytest.fixture
def client_row(app):
    return DownloadClientConfigFactory(kind="qbittorrent")


def test_longest_remote_prefix_wins(client_row):
    mapping(client_row, "/downloads", "/mnt/dl")
    mapping(client_row, "/downloads/comics/", "/srv/comics-in")
    assert map_remote_path("/downloads/comics/Saga 001.cbz", client_row.id) == \
        "/srv/comics-in/Saga 001.cbz"
    assert map_remote_path("/downloads/tv/x", client_row.id) == "/mnt/dl/tv/x"
    assert map_remote_path("/downloads", client_row.id) == "/mnt/dl"


def test_prefix_matches_whole_folders_only(client_row):
    mapping(client_row, "/downloads", "/mnt/dl")
    assert map_remote_path("/downloads2/x", client_row.id) == "/downloads2/x"


def test_unmapped_paths_are_unchanged(client_row):
    assert map_remote_path("/data/x.cbz", client_row.id) == "/data/x.cbz"
    assert map_remote_path("", client_row.id) == ""


def test_windows_client_paths(client_row):
    mapping(client_row, "D:\\Downloads\\comics", "/mnt/windows/comics")
    # Either separator and any case, as Windows clients report them.
    assert map_remote_path("D:\\Downloads\\comics\\Saga\\Saga 001.cbz", client_row.id) == \
        "/mnt/windows/comics/Saga/Saga 001.cbz"
    assert map_remote_path("d:/downloads/Comics/Saga 001.cbz", client_row.id) == \
        "/mnt/windows/comics/Saga 001.cbz"
    assert map_remote_path("E:\\Downloads\\comics\\x", client_row.id) == "E:\\Downloads\\comics\\x"


def test_unc_paths(client_row):
    mapping(client_row, "\\\\nas\\share\\dl", "/mnt/nas")
    assert map_remote_path("\\\\nas\\share\\dl\\a\\b.cbz", client_row.id) == "/mnt/nas/a/b.cbz"
    assert map_remote_path("\\\\other\\share\\dl\\b.cbz", client_row.id) == "\\\\other\\share\\dl\\b.cbz"


def test_posix_paths_are_case_sensitive(client_row):
    mapping(client_row, "/Downloads", "/mnt/dl")
    assert map_remote_path("/downloads/x", client_row.id) == "/downloads/x"


def test_mappings_of_other_clients_do_not_apply_and_own_ones_win(client_row):
    other = DownloadClientConfigFactory(kind="sabnzbd")
    mapping(other, "/downloads", "/mnt/other")
    assert map_remote_path("/downloads/x", client_row.id) == "/downloads/x"
    mapping(None, "/downloads", "/mnt/global")
    assert map_remote_path("/downloads/x", client_row.id) == "/mnt/global/x"
    mapping(client_row, "/downloads", "/mnt/mine")
    assert map_remote_path("/downloads/x", client_row.id) == "/mnt/mine/x"


@pytest.mark.parametrize("path, windows", [
    ("C:\\x", True), ("c:/x", True), ("\\\\nas\\s", True), ("dir\\file", True),
    ("/data/x", False), ("relative/x", False), ("/odd\\name/x", False),
])
def test_path_flavour(path, windows):
    assert is_windows_path(path) is windows
