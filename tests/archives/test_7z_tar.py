"""CB7 and CBT specifics, with hostile tars and 7z archives built on the fly."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import py7zr
import pytest

from comicsrv.archives import (
    ArchiveLimits,
    CorruptArchiveError,
    EncryptedArchiveError,
    UnsafeArchiveError,
    UnsupportedFormatError,
    open_archive,
)

from .conftest import JPEG_MAGIC, PNG_MAGIC, fixture, make_jpeg


def _tar(path: Path, mode: str, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_komga_7z():
    with open_archive(fixture("komga", "7zip.7z")) as archive:
        assert (archive.format, archive.facts.sub_format) == ("cb7", "7z")
        (page,) = archive.pages()
        assert page.name == "komga.png" and page.data_offset is None
        assert archive.read_page(0).startswith(PNG_MAGIC)
        assert len(archive.read_page(0)) == page.size == 3108


def test_encrypted_7z_is_refused():
    with pytest.raises(EncryptedArchiveError):
        open_archive(fixture("komga", "7zip-encrypted.7z"))


def test_solid_7z_reads_pages_in_any_order():
    with open_archive(fixture("comicbox", "Captain Science #001.cb7")) as archive:
        assert archive.facts.solid
        backwards = [archive.read_page(index) for index in (4, 0, 2)]
        assert all(page.startswith(JPEG_MAGIC) for page in backwards)
        assert backwards[1] == archive.read_page(0)


def test_header_encrypted_7z_is_refused(tmp_path):
    path = tmp_path / "hidden.cb7"
    with py7zr.SevenZipFile(path, "w", password="secret", header_encryption=True) as sz:
        sz.writestr(make_jpeg(), "01.jpg")
    with pytest.raises(EncryptedArchiveError):
        open_archive(path)


def test_7z_symlinks_are_refused(tmp_path):
    (tmp_path / "01.jpg").write_bytes(make_jpeg())
    os.symlink("/etc/passwd", tmp_path / "02.jpg")
    path = tmp_path / "link.cb7"
    with py7zr.SevenZipFile(path, "w") as sz:
        sz.write(tmp_path / "01.jpg", "01.jpg")
        sz.write(tmp_path / "02.jpg", "02.jpg")
    with pytest.raises(UnsafeArchiveError, match="symlink"):
        open_archive(path)


def test_7z_bomb_is_refused_before_decompression(tmp_path):
    path = tmp_path / "bomb.cb7"
    with py7zr.SevenZipFile(path, "w") as sz:
        sz.writestr(bytes(32 * 1024 * 1024), "01.jpg")
    assert path.stat().st_size < 100_000
    limits = ArchiveLimits(max_entry_size=16 * 1024 * 1024)
    with pytest.raises(UnsafeArchiveError, match="declares"):
        open_archive(path, limits=limits)
    with pytest.raises(UnsafeArchiveError, match="ratio"):
        open_archive(path)


def test_7z_bomb_hidden_after_a_real_page_of_a_solid_block_is_refused(tmp_path):
    """7z gives a packed size only for a solid block's first entry, so each
    entry is judged by the ratio of its whole block."""
    path = tmp_path / "solid bomb.cb7"
    with py7zr.SevenZipFile(path, "w") as sz:
        sz.writestr(make_jpeg(), "01.jpg")
        sz.writestr(bytes(8 * 1024 * 1024), "02.jpg")
    with py7zr.SevenZipFile(path) as sz:
        assert [info.compressed is None for info in sz.list()] == [False, True]
    with pytest.raises(UnsafeArchiveError, match="'02.jpg' expands"):
        open_archive(path)


def test_solid_block_entries_are_charged_their_share_of_the_packed_size():
    with py7zr.SevenZipFile(fixture("comicbox", "Captain Science #001.cb7")) as sz:
        infos = sz.list()
        packed = infos[0].compressed
    with open_archive(fixture("comicbox", "Captain Science #001.cb7")) as archive:
        shares = [archive._members[info.filename].compressed_size for info in infos]
    assert all(share is not None and 0 < share < info.uncompressed
               for share, info in zip(shares, infos))
    assert packed - len(infos) <= sum(shares) <= packed


def test_corrupted_7z_data_is_corrupt(tmp_path):
    path = tmp_path / "crc.cb7"
    with py7zr.SevenZipFile(path, "w", filters=[{"id": py7zr.FILTER_COPY}]) as sz:
        sz.writestr(make_jpeg(), "01.jpg")
    raw = bytearray(path.read_bytes())
    raw[32 + 40] ^= 0xFF  # inside the stored JPEG, right after the 32-byte signature header
    path.write_bytes(bytes(raw))
    with open_archive(path) as archive, pytest.raises(CorruptArchiveError):
        archive.read_page(0)


def test_xz_tar_cbt():
    with open_archive(fixture("comicbox", "Captain Science #001-cix.cbt")) as archive:
        assert (archive.facts.sub_format, archive.facts.solid) == ("tar.xz", True)
        assert all(page.data_offset is None for page in archive.pages())
        assert archive.read_page(4).startswith(JPEG_MAGIC)
        assert archive.read_page(0).startswith(JPEG_MAGIC)  # seeking back in a compressed stream


def test_plain_tar_serves_pages_as_byte_ranges(tmp_path):
    pages = {
        f"pages/{n}.jpg": make_jpeg(color=c) for n, c in ((1, "red"), (2, "green"), (10, "blue"))
    }
    path = _tar(tmp_path / "plain.cbt", "w", pages)
    with open_archive(path) as archive:
        assert (archive.facts.sub_format, archive.facts.solid) == ("tar", False)
        listed = archive.pages()
        assert [page.name for page in listed] == ["pages/1.jpg", "pages/2.jpg", "pages/10.jpg"]
        with path.open("rb") as file:
            for page in listed:
                file.seek(page.data_offset)
                assert file.read(page.size) == pages[page.name] == archive.read_page(page.index)


@pytest.mark.parametrize(
    ("mode", "sub_format"), [("w:gz", "tar.gz"), ("w:bz2", "tar.bz2"), ("w:xz", "tar.xz")]
)
def test_compressed_tars_are_sniffed_whatever_their_name(tmp_path, mode, sub_format):
    path = _tar(
        tmp_path / "misnamed.cbz", mode, {"01.jpg": make_jpeg(), "ComicInfo.xml": b"<ComicInfo/>"}
    )
    with open_archive(path) as archive:
        assert (archive.format, archive.facts.sub_format) == ("cbt", sub_format)
        assert archive.read_page(0).startswith(JPEG_MAGIC)
        assert archive.find_metadata() == {"ComicInfo.xml": b"<ComicInfo/>"}


def test_patool_plain_tar_has_entries_but_no_pages():
    with open_archive(fixture("patool", "t.cbt")) as archive:
        assert archive.names() == ["t/t.txt"]
        assert archive.pages() == []


def test_tar_links_and_traversal_are_refused(tmp_path):
    path = tmp_path / "links.cbt"
    with tarfile.open(path, "w") as tf:
        link = tarfile.TarInfo("02.jpg")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(UnsafeArchiveError, match="link"):
        open_archive(path)

    path = tmp_path / "hard.cbt"
    with tarfile.open(path, "w") as tf:
        hard = tarfile.TarInfo("02.jpg")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "../../etc/passwd"
        tf.addfile(hard)
    with pytest.raises(UnsafeArchiveError):
        open_archive(path)

    path = _tar(tmp_path / "dotdot.cbt", "w", {"../evil.jpg": make_jpeg()})
    with pytest.raises(UnsafeArchiveError):
        open_archive(path)


def test_tar_xz_bomb_is_stopped_while_listing(tmp_path):
    path = _tar(
        tmp_path / "bomb.cbt", "w:xz", {f"{n}.jpg": bytes(8 * 1024 * 1024) for n in range(4)}
    )
    assert path.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match="declared uncompressed size"):
        open_archive(path, limits=ArchiveLimits(max_total_size=20 * 1024 * 1024))


def test_gzip_that_is_not_a_tar_is_unsupported(tmp_path):
    path = tmp_path / "notatar.cbt"
    path.write_bytes(gzip.compress(b"hello, not a tar" * 100))
    with pytest.raises(UnsupportedFormatError, match="not a tar"):
        open_archive(path)


def test_truncated_compressed_tar_is_corrupt(tmp_path):
    source = _tar(tmp_path / "full.cbt", "w:gz", {f"{n}.jpg": os.urandom(50_000) for n in range(4)})
    path = tmp_path / "truncated.cbt"
    path.write_bytes(source.read_bytes()[:100_000])
    with pytest.raises(CorruptArchiveError), open_archive(path) as archive:
        for page in archive.pages():
            archive.read_page(page.index)
