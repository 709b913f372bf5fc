"""Finding comics in a finished download (archives of archives too), checking,
converting and tagging them, on real archives."""
import io
import random
import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path

import py7zr
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from comicsrv.archives import open_archive
from comicsrv.automation import comicfiles
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


# -- the ComicInfo writer never damages a CBZ ----------------------------------------
#
# A copy is faithful when it holds exactly the source's entries (minus any
# ComicInfo.xml) with the same compressed bytes, CRC and attributes, then the
# new ComicInfo.xml; the zip comment (ComicBookInfo) is kept; the file is
# entries back to back, one central directory and one end record, nothing
# else; and zipfile, Info-ZIP unzip and libarchive all read it cleanly.

FIXTURE_ZIPS = sorted(p for p in FIXTURE_ARCHIVES.rglob("*") if p.suffix.lower() in (".cbz", ".zip"))
ENCRYPTED_ZIPS = {"p.cbz", "zip-encrypted.zip"}
XML = (b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Series>Saga</Series>'
       b"<Number>7</Number><Summary>" + "Ça va très bien. ".encode() * 20 + b"</Summary></ComicInfo>")
# What the new entry costs besides its XML: a local header (30 bytes +
# name), a central one (46 bytes + name), and deflate's few bytes of framing
# when the XML does not compress (random bytes in the generated cases).
NEW_ENTRY_OVERHEAD = 30 + 46 + 2 * len("ComicInfo.xml") + 16


def _is_comicinfo(name: str) -> bool:
    return name.replace("\\", "/").rsplit("/", 1)[-1].lower() == "comicinfo.xml"


def _stored_bytes(path: Path, info: zipfile.ZipInfo) -> bytes:
    """An entry's compressed bytes, found through its own local header."""
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        assert header[:4] == b"PK\x03\x04"
        name_length, extra_length = struct.unpack("<2H", header[26:30])
        fh.seek(name_length + extra_length, 1)
        return fh.read(info.compress_size)


def _layout(path: Path) -> int:
    """Walk the file from its first byte: local entries back to back (each
    with its sizes in its header, no data descriptor), the central directory,
    optional zip64 end records, the end record and its comment, then the end
    of the file. Returns the number of entries."""
    data = path.read_bytes()
    position, entries = 0, 0
    while data[position:position + 4] == b"PK\x03\x04":
        (flags,) = struct.unpack_from("<H", data, position + 6)
        assert not flags & 0x08, "a data descriptor was written"
        (size,) = struct.unpack_from("<L", data, position + 18)
        name_length, extra_length = struct.unpack_from("<2H", data, position + 26)
        extra = data[position + 30 + name_length:position + 30 + name_length + extra_length]
        if size == 0xFFFFFFFF:
            assert extra[:2] == b"\x01\x00"
            size = struct.unpack_from("<Q", extra, 12)[0]
        position += 30 + name_length + extra_length + size
        entries += 1
    central = 0
    while data[position:position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, position + 28)
        position += 46 + name_length + extra_length + comment_length
        central += 1
    if data[position:position + 4] == b"PK\x06\x06":
        position += 12 + struct.unpack_from("<Q", data, position + 4)[0]
        assert data[position:position + 4] == b"PK\x06\x07"
        position += 20
    assert data[position:position + 4] == b"PK\x05\x06", f"junk at offset {position}"
    (comment_length,) = struct.unpack_from("<H", data, position + 20)
    assert position + 22 + comment_length == len(data), "bytes after the end record"
    assert central == entries
    return entries


def _tools_read(path: Path) -> None:
    for command in (["unzip", "-tq", str(path)], ["bsdtar", "-tf", str(path)],
                    ["bsdtar", "-xOf", str(path)]):
        run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert run.returncode == 0 and not run.stderr, (command, run.stderr)


