"""Finding comics in a finished download (archives of archives too), checking,
converting and tagging them, on real archives."""
import io
import shutil
import zipfile
from pathlib import Path

import py7zr
import pytest

from comicsrv.archives import open_archive
from comicsrv.automation.comicfiles import (
    ComicFileError, convert_to_cbz, embed_comicinfo, find_comics, inspect,
)
from comicsrv.comicinfo import parse_metadata
from tests.conftest import FIXTURE_ARCHIVES

CBZ = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz"
CBZ_WITH_INFO = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001-cix.cbz"
CB7 = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cb7"


def _zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_single_file_download(tmp_path):
    found, skipped = find_comics(str(CBZ), str(tmp_path / "x"))
    assert [(f.path, f.extracted) for f in found] == [(str(CBZ), False)]
    assert skipped == []


def test_nested_folders_samples_and_non_comics(tmp_path):
    root = tmp_path / "download"
    (root / "a" / "b").mkdir(parents=True)
    shutil.copy(CBZ, root / "a" / "b" / "Saga 002.cbz")
    shutil.copy(CBZ, root / "Saga 001.cbz")
    shutil.copy(CBZ, root / "Saga 001 - Sample.cbz")
    (root / "info.nfo").write_text("x")
    (root / ".DS_Store").write_text("x")
    found, skipped = find_comics(str(root), str(tmp_path / "x"))
    assert sorted(Path(f.path).name for f in found) == ["Saga 001.cbz", "Saga 002.cbz"]
    assert any("Sample" in s and "sample" in s for s in skipped)
    assert any(s.startswith("info.nfo") for s in skipped)


def test_archives_of_archives_are_unpacked_into_the_work_folder_only(tmp_path):
    cbz = CBZ.read_bytes()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep/Saga 003.cbz", cbz)
    download = tmp_path / "download"
    download.mkdir()
    pack = _zip_of(download / "Saga pack.zip", {
        "Saga 001.cbz": cbz, "sample/Saga 001 sample.cbz": cbz, "readme.txt": b"hi",
        "more.zip": inner.getvalue(),
    })
    with py7zr.SevenZipFile(download / "Saga 002.7z", "w") as sz:
        sz.write(CBZ, "Saga 002.cbz")
    work = tmp_path / "work"
    found, _ = find_comics(str(download), str(work))
    names = sorted(Path(f.path).name for f in found)
    assert names == ["Saga 001.cbz", "Saga 002.cbz", "Saga 003.cbz"]
    for f in found:
        assert f.extracted and Path(f.path).resolve().is_relative_to(work.resolve())
        assert f.origin in (str(pack), str(download / "Saga 002.7z"))
        assert inspect(f.path)["pages"] > 0
    assert sorted(p.name for p in download.iterdir()) == ["Saga 002.7z", "Saga pack.zip"]


def test_an_archive_with_an_escaping_entry_is_not_unpacked(tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    _zip_of(download / "evil.zip", {"../../escaped.cbz": CBZ.read_bytes()})
    found, skipped = find_comics(str(download), str(tmp_path / "work"))
    assert found == [] and any("no comics" in s for s in skipped)
    assert not list(tmp_path.rglob("escaped.cbz"))


def test_inspect_refuses_what_is_no_comic(tmp_path):
    assert inspect(str(CBZ))["format"] == "cbz"
    empty = _zip_of(tmp_path / "empty.cbz", {"notes.txt": b"x"})
    with pytest.raises(ComicFileError, match="has no pages"):
        inspect(str(empty))
    (tmp_path / "junk.cbz").write_bytes(b"garbage")
    with pytest.raises(ComicFileError, match="cannot be read"):
        inspect(str(tmp_path / "junk.cbz"))


def test_convert_cb7_to_cbz_keeps_every_page(tmp_path):
    target = tmp_path / "out" / "x.cbz"
    convert_to_cbz(str(CB7), str(target))
    with open_archive(CB7) as original, open_archive(target) as converted:
        assert converted.format == "cbz"
        assert [p.name for p in converted.pages()] == [p.name for p in original.pages()]
        assert all(converted.read_page(i) == original.read_page(i)
                   for i in range(len(original.pages())))
    with zipfile.ZipFile(target) as zf:
        assert {i.compress_type for i in zf.infolist() if i.filename.endswith(".jpg")} == {
            zipfile.ZIP_STORED}


def test_embed_comicinfo_replaces_it_and_copies_pages_byte_for_byte(tmp_path):
    target = tmp_path / "tagged.cbz"
    xml = b'<?xml version="1.0"?><ComicInfo><Series>Saga</Series><Number>7</Number></ComicInfo>'
    embed_comicinfo(str(CBZ_WITH_INFO), str(target), xml)
    with zipfile.ZipFile(CBZ_WITH_INFO) as before, zipfile.ZipFile(target) as after:
        assert after.testzip() is None
        old = {i.filename: i for i in before.infolist()}
        new = {i.filename: i for i in after.infolist()}
        infos = [n for n in new if n.lower().endswith("comicinfo.xml")]
        assert infos == ["ComicInfo.xml"]
        for name, info in old.items():
            if name.lower().endswith("comicinfo.xml"):
                continue
            # Same compressed size, method and CRC: copied, not recompressed.
            assert (new[name].compress_size, new[name].compress_type, new[name].CRC) == (
                info.compress_size, info.compress_type, info.CRC)
    with open_archive(target) as archive:
        meta = parse_metadata(archive.find_metadata())
    assert (meta.series, meta.number) == ("Saga", "7")
    assert CBZ_WITH_INFO.read_bytes() == (FIXTURE_ARCHIVES / "comicbox" /
                                          "Captain Science #001-cix.cbz").read_bytes()


def test_embed_comicinfo_into_a_file_without_one(tmp_path):
    target = tmp_path / "tagged.cbz"
    embed_comicinfo(str(CBZ), str(target), b"<ComicInfo><Series>X</Series></ComicInfo>")
    with open_archive(target) as archive:
        assert archive.find_metadata()["ComicInfo.xml"].startswith(b"<ComicInfo>")
        assert len(archive.pages()) == len(open_archive(CBZ).pages())


def test_embed_comicinfo_of_a_broken_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.cbz").write_bytes(b"nope")
    with pytest.raises(ComicFileError, match="ComicInfo.xml not written"):
        embed_comicinfo(str(tmp_path / "bad.cbz"), str(tmp_path / "out.cbz"), b"<ComicInfo/>")
    assert not (tmp_path / "out.cbz").exists()
