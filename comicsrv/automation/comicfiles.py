"""What post-processing does to comic files: find them in a finished download,
unpack archives of archives, check they open, convert to CBZ, embed ComicInfo.

Flask-free and database-free (the post-processing host calls these through
the CPU pool). Nothing here writes outside the folder it is given, and no
input file is ever changed: a converted or tagged comic is a new file.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..archives import ArchiveError, open_archive
from ..archives.base import is_junk, natural_key

COMIC_EXTENSIONS = (".cbz", ".cbr", ".cb7", ".cbt", ".pdf")
# Containers a release may wrap its comics in (a .zip of .cbz files).
CONTAINER_EXTENSIONS = (".zip", ".rar", ".7z", ".tar")
MAX_NESTING = 3
# "sample" as a word in a name marks a preview, as in Sonarr's sample check.
_SAMPLE = re.compile(r"(^|[^a-z])sample([^a-z]|$)", re.I)


class ComicFileError(Exception):
    """A file is not a usable comic; ``reason`` says why for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class FoundFile:
    path: str
    # The file of the download it came from (itself, or the archive it was in).
    origin: str
    extracted: bool = False


def is_sample(path: str) -> bool:
    return bool(_SAMPLE.search(Path(path).stem))


def find_comics(root: str, extract_dir: str,
                cache_dir: str | None = None) -> tuple[list[FoundFile], list[str]]:
    """Comic files in a finished download (a file or a folder tree), with
    archives of archives unpacked into ``extract_dir``; and what was skipped."""
    skipped: list[str] = []
    found: list[FoundFile] = []
    base = Path(root)
    if base.is_file():
        paths = [base]
    elif base.is_dir():
        paths = sorted((p for p in base.rglob("*") if p.is_file()),
                       key=lambda p: natural_key(str(p.relative_to(base))))
    else:
        raise ComicFileError(f"the download's path {root} does not exist")
    for number, path in enumerate(paths):
        rel = str(path.relative_to(base)) if base.is_dir() else path.name
        if is_junk(rel):
            continue
        if is_sample(str(path)):
            skipped.append(f"{rel}: a sample")
            continue
        target = os.path.join(extract_dir, str(number))
        found.extend(_comics_in(path, str(path), target, cache_dir, skipped, 0))
    return found, skipped


def _comics_in(path: Path, origin: str, extract_dir: str, cache_dir: str | None,
               skipped: list[str], depth: int) -> list[FoundFile]:
    suffix = path.suffix.lower()
    if suffix not in COMIC_EXTENSIONS + CONTAINER_EXTENSIONS:
        skipped.append(f"{path.name}: not a comic")
        return []
    inner = _inner_comics(path, cache_dir) if depth < MAX_NESTING else []
    if not inner:
        if suffix in COMIC_EXTENSIONS:
            return [FoundFile(str(path), origin, depth > 0)]
        skipped.append(f"{path.name}: an archive with no comics in it")
        return []
    os.makedirs(extract_dir, exist_ok=True)
    found = []
    with open_archive(path, cache_dir) as archive:
        for index, name in enumerate(inner):
            if is_sample(name):
                skipped.append(f"{name}: a sample")
                continue
            # Only the base name is used, so no entry can write outside.
            out = Path(extract_dir) / f"{index:03d}" / os.path.basename(name.replace("\\", "/"))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read_entry(name))
            found.extend(_comics_in(out, origin, str(out.parent / "x"), cache_dir, skipped,
                                    depth + 1))
    return found


def _inner_comics(path: Path, cache_dir: str | None) -> list[str]:
    """Entries that are comics or containers, if ``path`` is an archive of
    them rather than a comic itself (one with pages is a comic)."""
    try:
        with open_archive(path, cache_dir) as archive:
            if archive.format not in ("cbz", "cbr", "cb7", "cbt") or archive.pages():
                return []
            return [n for n in archive.names() if not is_junk(n)
                    and n.lower().endswith(COMIC_EXTENSIONS + CONTAINER_EXTENSIONS)]
    except (ArchiveError, OSError):
        return []


