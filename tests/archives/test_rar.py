"""CBR specifics: RAR4/RAR5, solid and stored, comments, volumes, encryption, links and the tools.

Compressed entries need ``unar`` (RAR4) and ``bsdtar`` (RAR5); CI installs both,
so these tests fail rather than skip when a tool is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import zlib
from pathlib import Path

import pytest

from comicsrv.archives import (
    CorruptArchiveError,
    EncryptedArchiveError,
    MissingVolumeError,
    ToolMissingError,
    UnsafeArchiveError,
    open_archive,
    rartools,
    tools,
)

from .conftest import JPEG_MAGIC, PNG_MAGIC, fixture

KOMGA_PAGES = ["komga-1.png", "komga-2.png", "komga-3.png"]


def test_the_rar_tools_are_installed():
    assert shutil.which(rartools.UNAR), "install the Debian package unar"
    assert shutil.which(rartools.BSDTAR), "install the Debian package libarchive-tools"


@pytest.mark.parametrize(
    ("name", "sub_format", "solid"),
    [
        ("rar4.rar", "rar4", False),
        ("rar4-solid.rar", "rar4", True),
        ("rar5-solid.rar", "rar5", True),
    ],
)
def test_komga_rars_read_every_page(name, sub_format, solid, cache_dir):
    with open_archive(fixture("komga", name), cache_dir=cache_dir) as archive:
        facts = archive.facts
        assert (facts.format, facts.sub_format, facts.solid, facts.entry_count) == (
            "cbr",
            sub_format,
            solid,
            3,
        )
        assert [page.name for page in archive.pages()] == KOMGA_PAGES
        pages = [archive.read_page(index) for index in range(3)]
        assert all(page.startswith(PNG_MAGIC) for page in pages)
        assert [len(page) for page in pages] == [page.size for page in archive.pages()]


def test_stored_rar5_needs_no_tool(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with open_archive(fixture("komga", "rar5.rar")) as archive:
        assert archive.facts.sub_format == "rar5"
        assert archive.read_page(0).startswith(PNG_MAGIC)


def test_solid_rar_is_extracted_once_into_the_cache_dir_and_cleaned_up(cache_dir):
    archive = open_archive(fixture("komga", "rar4-solid.rar"), cache_dir=cache_dir)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())
    archive.read_page(2)
    (private,) = cache_dir.iterdir()
    assert sorted(p.name for p in private.iterdir()) == KOMGA_PAGES
    archive.read_page(0)
    assert list(cache_dir.iterdir()) == [private]
    archive.close()
    assert list(cache_dir.iterdir()) == []


def test_extractions_abandoned_by_dead_processes_are_removed(cache_dir):
    """A server killed mid-read (the OOM killer) leaves an unpacked comic in
    the cache dir; the next extraction on the host removes it, and only it."""
    dead = subprocess.Popen(["true"])  # a pid that has just ended
    dead.wait()
    host = socket.gethostname()
    cache_dir.mkdir()
    abandoned = cache_dir / f"cbr-{host}-{dead.pid}-abcd1234"
    (abandoned / "sub").mkdir(parents=True)
    (abandoned / "sub" / "page.jpg").write_bytes(b"x" * 100)
    kept = [cache_dir / f"cbr-{host}-{os.getppid()}-live0000",  # a process that runs
            cache_dir / f"cbr-another-host-{dead.pid}-abcd1234",  # not this host's to judge
            cache_dir / "unrelated"]
    for directory in kept:
        directory.mkdir()
    with open_archive(fixture("komga", "rar4-solid.rar"), cache_dir=cache_dir) as archive:
        archive.read_page(0)
        (own,) = set(cache_dir.iterdir()) - set(kept)
        assert own.name.startswith(f"cbr-{host}-{os.getpid()}-")
    assert sorted(cache_dir.iterdir()) == sorted(kept)


def test_missing_tools_are_reported_by_name_and_package(monkeypatch, cache_dir):
    monkeypatch.setenv("PATH", "")
    with open_archive(fixture("rarfile", "rar3-solid.rar"), cache_dir=cache_dir) as archive:
        assert archive.names() == ["stest1.txt", "stest2.txt"]
        with pytest.raises(ToolMissingError) as raised:
            archive.read_entry("stest1.txt")
    assert raised.value.reason == "tool_missing"
    assert "unar" in str(raised.value)
    assert list(cache_dir.iterdir()) == []
    with pytest.raises(ToolMissingError, match="comment"):
        open_archive(fixture("rarfile", "rar3-comment-plain.rar"))  # RAR4 comments are compressed
    rar5 = fixture("comicbox", "Captain Science #001-cbi.cbr")
    with open_archive(rar5) as archive, pytest.raises(ToolMissingError, match="libarchive-tools"):
        assert len(archive.pages()) == 5  # listing RAR5 needs no tool, decompressing does
        archive.read_page(0)


def test_comicbookinfo_lives_in_the_rar5_comment():
    with open_archive(fixture("comicbox", "Captain Science #001-cbi.cbr")) as archive:
        assert archive.facts.has_comment
        cbi = json.loads(archive.comment)
        assert cbi["ComicBookInfo/1.0"]["series"] == "Captain Science"
        assert archive.find_metadata() == {}
        pages = archive.pages()
        assert len(pages) == 5
        assert all(page.data_offset is None for page in pages)
        assert archive.read_page(4).startswith(JPEG_MAGIC)


def test_rar4_comment_is_decompressed_with_unar():
    with open_archive(fixture("rarfile", "rar3-comment-plain.rar")) as archive:
        assert archive.comment == b"RARcomment\n"
        assert archive.facts.sub_format == "rar4"


def test_rar4_solid_with_unicode_names(cache_dir):
    with open_archive(fixture("rarfile", "unicode.rar"), cache_dir=cache_dir) as archive:
        assert archive.facts.solid
        assert archive.names() == ["уииоотивл.txt", "𝐀𝐁𝐁𝐂.txt"]
        for name in archive.names():
            assert archive.read_entry(name)


@pytest.mark.parametrize(
    ("origin", "name"),
    [
        ("komga", "rar4-encrypted.rar"),
        ("komga", "rar5-encrypted.rar"),
        ("rarfile", "rar5-hpsw.rar"),
        ("rarfile", "rar5-psw.rar"),
    ],
)
def test_encrypted_rars_are_refused(origin, name):
    with pytest.raises(EncryptedArchiveError) as raised:
        open_archive(fixture(origin, name))
    assert raised.value.reason == "encrypted"


def test_symlink_traversal_rar_is_refused(tmp_path, cache_dir):
    with pytest.raises(UnsafeArchiveError, match="link"):
        open_archive(fixture("rarfile", "rar5-evil-symlink-traversal.rar"), cache_dir=cache_dir)
    assert not (tmp_path / "pwned.txt").exists()
    assert not cache_dir.exists()


def test_rar5_file_copies_read_as_their_target():
    """libarchive streams these records without end; comicsrv reads the target itself."""
    with open_archive(fixture("rarfile", "rar5-dups.rar")) as archive:
        names = archive.names()
        assert len(names) == 9
        original = archive.read_entry("stest1.txt")
        assert len(original) == 2048
        assert all(archive.read_entry(name) == original for name in names)


@pytest.mark.parametrize("volumes", ["rar3-vols", "rar5-vols"])
def test_later_volume_parts_are_refused(volumes):
    for part in (2, 3):
        with pytest.raises(MissingVolumeError) as raised:
            open_archive(fixture("rarfile", f"{volumes}.part{part}.rar"))
        assert raised.value.reason == "missing_volume"
        assert "first part" in str(raised.value)


@pytest.mark.parametrize("volumes", ["rar3-vols", "rar5-vols"])
def test_complete_volume_set_reads_across_parts(volumes):
    with open_archive(fixture("rarfile", f"{volumes}.part1.rar")) as archive:
        assert archive.facts.volumes == 3
        assert archive.names() == ["vols/bigfile.txt", "vols/smallfile.txt"]
        data = archive.read_entry("vols/bigfile.txt")
        assert len(data) == 205000
        assert zlib.crc32(data) == archive._members["vols/bigfile.txt"].ref.CRC


@pytest.mark.parametrize("volumes", ["rar3-vols", "rar5-vols"])
def test_first_part_alone_lists_but_reading_reports_the_missing_volume(volumes, tmp_path):
    alone = tmp_path / f"{volumes}.part1.rar"
    shutil.copy(fixture("rarfile", f"{volumes}.part1.rar"), alone)
    with open_archive(alone) as archive:
        assert archive.facts.volumes == 1
        assert "vols/bigfile.txt" in archive.names()
        with pytest.raises(MissingVolumeError, match="missing"):
            archive.read_entry("vols/bigfile.txt")


def test_truncated_rar_is_corrupt(tmp_path, cache_dir):
    source = fixture("komga", "rar4-solid.rar").read_bytes()
    path = tmp_path / "truncated.cbr"
    path.write_bytes(source[: len(source) - 700])
    with pytest.raises(CorruptArchiveError), open_archive(path, cache_dir=cache_dir) as archive:
        for page in archive.pages():
            archive.read_page(page.index)
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []


def test_tool_names_are_matched_literally(tmp_path):
    """Entry names are fnmatch patterns to unar and bsdtar: brackets must not match other names."""
    assert rartools._escape("page[1]*?.jpg") == "page\\[1\\]\\*\\?.jpg"
    assert rartools._escape("a\\b.jpg") == "a\\\\b.jpg"
    assert rartools.choose_tool(4, multivolume=False) == rartools.UNAR
    assert rartools.choose_tool(5, multivolume=False) == rartools.BSDTAR
    assert rartools.choose_tool(5, multivolume=True) == rartools.UNAR


def test_tool_runs_are_capped_in_output_and_time(tmp_path):
    """libarchive loops on RAR5 file-copy records (endless output, or spinning with none):
    every tool run must stop at the declared size and at the timeout."""
    archive = tmp_path / "any.cbr"
    returncode, out, _ = tools.run(["yes"], archive, stdout_limit=1000, timeout=10)
    assert len(out) == 1001 and returncode != 0
    with pytest.raises(CorruptArchiveError, match="did not finish"):
        tools.run(["sleep", "30"], archive, stdout_limit=10, timeout=0.5)


def test_duplicate_comicinfo_in_rar_resolves_to_root():
    with open_archive(fixture("kavita", "ComicInfo_duplicateInfos.rar")) as archive:
        assert sorted(archive.names()) == ["ComicInfo.xml", "Test/ComicInfo.xml"]
        assert archive.find_metadata()["ComicInfo.xml"] == archive.read_entry("ComicInfo.xml")


def test_rar_read_from_a_path_with_shell_characters(tmp_path):
    weird = tmp_path / "#1 $(touch pwned) 'quote' [x].cbr"
    shutil.copy(fixture("comicbox", "Captain Science #001-cix-cbi.cbr"), weird)
    with open_archive(weird) as archive:
        assert archive.read_page(0).startswith(JPEG_MAGIC)
    assert not Path("pwned").exists() and not (tmp_path / "pwned").exists()
