"""CBZ specifics: byte-range offsets, comments, encryption, and hostile zips built on the fly."""

from __future__ import annotations

import json
import stat
import struct
import zipfile
from pathlib import Path

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

KOMGA_ZIPS = [
    "zip.zip",
    "zip-copy.zip",
    "zip-bzip2.zip",
    "zip-deflate64.zip",
    "zip-lzma.zip",
    "zip-ppmd.zip",
]


@pytest.mark.parametrize("name", KOMGA_ZIPS)
def test_komga_zips_serve_their_png_as_a_byte_range(name):
    path = fixture("komga", name)
    with open_archive(path) as archive:
        (page,) = archive.pages()
        assert page.name == "komga.png"
        data = archive.read_page(0)
        assert data.startswith(PNG_MAGIC)
        assert page.data_offset is not None
        with path.open("rb") as file:
            file.seek(page.data_offset)
            assert file.read(page.size) == data


def _strip_central_extras(path: Path) -> None:
    """Rewrite the central directory with empty extra fields, leaving the local headers alone."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        start = zf.start_dir
    raw = path.read_bytes()
    central = b""
    for info in infos:
        year, month, day, hour, minute, second = info.date_time
        name = info.filename.encode()
        central += (
            struct.pack(
                "<4s4B4HL2L5H2L",
                b"PK\x01\x02",
                20,
                3,
                20,
                0,
                info.flag_bits,
                info.compress_type,
                hour << 11 | minute << 5 | second // 2,
                (year - 1980) << 9 | month << 5 | day,
                info.CRC,
                info.compress_size,
                info.file_size,
                len(name),
                0,
                0,
                0,
                0,
                info.external_attr,
                info.header_offset,
            )
            + name
        )
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(infos), len(infos), len(central), start, 0
    )
    path.write_bytes(raw[:start] + central + end)


def test_data_offset_comes_from_the_local_header_not_the_central_directory(tmp_path):
    """The local extra field is longer than the central one, as zip64 and timestamps often make it."""
    path = tmp_path / "extra.cbz"
    pages = {
        f"{n:02d}.jpg": make_jpeg(color=color)
        for n, color in enumerate(["red", "green", "blue"], 1)
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in pages.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.extra = struct.pack("<HH", 0xCAFE, 12) + b"x" * 12
            zf.writestr(info, data)
        zf.writestr("ComicInfo.xml", "<ComicInfo/>", compress_type=zipfile.ZIP_DEFLATED)
    _strip_central_extras(path)
    with zipfile.ZipFile(path) as zf:
        assert all(info.extra == b"" for info in zf.infolist())

    with open_archive(path) as archive:
        listed = archive.pages()
        assert [page.name for page in listed] == list(pages)
        with path.open("rb") as file:
            for page in listed:
                file.seek(page.data_offset)
                assert file.read(page.size) == pages[page.name]
        assert archive.find_metadata() == {"ComicInfo.xml": b"<ComicInfo/>"}


def test_deflated_pages_have_no_data_offset():
    with open_archive(fixture("comicbox", "Captain Science #001.cbz")) as archive:
        assert all(page.data_offset is None for page in archive.pages())
        assert all(page.compressed_size < page.size for page in archive.pages())


def test_zip_comment_carries_comicbookinfo():
    with open_archive(
        fixture("comicbox", "Captain Science #001 (1950) The Beginning - multi.cbz")
    ) as archive:
        assert archive.facts.has_comment
        cbi = json.loads(archive.comment)
        assert "ComicBookInfo/1.0" in cbi
    with open_archive(fixture("komga", "zip.zip")) as archive:
        assert archive.comment is None
        assert not archive.facts.has_comment


@pytest.mark.parametrize(("origin", "name"), [("komga", "zip-encrypted.zip"), ("patool", "p.cbz")])
def test_encrypted_zips_are_refused(origin, name):
    with pytest.raises(EncryptedArchiveError) as raised:
        open_archive(fixture(origin, name))
    assert raised.value.reason == "encrypted"


def test_traversal_names_refuse_the_archive(tmp_path):
    for evil in [
        "../evil.jpg",
        "pages/../../evil.jpg",
        "/etc/evil.jpg",
        "C:/evil.jpg",
        "..\\evil.jpg",
    ]:
        path = tmp_path / "evil.cbz"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("01.jpg", make_jpeg())
            zf.writestr(zipfile.ZipInfo(evil), make_jpeg())
        with pytest.raises(UnsafeArchiveError) as raised:
            open_archive(path)
        assert raised.value.reason == "unsafe"
        assert not (tmp_path.parent / "evil.jpg").exists()


def test_symlink_entries_refuse_the_archive(tmp_path):
    path = tmp_path / "link.cbz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("01.jpg", make_jpeg())
        link = zipfile.ZipInfo("02.jpg")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symlink"):
        open_archive(path)


def test_an_archive_with_a_highly_compressed_page_is_refused_at_open(tmp_path):
    """Refused whole, from the declared sizes alone: the scanner records the
    book as unsafe instead of listing pages that explode when read."""
    path = tmp_path / "bomb.cbz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("01.jpg", make_jpeg())
        zf.writestr("02.jpg", bytes(64 * 1024 * 1024))  # 64 MiB of zeros deflate to ~64 KiB
    assert path.stat().st_size < 200_000
    with pytest.raises(UnsafeArchiveError, match="ratio") as raised:
        open_archive(path)
    assert raised.value.reason == "unsafe"


def test_a_page_declaring_more_than_the_entry_limit_refuses_the_archive(tmp_path):
    path = tmp_path / "big.cbz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("01.jpg", make_jpeg() + bytes(4096))
    with pytest.raises(UnsafeArchiveError, match="declares"):
        open_archive(path, limits=ArchiveLimits(max_entry_size=1024))


def test_an_entry_that_is_neither_page_nor_metadata_is_judged_only_when_read(tmp_path):
    """Nothing but read_entry reads such an entry, so it cannot spoil the book."""
    path = tmp_path / "extras.cbz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("01.jpg", make_jpeg())
        zf.writestr("extras/padding.bin", bytes(8 * 1024 * 1024))
    with open_archive(path) as archive:
        assert archive.read_page(0).startswith(JPEG_MAGIC)
        with pytest.raises(UnsafeArchiveError, match="ratio"):
            archive.read_entry("extras/padding.bin")


def test_huge_declared_total_is_refused_at_open(tmp_path):
    """Ten tiny entries whose central directory claims 3.75 GiB each."""
    path = tmp_path / "liar.cbz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n in range(10):
            zf.writestr(f"{n:02d}.jpg", b"\0" * 100)
    raw = bytearray(path.read_bytes())
    position = raw.find(b"PK\x01\x02")
    while position != -1:
        raw[position + 24 : position + 28] = struct.pack("<I", 0xF0000000)  # uncompressed size
        position = raw.find(b"PK\x01\x02", position + 4)
    path.write_bytes(bytes(raw))
    # Only the archive-wide limit: each entry alone would also fail the entry limits.
    alone = ArchiveLimits(max_entry_size=2**40, max_ratio=float("inf"))
    with pytest.raises(UnsafeArchiveError, match="declared uncompressed size"):
        open_archive(path, limits=alone)


def test_a_header_that_understates_the_size_cannot_expand_further(tmp_path):
    path = tmp_path / "understated.cbz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("01.jpg", bytes(2 * 1024 * 1024))
    raw = bytearray(path.read_bytes())
    central = raw.find(b"PK\x01\x02")
    raw[central + 24 : central + 28] = struct.pack("<I", 1000)  # claims 1000 bytes
    path.write_bytes(bytes(raw))
    with open_archive(path) as archive, pytest.raises(CorruptArchiveError):
        archive.read_page(0)


def test_truncated_zip_is_corrupt(tmp_path):
    source = fixture("comicbox", "Captain Science #001.cbz").read_bytes()
    path = tmp_path / "truncated.cbz"
    path.write_bytes(source[: len(source) // 2])
    with pytest.raises(CorruptArchiveError) as raised:
        open_archive(path)
    assert raised.value.reason == "corrupt"


def test_bad_crc_is_corrupt(tmp_path):
    path = tmp_path / "crc.cbz"
    jpeg = make_jpeg()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("01.jpg", jpeg)
    raw = path.read_bytes()
    index = raw.find(jpeg) + len(jpeg) // 2
    path.write_bytes(raw[:index] + bytes([raw[index] ^ 0xFF]) + raw[index + 1 :])
    with open_archive(path) as archive, pytest.raises(CorruptArchiveError, match="CRC"):
        archive.read_page(0)


def test_unknown_compression_method_is_unsupported(tmp_path):
    path = tmp_path / "method.cbz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("01.jpg", make_jpeg())
    raw = bytearray(path.read_bytes())
    for signature, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = raw.find(signature)
        raw[at + method_at : at + method_at + 2] = struct.pack("<H", 9)  # deflate64
    path.write_bytes(bytes(raw))
    with open_archive(path) as archive, pytest.raises(UnsupportedFormatError, match="method"):
        archive.read_page(0)


def test_nested_folders_and_directory_entries(tmp_path):
    path = tmp_path / "nested.cbz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("vol 1/"), b"")
        zf.writestr(zipfile.ZipInfo("vol 1/ch 2/"), b"")
        zf.writestr("vol 1/ch 10/001.jpg", make_jpeg())
        zf.writestr("vol 1/ch 2/001.jpg", make_jpeg())
    with open_archive(path) as archive:
        assert [page.name for page in archive.pages()] == [
            "vol 1/ch 2/001.jpg",
            "vol 1/ch 10/001.jpg",
        ]
        assert archive.facts.entry_count == 2


def test_path_objects_and_strings_both_open(tmp_path):
    path = fixture("komga", "zip.zip")
    for argument in (path, str(path)):
        with open_archive(argument) as archive:
            assert isinstance(archive.path, Path)
            assert archive.read_page(0).startswith(PNG_MAGIC)