def inspect(path: str, cache_dir: str | None = None) -> dict:
    """Open a comic and count its pages: ``{"format", "pages", "has_comicinfo"}``."""
    try:
        with open_archive(path, cache_dir) as archive:
            pages = len(archive.pages())
            fmt = archive.format
            has_comicinfo = "ComicInfo.xml" in archive.find_metadata()
    except ArchiveError as exc:
        raise ComicFileError(f"{os.path.basename(path)} cannot be read: {exc}") from None
    except OSError as exc:
        raise ComicFileError(f"{os.path.basename(path)} cannot be opened: "
                             f"{exc.strerror or exc}") from None
    if pages == 0:
        raise ComicFileError(f"{os.path.basename(path)} has no pages")
    return {"format": fmt, "pages": pages, "has_comicinfo": has_comicinfo}


def convert_to_cbz(source: str, target: str, cache_dir: str | None = None) -> dict:
    """Write the pages and metadata files of any comic as a new CBZ at
    ``target``. Pages are stored, not recompressed: images are compressed
    already, and a stored page can be served as a byte range."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    partial = target + ".partial"
    try:
        with open_archive(source, cache_dir) as archive:
            pages = archive.pages()
            metadata = archive.find_metadata()
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as out:
                for page in pages:
                    out.writestr(page.name, archive.read_entry(page.name))
                for name, data in metadata.items():
                    out.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    except ArchiveError as exc:
        Path(partial).unlink(missing_ok=True)
        raise ComicFileError(f"{os.path.basename(source)} cannot be converted: {exc}") from None
    os.replace(partial, target)
    return {"pages": len(pages)}


def embed_comicinfo(source: str, target: str, comicinfo: bytes) -> dict:
    """A copy of the CBZ ``source`` at ``target`` whose ComicInfo.xml is
    ``comicinfo``; returns ``{"entries", "bytes"}`` of the copy.

    Every other entry keeps its compressed bytes, CRC, name bytes, comment
    and attributes, and the zip comment (where ComicBookInfo lives) is kept:
    no page is decompressed or recompressed. Each entry gets a fresh local
    header written from the central directory's facts, so what the source's
    local headers or data descriptors say (often wrong in the wild) never
    matters, and the copy holds nothing but the entries. Any old
    ComicInfo.xml, at the root or in a folder, is dropped so readers cannot
    pick a stale one; the new one is the last entry, so every page before it
    keeps its offset.

    ``source`` is only read; ``target`` appears complete or not at all.
    """
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    partial = target + ".partial"
    try:
        with open(source, "rb") as raw, open(partial, "wb") as out:
            entries = _read_directory(raw, source)
            comment = entries.comment
            written = [_copy_entry(raw, entry, out, source) for entry in entries.kept]
            written.append(_write_new_entry(out, "ComicInfo.xml", comicinfo, entries.newest))
            _write_directory(out, written, comment)
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        _check_written(partial, written)
        shutil.copymode(source, partial)  # a library file keeps its permissions
    except ComicFileError:
        Path(partial).unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, OSError, ValueError, struct.error, EOFError) as exc:
        Path(partial).unlink(missing_ok=True)
        raise ComicFileError(f"{os.path.basename(source)}: ComicInfo.xml not written: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
    os.replace(partial, target)
    return {"entries": len(written), "bytes": size}


# -- a zip writer that copies entries as they are ---------------------------------
#
# zipfile cannot append an entry's raw compressed bytes, and copying a whole
# local header block means trusting the source's local headers (and guessing
# where a data descriptor ends). So the zip is rewritten here from the
# central directory: APPNOTE.TXT 4.3.7 (local header), 4.3.12 (central
# header), 4.3.14-16 (zip64 end records), 4.5.3 (zip64 extra field).

_LOCAL = struct.Struct("<4s5H3L2H")        # signature .. name length, extra length
_CENTRAL = struct.Struct("<4s6H3L5H2L")    # signature .. external attributes, offset
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP64_EXTRA = 0x0001
# Values at or above these go into zip64 records (module constants so the
# tests can write real zip64 archives without gigabytes of data).
ZIP64_LIMIT = 0xFFFFFFFF
ZIP64_COUNT_LIMIT = 0xFFFF
_COPY_CHUNK = 1 << 20
_ENCRYPTED = 0x0001
_DATA_DESCRIPTOR = 0x0008
_UTF8_NAME = 0x0800


@dataclass
class _Entry:
    """One entry as the central directory describes it (raw bytes, not the
    decoded name, so nothing is re-encoded differently)."""

    name: bytes
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    compress_size: int
    file_size: int
    offset: int
    local_extra: bytes = b""
    central_extra: bytes = b""
    comment: bytes = b""
    create_version: int = 20
    create_system: int = 3
    extract_version: int = 20
    internal_attr: int = 0
    external_attr: int = 0


@dataclass
class _Directory:
    kept: list
    comment: bytes
    newest: tuple[int, int]


def _read_directory(raw, source: str) -> _Directory:
    """The entries to copy (all but every ComicInfo.xml) and the zip comment."""
    with zipfile.ZipFile(raw) as zin:
        infos = zin.infolist()
        comment = zin.comment
    kept = []
    newest = ((1 << 5) | 1, 0)  # (DOS date, DOS time) of 1980-01-01 00:00
    for info in infos:
        if info.flag_bits & _ENCRYPTED:
            raise ComicFileError(f"{os.path.basename(source)} has password-protected entries: "
                                 "ComicInfo.xml not written")
        name = info.orig_filename.encode("utf-8" if info.flag_bits & _UTF8_NAME else "cp437")
        year, month, day, hour, minute, second = info.date_time
        entry = _Entry(
            name=name, flags=info.flag_bits & ~_DATA_DESCRIPTOR, method=info.compress_type,
            dos_time=(hour << 11) | (minute << 5) | (second // 2),
            dos_date=((year - 1980) << 9) | (month << 5) | day,
            crc=info.CRC, compress_size=info.compress_size, file_size=info.file_size,
            offset=info.header_offset, central_extra=_without_zip64(info.extra),
            comment=info.comment, create_version=info.create_version,
            create_system=info.create_system, extract_version=info.extract_version,
            internal_attr=info.internal_attr, external_attr=info.external_attr)
        newest = max(newest, (entry.dos_date, entry.dos_time))
        if os.path.basename(info.filename.replace("\\", "/")).lower() == "comicinfo.xml":
            continue
        kept.append(entry)
    return _Directory(kept, comment, (newest[1], newest[0]))


def _copy_entry(raw, entry: _Entry, out, source: str) -> _Entry:
    """Append ``entry``'s data to ``out`` behind a new local header; return
    the entry as it now stands in ``out``."""
    raw.seek(entry.offset)
    header = raw.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != _LOCAL_SIGNATURE:
        raise ComicFileError(f"{os.path.basename(source)}: the entry "
                             f"{entry.name.decode('utf-8', 'replace')!r} has no local header "
                             "where the central directory says: ComicInfo.xml not written")
    name_length, extra_length = _LOCAL.unpack(header)[-2:]
    raw.seek(name_length, os.SEEK_CUR)
    local_extra = _without_zip64(raw.read(extra_length))
    copied = _Entry(**{**vars(entry), "offset": out.tell(), "local_extra": local_extra})
    out.write(_local_header(copied))
    remaining = entry.compress_size
    crc = 0
    stored = entry.method == zipfile.ZIP_STORED
    while remaining:
        chunk = raw.read(min(remaining, _COPY_CHUNK))
        if not chunk:
            raise ComicFileError(f"{os.path.basename(source)} is truncated inside "
                                 f"{entry.name.decode('utf-8', 'replace')!r}: "
                                 "ComicInfo.xml not written")
        if stored:  # free to check while copying: a stored entry's bytes are its content
            crc = zlib.crc32(chunk, crc)
        out.write(chunk)
        remaining -= len(chunk)
    if stored and crc != entry.crc:
        raise ComicFileError(f"{os.path.basename(source)}: the entry "
                             f"{entry.name.decode('utf-8', 'replace')!r} is damaged (CRC "
                             "mismatch): ComicInfo.xml not written")
    return copied


def _write_new_entry(out, name: str, data: bytes, when: tuple[int, int]) -> _Entry:
    """A deflated entry. Its time is the archive's newest entry's, so tagging
    twice with the same XML gives the same file (and the same archive id)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    entry = _Entry(name=name.encode("ascii"), flags=0, method=zipfile.ZIP_DEFLATED,
                   dos_time=when[0], dos_date=when[1], crc=zlib.crc32(data),
                   compress_size=len(packed), file_size=len(data), offset=out.tell(),
                   create_system=3, external_attr=(0o100644 << 16))
    out.write(_local_header(entry))
    out.write(packed)
    return entry