def _assert_faithful(source: Path, target: Path, xml: bytes, *, tools: bool = True) -> None:
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(target) as after:
        assert after.testzip() is None
        assert after.comment == before.comment
        kept = [i for i in before.infolist() if not _is_comicinfo(i.filename)]
        copied = after.infolist()
        assert [i.orig_filename for i in copied] == [i.orig_filename for i in kept] + ["ComicInfo.xml"]
        for old, new in zip(kept, copied):
            assert (new.CRC, new.compress_type, new.compress_size, new.file_size, new.comment,
                    new.external_attr, new.date_time, new.flag_bits | 0x08) == (
                old.CRC, old.compress_type, old.compress_size, old.file_size, old.comment,
                old.external_attr, old.date_time, old.flag_bits | 0x08), old.filename
            assert _stored_bytes(target, new) == _stored_bytes(source, old), old.filename
        assert after.read("ComicInfo.xml") == xml
    assert _layout(target) == len(kept) + 1
    assert target.stat().st_size - source.stat().st_size <= len(xml) + NEW_ENTRY_OVERHEAD
    if tools:
        _tools_read(target)


@pytest.mark.parametrize("source", [p for p in FIXTURE_ZIPS if p.name not in ENCRYPTED_ZIPS],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_embed_comicinfo_keeps_every_fixture_zip_intact(source, tmp_path):
    target = tmp_path / "tagged.cbz"
    before = source.read_bytes()
    embed_comicinfo(str(source), str(target), XML)
    _assert_faithful(source, target, XML)
    assert source.read_bytes() == before


@pytest.mark.parametrize("name", sorted(ENCRYPTED_ZIPS))
def test_embed_comicinfo_refuses_password_protected_zips(name, tmp_path):
    source = next(p for p in FIXTURE_ZIPS if p.name == name)
    with pytest.raises(ComicFileError, match="password-protected"):
        embed_comicinfo(str(source), str(tmp_path / "out.cbz"), XML)
    assert list(tmp_path.iterdir()) == []


def test_embed_comicinfo_copies_only_the_entries_of_a_stored_cbz(tmp_path):
    """The reported case: a 31-entry stored CBZ of 88 KB grew to 717 KB with
    256 local headers and 10 end records, each copy dragging the following
    bytes with it. The copy is now the entries and nothing else."""
    source = tmp_path / "Saga 001.cbz"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_STORED) as zf:
        for number in range(30):
            zf.writestr(f"Saga 001/{number:03d}.jpg", random.Random(number).randbytes(2900))
        zf.writestr("ComicInfo.xml", b"<ComicInfo><Series>Old</Series></ComicInfo>")
    target = tmp_path / "tagged.cbz"
    embed_comicinfo(str(source), str(target), XML)
    _assert_faithful(source, target, XML)
    data = target.read_bytes()
    assert data.count(b"PK\x05\x06") == 1
    assert abs(len(data) - source.stat().st_size) < len(XML)


def _unseekable_zip(path: Path, entries, comment: bytes = b"", **kwargs) -> Path:
    """Written as a stream (zipfile then uses data descriptors, flag bit 3)."""
    class Stream(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)

    stream = Stream()
    with zipfile.ZipFile(stream, "w", **kwargs) as zf:
        for name, data, method in entries:
            zf.writestr(zipfile.ZipInfo(name, (2024, 5, 6, 7, 8, 10)), data, method)
        zf.comment = comment
    path.write_bytes(bytes(stream.data))
    return path


def test_embed_comicinfo_of_streamed_zips_with_data_descriptors(tmp_path):
    page = random.Random(1).randbytes(4000)
    source = _unseekable_zip(tmp_path / "streamed.cbz", [
        ("001.jpg", page, zipfile.ZIP_STORED), ("002.jpg", page[::-1], zipfile.ZIP_DEFLATED),
        ("notes/ComicInfo.xml", b"<ComicInfo/>", zipfile.ZIP_DEFLATED),
        ("003.jpg", page * 2, zipfile.ZIP_BZIP2)])
    with zipfile.ZipFile(source) as zf:
        assert all(i.flag_bits & 0x08 for i in zf.infolist())
    target = tmp_path / "tagged.cbz"
    embed_comicinfo(str(source), str(target), XML)
    _assert_faithful(source, target, XML)


