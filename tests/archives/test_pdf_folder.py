"""PDF rendering, JPEG pass-through and embedded ComicInfo; folders of images."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from comicsrv.archives import (
    CorruptArchiveError,
    EmptyArchiveError,
    EntryNotFoundError,
    open_archive,
)
from comicsrv.archives.pdf import RENDER_LONG_SIDE, render_page

from .conftest import JPEG_MAGIC, fixture, make_jpeg


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_komga_pdf_renders_its_page():
    with open_archive(fixture("komga", "komga.pdf")) as archive:
        assert (archive.format, archive.facts.sub_format) == ("pdf", "pdf-1.4")
        (page,) = archive.pages()
        assert (page.name, page.size, page.data_offset) == ("0001.jpg", None, None)
        data = archive.read_page(0)
        assert data.startswith(JPEG_MAGIC)
        image = _decode(data)
        assert image.format == "JPEG" and max(image.size) == RENDER_LONG_SIDE
        assert image.convert("L").getextrema() != (255, 255), "the rendering is not blank"


def test_comicinfo_embedded_in_a_pdf_is_found():
    with open_archive(fixture("comicbox", "test_cix.pdf")) as archive:
        assert [page.name for page in archive.pages()] == [
            "0001.jpg",
            "0002.jpg",
            "0003.jpg",
            "0004.jpg",
        ]
        comicinfo = archive.find_metadata()["ComicInfo.xml"]
        assert ET.fromstring(comicinfo).tag == "ComicInfo"
        assert archive.read_entry("ComicInfo.xml") == comicinfo
        assert archive.comment is None
        assert _decode(archive.read_page(3)).size[1] == RENDER_LONG_SIDE  # portrait letter page


def test_pdf_without_attachments_has_no_metadata():
    with open_archive(fixture("comicbox", "test_pdf.pdf")) as archive:
        assert archive.find_metadata() == {}
        assert len(archive.pages()) == 4


def test_full_page_jpeg_is_passed_through_untouched(tmp_path):
    """Scanned comics are one JPEG per page: serve it as is, at its own resolution."""
    path = tmp_path / "scan.pdf"
    first = Image.new("RGB", (300, 450), "red")
    second = Image.new("RGB", (320, 480), "blue")
    first.save(path, "PDF", save_all=True, append_images=[second], resolution=72)
    raw = path.read_bytes()
    with open_archive(path) as archive:
        for index, size in enumerate([(300, 450), (320, 480)]):
            data = archive.read_page(index)
            assert data.startswith(JPEG_MAGIC)
            assert data in raw, "the bytes are the PDF's own JPEG stream"
            assert _decode(data).size == size


def test_render_page_says_whether_it_rendered_and_follows_the_file(tmp_path):
    """The worker-process entry point: a scanned page is passed through (not
    worth caching), a drawn one rendered; a file replaced on disk is
    reopened, not served from the document kept open."""
    path = tmp_path / "scan.pdf"
    Image.new("RGB", (300, 450), "red").save(path, "PDF", resolution=72)
    data, rendered = render_page(str(path), 0)
    assert not rendered and data in path.read_bytes()
    komga = fixture("komga", "komga.pdf")
    data, rendered = render_page(str(komga), 0)
    assert rendered and max(_decode(data).size) == RENDER_LONG_SIDE

    Image.new("RGB", (320, 480), "blue").save(path, "PDF", resolution=72)
    os.utime(path, ns=(1, 1))  # even with a size and mtime of its own
    data, _ = render_page(str(path), 0)
    assert _decode(data).size == (320, 480)
    with pytest.raises(CorruptArchiveError, match="no page 2"):
        render_page(str(path), 1)


def test_broken_pdf_is_corrupt(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"garbage " * 200)
    with pytest.raises(CorruptArchiveError):
        open_archive(path)


def test_folder_of_images(tmp_path):
    book = tmp_path / "Saga 001"
    (book / "ch 10").mkdir(parents=True)
    (book / "ch 2").mkdir()
    (book / ".thumbnails").mkdir()
    (book / "ch 2" / "01.jpg").write_bytes(make_jpeg(color="red"))
    (book / "ch 10" / "01.jpg").write_bytes(make_jpeg(color="blue"))
    (book / "cover.jpg").write_bytes(make_jpeg(color="green"))
    (book / ".thumbnails" / "x.jpg").write_bytes(make_jpeg())
    (book / "._cover.jpg").write_bytes(b"\0\5\26\7")
    (book / "ComicInfo.xml").write_text("<ComicInfo><Series>Saga</Series></ComicInfo>")
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(make_jpeg())
    os.symlink(outside, book / "00.jpg")
    os.symlink(tmp_path, book / "linked dir")

    with open_archive(book) as archive:
        assert archive.format == "folder"
        assert [page.name for page in archive.pages()] == [
            "ch 2/01.jpg",
            "ch 10/01.jpg",
            "cover.jpg",
        ]
        assert all(page.data_offset is None for page in archive.pages())
        assert archive.read_page(2) == (book / "cover.jpg").read_bytes()
        assert ET.fromstring(archive.find_metadata()["ComicInfo.xml"]).findtext("Series") == "Saga"
        with pytest.raises(EntryNotFoundError):
            archive.read_entry("00.jpg")
        with pytest.raises(EntryNotFoundError):
            archive.read_entry("../secret.jpg")


def test_folder_entry_swapped_for_a_link_after_listing_is_not_followed(tmp_path):
    book = tmp_path / "book"
    (book / "ch1").mkdir(parents=True)
    (book / "ch1" / "01.jpg").write_bytes(make_jpeg())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "01.jpg").write_bytes(b"not yours")
    with open_archive(book) as archive:
        (book / "ch1" / "01.jpg").unlink()
        (book / "ch1").rmdir()
        os.symlink(elsewhere, book / "ch1")
        with pytest.raises(CorruptArchiveError):
            archive.read_page(0)


def test_empty_folder_is_empty(tmp_path):
    with pytest.raises(EmptyArchiveError):
        open_archive(tmp_path)
