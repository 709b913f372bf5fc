"""Move, copy and hard link into the library: verified, never overwriting,
never losing the source, safe to repeat."""
import os
import stat
import tempfile
from pathlib import Path

import pytest

from comicsrv.automation import transfer as transfer_module
from comicsrv.automation.transfer import (
    BadTransferMode, TransferError, file_digest, mode_for, parse_mode, temp_path, transfer,
)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def source(tmp_path):
    return _write(tmp_path / "downloads" / "Saga 001.cbz", os.urandom(3 * 1024 * 1024 + 17))


def _other_device_dir():
    """A folder on another file system than the test's temp folder, if there is one."""
    for candidate in ("/dev/shm", tempfile.gettempdir()):
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK):
            yield candidate


@pytest.fixture
def other_device(tmp_path):
    for folder in _other_device_dir():
        if os.stat(folder).st_dev != os.stat(tmp_path).st_dev:
            path = Path(tempfile.mkdtemp(dir=folder, prefix="comicsrv-test-"))
            yield path
            import shutil

            shutil.rmtree(path, ignore_errors=True)
            return
    pytest.skip("no second file system on this machine")


def test_copy_keeps_the_source_and_verifies(tmp_path, source):
    digest = file_digest(source)
    dest = tmp_path / "library" / "Saga (2012)" / "Saga 001 (2012).cbz"
    result = transfer(source, dest, "copy", file_mode=0o640, folder_mode=0o750)
    assert result.method == "copy" and result.sha256 == digest and not result.source_removed
    assert source.exists() and file_digest(dest) == digest
    assert not os.path.samefile(source, dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert stat.S_IMODE(dest.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "library").stat().st_mode) == 0o750
    assert not temp_path(dest).exists()


def test_move_on_one_file_system_links_then_removes_the_source(tmp_path, source):
    digest = file_digest(source)
    dest = tmp_path / "library" / "Saga 001.cbz"
    result = transfer(source, dest, "move", file_mode=0o600)
    assert result.method == "link" and result.source_removed
    assert not source.exists() and file_digest(dest) == digest
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_hardlink_shares_the_file_and_leaves_its_permissions(tmp_path, source):
    source.chmod(0o604)
    dest = tmp_path / "library" / "Saga 001.cbz"
    result = transfer(source, dest, "hardlink", file_mode=0o600)
    assert result.method == "link" and not result.source_removed
    assert os.path.samefile(source, dest)
    # Changing the mode of a link would change the seeding client's file too.
    assert stat.S_IMODE(source.stat().st_mode) == 0o604


def test_hardlink_across_file_systems_falls_back_to_a_verified_copy(other_device, source):
    digest = file_digest(source)
    dest = other_device / "library" / "Saga 001.cbz"
    result = transfer(source, dest, "hardlink")
    assert result.method == "copy" and result.sha256 == digest
    assert source.exists() and file_digest(dest) == digest


def test_move_across_file_systems_copies_verifies_then_deletes(other_device, source):
    digest = file_digest(source)
    dest = other_device / "Saga 001.cbz"
    result = transfer(source, dest, "move")
    assert result.method == "copy" and result.source_removed
    assert not source.exists() and file_digest(dest) == digest


def test_a_different_file_at_the_destination_is_never_overwritten(tmp_path, source):
    dest = _write(tmp_path / "library" / "Saga 001.cbz", b"somebody else's comic")
    (tmp_path / "library" / "Saga 001 (2).cbz").write_bytes(b"and another")
    result = transfer(source, dest, "copy")
    assert result.path == str(tmp_path / "library" / "Saga 001 (3).cbz")
    assert dest.read_bytes() == b"somebody else's comic"
    assert (tmp_path / "library" / "Saga 001 (2).cbz").read_bytes() == b"and another"


def test_the_same_file_already_there_is_taken_as_done(tmp_path, source):
    dest = tmp_path / "library" / "Saga 001.cbz"
    first = transfer(source, dest, "copy")
    again = transfer(source, dest, "move")
    assert again.method == "existing" and again.path == first.path
    assert again.source_removed and not source.exists()
    assert not (tmp_path / "library" / "Saga 001 (2).cbz").exists()


def test_a_rerun_after_the_source_was_moved_recognises_its_work(tmp_path, source):
    digest, size = file_digest(source), source.stat().st_size
    dest = tmp_path / "library" / "Saga 001.cbz"
    transfer(source, dest, "move")
    again = transfer(source, dest, "move", expected_sha256=digest, expected_size=size)
    assert again.method == "existing" and again.path == str(dest)


def test_a_missing_source_without_a_copy_is_an_error(tmp_path):
    with pytest.raises(TransferError, match="is gone"):
        transfer(tmp_path / "nope.cbz", tmp_path / "library" / "x.cbz", "move",
                 expected_sha256="0" * 64, expected_size=3)


def test_a_half_written_temporary_file_is_replaced(tmp_path, source):
    dest = tmp_path / "library" / "Saga 001.cbz"
    _write(temp_path(dest), b"partial from a crashed run")
    result = transfer(source, dest, "copy")
    assert file_digest(result.path) == file_digest(source)
    assert not temp_path(dest).exists()


def test_a_copy_that_does_not_read_back_identical_is_refused(tmp_path, source, monkeypatch):
    # A disk that returns other bytes than were written cannot be made here:
    # the read-back digest of the temporary copy is made to differ instead.
    real_digest = transfer_module.file_digest
    monkeypatch.setattr(transfer_module, "file_digest",
                        lambda path: "bad" if str(path).endswith(".comicsrv-part")
                        else real_digest(path))
    dest = tmp_path / "library" / "Saga 001.cbz"
    with pytest.raises(TransferError, match="does not match"):
        transfer(source, dest, "copy")
    assert source.exists() and not dest.exists() and not temp_path(dest).exists()


def test_bad_mode_and_permissions_are_clear_errors(tmp_path, source):
    with pytest.raises(BadTransferMode, match="unknown transfer mode"):
        transfer(source, tmp_path / "x.cbz", "teleport")
    with pytest.raises(BadTransferMode, match="octal"):
        parse_mode("rwx", 0o644)
    assert parse_mode("0755", 0) == 0o755 and parse_mode("640", 0) == 0o640


@pytest.mark.parametrize("torrent, usenet_mode, torrent_mode, expected", [
    (True, "move", "hardlink_or_copy", "hardlink"),  # the defaults: a torrent seeds on
    (False, "move", "hardlink_or_copy", "move"),
    (True, "move", "copy", "copy"),
    (True, "copy", "move", "move"),  # the admin's explicit choice for torrents
    (False, "hardlink", "move", "hardlink"),
])
def test_the_mode_of_a_download_depends_on_its_protocol(torrent, usenet_mode, torrent_mode,
                                                        expected):
    assert mode_for(torrent, usenet_mode, torrent_mode) == expected


def test_hardlink_or_copy_is_a_hard_link_that_copies_when_it_must(tmp_path, source):
    result = transfer(source, tmp_path / "library" / "Saga 001.cbz", "hardlink_or_copy")
    assert result.method == "link" and not result.source_removed
    with pytest.raises(BadTransferMode):
        mode_for(True, "move", "teleport")