def test_embed_comicinfo_of_a_zip_libarchive_wrote(tmp_path):
    """bsdtar writes data descriptors and Info-ZIP extra fields (timestamps,
    owner): a writer in the wild, not Python's."""
    pages = tmp_path / "pages"
    pages.mkdir()
    for number in range(3):
        (pages / f"{number:03d}.jpg").write_bytes(random.Random(number).randbytes(3000))
    (pages / "ComicInfo.xml").write_bytes(b"<ComicInfo><Series>Old</Series></ComicInfo>")
    source = tmp_path / "bsdtar.cbz"
    subprocess.run(["bsdtar", "--format", "zip", "-cf", str(source), "-C", str(pages),
                    "000.jpg", "ComicInfo.xml", "001.jpg", "002.jpg"], check=True)
    with zipfile.ZipFile(source) as zf:
        assert all(i.flag_bits & 0x08 and i.extra for i in zf.infolist())
    target = tmp_path / "tagged.cbz"
    embed_comicinfo(str(source), str(target), XML)
    _assert_faithful(source, target, XML)
    with zipfile.ZipFile(target) as zf:
        assert all(i.extra.startswith(b"UT") for i in zf.infolist()[:-1])  # extras kept


def test_embed_comicinfo_keeps_comments_and_names_of_every_kind(tmp_path):
    source = tmp_path / "comments.cbz"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("001.jpg")
        info.comment = b"the cover"
        zf.writestr(info, b"\xff\xd8" + bytes(3000))
        zf.writestr("Ünïcödé/002.jpg", b"\xff\xd8" + bytes(100))  # UTF-8 flag
        zf.writestr("ComicInfo.xml", b"<ComicInfo><Series>Old</Series></ComicInfo>")
        zf.comment = b'{"ComicBookInfo/1.0": {"series": "Saga", "issue": "7"}}'
    # A legacy name: cp437 bytes without the UTF-8 flag, as old Windows tools wrote.
    data = bytearray(source.read_bytes())
    legacy = "Ünïcödé".encode("utf-8")
    cp437 = "Ünïcödé".encode("cp437").ljust(len(legacy), b"_")
    data = data.replace(legacy, cp437)
    for position in _offsets(data, b"PK\x01\x02"):
        struct.pack_into("<H", data, position + 8,
                         struct.unpack_from("<H", data, position + 8)[0] & ~0x800)
    for position in _offsets(data, b"PK\x03\x04"):
        struct.pack_into("<H", data, position + 6,
                         struct.unpack_from("<H", data, position + 6)[0] & ~0x800)
    source.write_bytes(bytes(data))
    with zipfile.ZipFile(source) as zf:
        assert zf.infolist()[1].filename.startswith("Ünïcödé".encode("cp437").decode("cp437"))
        assert not zf.infolist()[1].flag_bits & 0x800
    target = tmp_path / "tagged.cbz"
    embed_comicinfo(str(source), str(target), XML)
    _assert_faithful(source, target, XML)
    with open_archive(target) as archive:
        meta = parse_metadata(archive.find_metadata(), archive.comment)
    assert meta.series == "Saga"  # ComicInfo wins; the CBI comment is still there
    with zipfile.ZipFile(target) as zf:
        assert zf.getinfo("001.jpg").comment == b"the cover"
        assert b"ComicBookInfo/1.0" in zf.comment


def _offsets(data: bytes, signature: bytes) -> list[int]:
    found, position = [], data.find(signature)
    while position >= 0:
        found.append(position)
        position = data.find(signature, position + 1)
    return found