def _local_header(entry: _Entry) -> bytes:
    zip64 = entry.file_size >= ZIP64_LIMIT or entry.compress_size >= ZIP64_LIMIT
    extra = entry.local_extra
    sizes = (entry.compress_size, entry.file_size)
    if zip64:
        extra = struct.pack("<2H2Q", _ZIP64_EXTRA, 16, entry.file_size,
                            entry.compress_size) + extra
        sizes = (0xFFFFFFFF, 0xFFFFFFFF)
    return _LOCAL.pack(_LOCAL_SIGNATURE, _version(entry, zip64), entry.flags, entry.method,
                       entry.dos_time, entry.dos_date, entry.crc, *sizes, len(entry.name),
                       len(extra)) + entry.name + extra


def _central_header(entry: _Entry) -> bytes:
    values, sizes, offset = [], (entry.compress_size, entry.file_size), entry.offset
    if entry.file_size >= ZIP64_LIMIT:
        values.append(entry.file_size)
        sizes = (sizes[0], 0xFFFFFFFF)
    if entry.compress_size >= ZIP64_LIMIT:
        values.append(entry.compress_size)
        sizes = (0xFFFFFFFF, sizes[1])
    if entry.offset >= ZIP64_LIMIT:
        values.append(entry.offset)
        offset = 0xFFFFFFFF
    extra = entry.central_extra
    if values:
        extra = struct.pack(f"<2H{len(values)}Q", _ZIP64_EXTRA, 8 * len(values), *values) + extra
    return _CENTRAL.pack(
        b"PK\x01\x02", (entry.create_system << 8) | (entry.create_version & 0xFF),
        _version(entry, bool(values)), entry.flags, entry.method, entry.dos_time,
        entry.dos_date, entry.crc, *sizes, len(entry.name), len(extra), len(entry.comment), 0,
        entry.internal_attr, entry.external_attr, offset,
    ) + entry.name + extra + entry.comment


