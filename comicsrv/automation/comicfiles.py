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
_LOCAL_HEADER = struct.Struct("<4s26xHH")
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"


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


def find_comics(root: str, extract_dir: str, cache_dir: str | None = None) -> tuple[list[FoundFile], list[str]]:
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


def embed_comicinfo(source: str, target: str, comicinfo: bytes) -> None:
    """A copy of the CBZ ``source`` at ``target`` whose ComicInfo.xml is
    ``comicinfo``. Every other entry is copied as its raw compressed bytes:
    no page is decompressed or recompressed. Any old ComicInfo.xml is dropped
    so readers cannot pick a stale one."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    partial = target + ".partial"
    try:
        with zipfile.ZipFile(source) as zin, open(source, "rb") as raw, \
                zipfile.ZipFile(partial, "w") as zout:
            for info in zin.infolist():
                if os.path.basename(info.filename.replace("\\", "/")).lower() == "comicinfo.xml":
                    continue
                if info.flag_bits & 0x800 or info.filename.isascii():
                    _copy_raw(raw, info, zout)
                else:
                    # A legacy (cp437) name would differ between the copied
                    # local header and the new central directory: rewrite it.
                    zout.writestr(_clone(info), zin.read(info), info.compress_type)
            zout.writestr(zipfile.ZipInfo("ComicInfo.xml", date_time=(2020, 1, 1, 0, 0, 0)),
                          comicinfo, zipfile.ZIP_DEFLATED)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        Path(partial).unlink(missing_ok=True)
        raise ComicFileError(f"{os.path.basename(source)}: ComicInfo.xml not written: {exc}") from None
    os.replace(partial, target)


def _copy_raw(raw, info: zipfile.ZipInfo, zout: zipfile.ZipFile) -> None:
    """Append one entry to ``zout`` exactly as it is stored in the source."""
    raw.seek(info.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        raise ValueError(f"bad local header for {info.filename!r}")
    length = _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
    raw.seek(info.header_offset)
    block = raw.read(length)
    if info.flag_bits & 0x08:  # a data descriptor follows the data
        following = raw.read(4)
        zip64 = info.compress_size > 0xFFFFFFFF or info.file_size > 0xFFFFFFFF
        rest = 20 if zip64 else 12
        if following == _DESCRIPTOR_SIGNATURE:
            block += following + raw.read(rest)
        else:
            block += following + raw.read(rest - 4)
    copied = _clone(info)
    copied.header_offset = zout.fp.tell()
    zout.fp.write(block)
    zout.filelist.append(copied)
    zout.NameToInfo[copied.filename] = copied
    zout.start_dir = zout.fp.tell()


def _clone(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copied = zipfile.ZipInfo(info.filename, info.date_time)
    for attr in ("compress_type", "comment", "extra", "create_system", "create_version",
                 "extract_version", "reserved", "flag_bits", "volume", "internal_attr",
                 "external_attr", "CRC", "compress_size", "file_size"):
        setattr(copied, attr, getattr(info, attr))
    copied.orig_filename = info.orig_filename
    return copied


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
