"""Behaviour every format shares: sniffing, page order and filtering, metadata lookup, errors."""

from __future__ import annotations

import io
import shutil
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from comicsrv.archives import (
    ArchiveError,
    CorruptArchiveError,
    EmptyArchiveError,
    EncryptedArchiveError,
    EntryNotFoundError,
    MissingVolumeError,
    PageEntry,
    ToolMissingError,
    UnsafeArchiveError,
    UnsupportedFormatError,
    natural_key,
    open_archive,
)
from comicsrv.archives.base import is_page_name

from .conftest import CAPTAIN_SCIENCE_PAGES, JPEG_MAGIC, fixture, make_jpeg

CAPTAIN_SCIENCE = [
    ("Captain Science #001.cbz", "cbz", "zip"),
    ("Captain Science #001-cix.cbz", "cbz", "zip"),
    ("Captain Science #001-cix-cbi.cbr", "cbr", "rar5"),
    ("Captain Science #001.cb7", "cb7", "7z"),
    ("Captain Science #001-cix.cbt", "cbt", "tar.xz"),
]


@pytest.mark.parametrize(("name", "fmt", "sub_format"), CAPTAIN_SCIENCE)
def test_captain_science_reads_the_same_in_every_format(name, fmt, sub_format):
    with open_archive(fixture("comicbox", name)) as archive:
        assert archive.format == fmt
        assert (archive.facts.format, archive.facts.sub_format) == (fmt, sub_format)
        pages = archive.pages()
        assert [page.name for page in pages] == CAPTAIN_SCIENCE_PAGES
        assert [page.index for page in pages] == [0, 1, 2, 3, 4]
        for page in pages:
            data = archive.read_page(page.index)
            assert data.startswith(JPEG_MAGIC)
            assert len(data) == page.size
            Image.open(io.BytesIO(data)).verify()
        assert archive.read_page(pages[2].name) == archive.read_page(2)
        comicinfo = archive.find_metadata()["ComicInfo.xml"]
        assert ET.fromstring(comicinfo).tag == "ComicInfo"


def test_open_archive_sniffs_content_not_extension(tmp_path):
    disguised = tmp_path / "really a zip.cbr"
    with zipfile.ZipFile(disguised, "w") as zf:
        zf.writestr("01.jpg", make_jpeg())
    with open_archive(disguised) as archive:
        assert archive.format == "cbz"
        assert archive.read_page(0).startswith(JPEG_MAGIC)

    with open_archive(fixture("patool", "t.cbr")) as archive:  # a RAR4 named .cbr, text inside
        assert (archive.format, archive.facts.sub_format) == ("cbr", "rar4")
        assert archive.names() == ["t/t.txt"]
        assert archive.pages() == []

    with open_archive(fixture("komga", "zip.zip")) as archive:  # any name works
        assert archive.format == "cbz"