def _version(entry: _Entry, zip64: bool) -> int:
    return max(entry.extract_version, 45 if zip64 else 20 if entry.method else 10)


def _write_directory(out, entries: list[_Entry], comment: bytes) -> None:
    start = out.tell()
    for entry in entries:
        out.write(_central_header(entry))
    end = out.tell()
    size, count = end - start, len(entries)
    if count >= ZIP64_COUNT_LIMIT or size >= ZIP64_LIMIT or start >= ZIP64_LIMIT:
        out.write(_END64.pack(b"PK\x06\x06", _END64.size - 12, 45, 45, 0, 0, count, count,
                              size, start))
        out.write(_END64_LOCATOR.pack(b"PK\x06\x07", 0, end, 1))
        count, size, start = (min(count, 0xFFFF), min(size, 0xFFFFFFFF),
                              min(start, 0xFFFFFFFF))
    out.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, size, start, len(comment))
              + comment)


def _without_zip64(extra: bytes) -> bytes:
    """An extra field without its zip64 record (rewritten to fit the copy).
    One that does not parse is dropped whole rather than copied broken."""
    kept, position = [], 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, position)
        end = position + 4 + length
        if end > len(extra):
            return b""
        if kind != _ZIP64_EXTRA:
            kept.append(extra[position:end])
        position = end
    return b"".join(kept) if position == len(extra) else b""


def _check_written(path: str, entries: list[_Entry]) -> None:
    """Read the copy back as a zip reader does: the same entries, each local
    header where the directory says, naming that entry."""
    with zipfile.ZipFile(path) as written, open(path, "rb") as raw:
        infos = written.infolist()
        if len(infos) != len(entries):
            raise ComicFileError(f"the rewritten zip lists {len(infos)} entries, not "
                                 f"{len(entries)}: ComicInfo.xml not written")
        for info, entry in zip(infos, entries):
            raw.seek(info.header_offset)
            header = _LOCAL.unpack(raw.read(_LOCAL.size))
            name = raw.read(header[-2])
            if (header[0] != _LOCAL_SIGNATURE or name != entry.name
                    or (info.CRC, info.compress_size, info.file_size)
                    != (entry.crc, entry.compress_size, entry.file_size)):
                raise ComicFileError(f"the rewritten zip does not read back as written "
                                     f"({entry.name.decode('utf-8', 'replace')!r}): "
                                     "ComicInfo.xml not written")


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