def test_embed_comicinfo_reads_and_writes_zip64(tmp_path, monkeypatch):
    """zip64 records read from the source (local extras, the zip64 end
    record) and written to the copy when a value needs them; the limits are
    lowered so this takes kilobytes, not 4 GiB."""
    source = tmp_path / "zip64.cbz"
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
    with zipfile.ZipFile(source, "w") as zf:
        for number in range(3):
            with zf.open(f"{number:03d}.jpg", "w", force_zip64=True) as entry:
                entry.write(random.Random(number).randbytes(1500))
    monkeypatch.undo()
    assert b"PK\x06\x06" in source.read_bytes()
    monkeypatch.setattr(comicfiles, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(comicfiles, "ZIP64_COUNT_LIMIT", 2)
    target = tmp_path / "tagged.cbz"
    embed_comicinfo(str(source), str(target), XML)
    data = target.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data
    with zipfile.ZipFile(target) as zf:
        # Pages past the lowered limit carry zip64 extras, in both headers.
        assert all(i.extra.startswith(b"\x01\x00") for i in zf.infolist()[1:3])
    _assert_faithful(source, target, XML)


def test_embed_comicinfo_refuses_a_damaged_or_truncated_source(tmp_path):
    source = tmp_path / "damaged.cbz"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("001.jpg", b"\xff\xd8" + b"a" * 5000)
        zf.writestr("002.jpg", b"\xff\xd8" + b"b" * 5000)
    data = bytearray(source.read_bytes())
    data[100] ^= 0xFF  # inside 001.jpg: its CRC no longer matches
    source.write_bytes(bytes(data))
    with pytest.raises(ComicFileError, match="damaged"):
        embed_comicinfo(str(source), str(tmp_path / "out.cbz"), XML)
    with zipfile.ZipFile(source) as zf:
        central = zf.start_dir
    truncated = tmp_path / "truncated.cbz"
    truncated.write_bytes(bytes(data[:4000]) + bytes(data[central:]))
    with pytest.raises(ComicFileError, match="ComicInfo.xml not written"):
        embed_comicinfo(str(truncated), str(tmp_path / "out.cbz"), XML)
    assert not (tmp_path / "out.cbz").exists() and not (tmp_path / "out.cbz.partial").exists()


def test_embed_comicinfo_twice_gives_the_same_file(tmp_path):
    """The new entry's time is the archive's newest, not the clock's: tagging
    again with the same XML changes nothing (and so not the archive id)."""
    first, second = tmp_path / "first.cbz", tmp_path / "second.cbz"
    embed_comicinfo(str(CBZ), str(first), XML)
    embed_comicinfo(str(first), str(second), XML)
    assert first.read_bytes() == second.read_bytes()


_NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=24)
_METHODS = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                            zipfile.ZIP_LZMA])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(st.tuples(_NAMES, st.binary(max_size=2000), _METHODS,
                                  st.binary(max_size=16), st.booleans()),
                        max_size=12, unique_by=lambda e: e[0]),
       comicinfo=st.sampled_from([None, "ComicInfo.xml", "Saga/comicinfo.XML"]),
       streamed=st.booleans(), comment=st.binary(max_size=64),
       xml=st.binary(min_size=1, max_size=3000))
def test_embed_comicinfo_is_faithful_for_generated_zips(entries, comicinfo, streamed, comment, xml):
    # An end-record signature inside the comment makes the source itself
    # unreadable to zipfile (it searches the tail for the signature).
    assume(b"PK\x05\x06" not in comment and b"PK\x06\x07" not in comment)
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "source.cbz", Path(folder) / "target.cbz"
        entries = [e for e in entries if not _is_comicinfo(e[0])]
        if comicinfo:
            entries.insert(len(entries) // 2, (comicinfo, b"<ComicInfo/>", zipfile.ZIP_DEFLATED,
                                               b"", False))
        if streamed:
            _unseekable_zip(source, [(n, d, m) for n, d, m, _, _ in entries], comment)
        else:
            with zipfile.ZipFile(source, "w") as zf:
                for name, data, method, entry_comment, zip64 in entries:
                    info = zipfile.ZipInfo(name, (2001, 2, 3, 4, 5, 6))
                    info.compress_type, info.comment = method, entry_comment
                    with zf.open(info, "w", force_zip64=zip64) as fh:
                        fh.write(data)
                zf.comment = comment
        embed_comicinfo(str(source), str(target), xml)
        _assert_faithful(source, target, xml, tools=False)