def test_sniffing_recognises_plain_v7_and_prefixed_archives(tmp_path):
    v7 = tmp_path / "old.cbz"  # a tar without the ustar magic, misnamed
    with tarfile.open(v7, "w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("01.jpg")
        data = make_jpeg()
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    raw = bytearray(v7.read_bytes())
    raw[257:265] = (
        b"\0" * 8
    )  # strip the magic and version: v7 layout, checksum still valid after fixing
    raw[148:156] = b" " * 8
    checksum = sum(raw[:512])
    raw[148:156] = b"%06o\0 " % checksum
    v7.write_bytes(bytes(raw))
    with open_archive(v7) as archive:
        assert (archive.format, archive.facts.sub_format) == ("cbt", "tar")
        assert archive.read_page(0).startswith(JPEG_MAGIC)

    prefixed = tmp_path / "sfx.cbz"  # a self-extracting stub in front of the zip
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as zf:
        zf.writestr("01.jpg", make_jpeg())
    prefixed.write_bytes(b"MZ" + b"\0" * 2000 + body.getvalue())
    with open_archive(prefixed) as archive:
        assert archive.format == "cbz"
        assert archive.read_page(0).startswith(JPEG_MAGIC)


def test_unrecognised_and_empty_files_are_refused(tmp_path):
    text = tmp_path / "notes.cbz"
    text.write_text("just some text, not an archive\n" * 40)
    with pytest.raises(UnsupportedFormatError) as raised:
        open_archive(text)
    assert raised.value.reason == "unsupported"
    assert str(text) in str(raised.value)

    empty = tmp_path / "empty.cbz"
    empty.write_bytes(b"")
    with pytest.raises(CorruptArchiveError):
        open_archive(empty)

    with pytest.raises(FileNotFoundError):
        open_archive(tmp_path / "absent.cbz")


def test_comictagger_page_order_and_filtering():
    with open_archive(fixture("comictagger", "fake_cbr.cbr")) as archive:
        assert [page.name for page in archive.pages()] == [
            "!cover.jpg",
            "00.jpg",
            "page0.jpg",
            "Page1.jpeg",
            "Page2.png",
            "Page3.gif",
            "page4.webp",
            "page10.jpg",
        ]
        assert ".ignored.jpg" in archive.names() and "ignored.txt" in archive.names()
        assert archive.read_page("page10.jpg") == b"1\n"  # the fixture's two-byte "pages"
        assert archive.read_page(0) == b"0\n"


def test_natural_key_orders_numbers_and_ignores_case():
    names = ["page10.jpg", "Page2.jpg", "page1.jpg", "b/1.jpg", "a/10.jpg", "a/9.jpg", "A/11.jpg"]
    assert sorted(names, key=natural_key) == [
        "a/9.jpg",
        "a/10.jpg",
        "A/11.jpg",
        "b/1.jpg",
        "page1.jpg",
        "Page2.jpg",
        "page10.jpg",
    ]


@pytest.mark.parametrize(
    ("name", "is_page"),
    [
        ("001.jpg", True),
        ("sub/dir/002.JPEG", True),
        ("x.png", True),
        ("x.gif", True),
        ("x.webp", True),
        ("x.avif", True),
        ("x.jxl", True),
        ("x.bmp", True),
        ("x.tif", True),
        ("x.TIFF", True),
        ("./001.jpg", True),
        ("win\\dir\\003.jpg", True),
        ("ComicInfo.xml", False),
        ("Thumbs.db", False),
        ("notes.txt", False),
        ("._001.jpg", False),
        (".hidden.jpg", False),
        ("__MACOSX/001.jpg", False),
        (".thumbs/001.jpg", False),
        ("dir/", False),
    ],
)
def test_page_detection(name, is_page):
    assert is_page_name(name) is is_page


@pytest.mark.parametrize(
    ("origin", "name", "pages"),
    [
        ("kavita", "macos_none.zip", []),
        ("kavita", "macos_one.zip", ["test/file.png"]),
        ("kavita", "macos_withdotunder_one.zip", ["test/file.png"]),
        (
            "comicbox",
            "macos_resource_fork.cbz",
            ["CaptainScience#1_01.jpg", "CaptainScience#1_02.jpg"],
        ),
        ("comicbox", "comicbox.cbz", []),
    ],
)
def test_macos_junk_and_non_images_are_not_pages(origin, name, pages):
    with open_archive(fixture(origin, name)) as archive:
        assert [page.name for page in archive.pages()] == pages
        assert archive.names(), "an archive with entries but no pages opens fine"
        for page in archive.pages():
            data = archive.read_page(page.index)
            assert len(data) == page.size


@pytest.mark.parametrize(
    ("origin", "name"),
    [
        ("kavita", "ComicInfo_duplicateInfos.zip"),
        ("kavita", "ComicInfo_duplicateInfos_reversed.zip"),
        ("kavita", "ComicInfo_duplicateInfos.rar"),
    ],
)
def test_root_comicinfo_wins_over_a_nested_duplicate(origin, name):
    with open_archive(fixture(origin, name)) as archive:
        nested = [n for n in archive.names() if n.casefold().endswith("comicinfo.xml") and "/" in n]
        assert nested, "the fixture has a nested duplicate"
        found = archive.find_metadata()
        assert set(found) == {"ComicInfo.xml"}
        assert found["ComicInfo.xml"] == archive.read_entry("ComicInfo.xml")
        assert found["ComicInfo.xml"] != archive.read_entry(nested[0])
        ET.fromstring(found["ComicInfo.xml"])


@pytest.mark.parametrize(
    ("origin", "name"),
    [
        ("kavita", "ComicInfo_outside_root.zip"),
        ("kavita", "ComicInfo_outside_root_SharpCompress.cb7"),
    ],
)
def test_comicinfo_outside_root_is_found(origin, name):
    with open_archive(fixture(origin, name)) as archive:
        root = ET.fromstring(archive.find_metadata()["ComicInfo.xml"])
        assert root.tag == "ComicInfo"
        assert archive.pages() == []


def test_every_metadata_flavour_is_found_case_insensitively():
    with open_archive(
        fixture("comicbox", "Captain Science #001 (1950) The Beginning - multi.cbz")
    ) as archive:
        found = archive.find_metadata()
        assert set(found) == {"ComicInfo.xml", "CoMet.xml"}
        assert ET.fromstring(found["CoMet.xml"]).tag.endswith("comet")
    with open_archive(fixture("comicbox", "Captain Science #001-metron.cbz")) as archive:
        assert ET.fromstring(archive.find_metadata()["MetronInfo.xml"]).tag == "MetronInfo"
    with open_archive(fixture("comicbox", "Captain Science #001-cix-cbi.cbr")) as archive:
        assert "comicinfo.xml" in archive.names()  # lower-case name at the root
        assert archive.find_metadata()["ComicInfo.xml"] == archive.read_entry("comicinfo.xml")


def test_entry_and_page_lookups_stay_inside_the_archive():
    with open_archive(fixture("komga", "rar4.rar")) as archive:
        with pytest.raises(EntryNotFoundError) as raised:
            archive.read_entry("../rar5.rar")
        assert raised.value.reason == "entry_not_found"
        with pytest.raises(EntryNotFoundError):
            archive.read_entry("/etc/passwd")
        with pytest.raises(EntryNotFoundError):
            archive.read_page(3)
        with pytest.raises(EntryNotFoundError):
            archive.read_page(-1)
        with pytest.raises(EntryNotFoundError):
            archive.read_page("komga-9.png")


def test_page_entries_are_frozen_and_listing_is_a_copy():
    with open_archive(fixture("komga", "zip.zip")) as archive:
        pages = archive.pages()
        assert pages[0] == PageEntry(0, "komga.png", 3108, 3108, 39)
        with pytest.raises(AttributeError):
            pages[0].index = 5  # type: ignore[misc]
        pages.clear()
        assert len(archive.pages()) == 1


def test_closed_archive_refuses_reads_and_close_is_idempotent():
    archive = open_archive(fixture("komga", "zip.zip"))
    archive.close()
    archive.close()
    with pytest.raises(ValueError):
        archive.read_page(0)


def test_error_reasons_are_distinct_and_all_archive_errors():
    classes = [
        UnsupportedFormatError,
        EncryptedArchiveError,
        CorruptArchiveError,
        EmptyArchiveError,
        MissingVolumeError,
        UnsafeArchiveError,
        EntryNotFoundError,
        ToolMissingError,
    ]
    assert all(issubclass(cls, ArchiveError) for cls in classes)
    assert len({cls.reason for cls in classes}) == len(classes)
    error = EncryptedArchiveError("the RAR is password-protected", path=Path("/x/y.cbr"))
    assert str(error) == "/x/y.cbr: the RAR is password-protected"
    assert error.path == "/x/y.cbr"


@pytest.mark.parametrize(
    ("origin", "name"),
    [
        ("comicbox", "Captain Science #001 (1950) The Beginning - nothing.cbz"),
        ("kavita", "empty.zip"),
        ("kavita", "winrar.rar"),
    ],
)
def test_archives_without_entries_are_empty(origin, name):
    with pytest.raises(EmptyArchiveError) as raised:
        open_archive(fixture(origin, name))
    assert raised.value.reason == "empty"


def test_cache_dir_is_only_used_when_needed(tmp_path, cache_dir):
    copy = tmp_path / "copy.cbz"
    shutil.copy(fixture("comicbox", "Captain Science #001.cbz"), copy)
    with open_archive(copy, cache_dir=cache_dir) as archive:
        for page in archive.pages():
            archive.read_page(page.index)
    assert not cache_dir.exists()
