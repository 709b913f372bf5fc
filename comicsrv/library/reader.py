"""Reading one comic file into a plain record for the catalogue.

Flask-free and database-free, and its result pickles, so it can run in a
worker process. It reads only what indexing needs: the entry list and the
metadata files (for a zip, the central directory and ComicInfo.xml), never
the pages.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from ..archives import ArchiveError, open_archive
from ..comicinfo import ComicMetadata, MetadataError, parse_metadata
from ..filenames import ParsedName, parse_filename

# LANraragi's archive id: SHA-1 of the first 512,000 bytes of the file.
ARCID_BYTES = 512_000


@dataclass(slots=True)
class PageRecord:
    index: int
    name: str
    size: int | None
    compressed_size: int | None
    data_offset: int | None
    width: int | None = None
    height: int | None = None


@dataclass(slots=True)
class ScannedFile:
    path: str
    size: int
    mtime: float
    format: str | None = None
    pages: list[PageRecord] = field(default_factory=list)
    metadata: ComicMetadata | None = None
    metadata_error: str | None = None
    parsed: ParsedName | None = None
    # Set when the file cannot be read as a comic; the book is recorded as
    # errored with this reason and the scan goes on.
    error: str | None = None
    error_reason: str | None = None
    arcid: str | None = None


def compute_arcid(path: str) -> str:
    """The archive id of a file, or of a folder book (its sorted entries)."""
    digest = hashlib.sha1()
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            digest.update(name.encode("utf-8", "surrogateescape"))
            digest.update(str(os.path.getsize(os.path.join(path, name))).encode())
        return digest.hexdigest()
    with open(path, "rb") as fh:
        digest.update(fh.read(ARCID_BYTES))
    return digest.hexdigest()


def compute_koreader_hash(path: str) -> str | None:
    """KOReader's document id of a file (its ``util.partialMD5``, what the
    kosync plugin sends as ``document``): the MD5 of 1 KiB read at offset 0
    and at 1 KiB << 2i for i = 0..10 (1 KiB, 4 KiB, ... 1 GiB), stopping at
    the end of the file. None for a folder book (KOReader opens files only)."""
    if os.path.isdir(path):
        return None
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for i in range(-1, 11):
            # LuaJIT's lshift(1024, -2) shifts by 30 (mod 32) and overflows to 0.
            fh.seek(0 if i < 0 else 1024 << (2 * i))
            sample = fh.read(1024)
            if not sample:
                break
            digest.update(sample)
    return digest.hexdigest()


def read_comic(path: str, size: int, mtime: float, cache_dir: str | None = None,
               with_arcid: bool = False) -> ScannedFile:
    name = os.path.basename(path.rstrip(os.sep))
    result = ScannedFile(path=path, size=size, mtime=mtime, parsed=parse_filename(name))
    try:
        with open_archive(path, cache_dir) as archive:
            result.format = archive.format
            result.pages = [PageRecord(p.index, p.name, p.size, p.compressed_size, p.data_offset)
                            for p in archive.pages()]
            files = archive.find_metadata()
            comment = archive.comment
    except ArchiveError as exc:
        result.error = str(exc)
        result.error_reason = getattr(exc, "reason", type(exc).__name__)
        return result
    except OSError as exc:
        result.error = f"cannot read the file: {exc.strerror or exc}"
        result.error_reason = "io_error"
        return result
    if files or comment:
        try:
            result.metadata = parse_metadata(files, comment)
        except MetadataError as exc:
            result.metadata_error = str(exc)
    if result.metadata is not None and result.metadata.pages:
        _apply_page_sizes(result)
        # Used up: not worth pickling back from a worker process.
        result.metadata.pages = []
    if with_arcid:
        result.arcid = compute_arcid(path)
    return result


def read_batch(stats: list[tuple[str, int, float]], cache_dir: str | None) -> list[ScannedFile]:
    """Read several files: one task per batch keeps process-pool overhead low."""
    return [read_comic(path, size, mtime, cache_dir) for path, size, mtime in stats]


def _apply_page_sizes(result: ScannedFile) -> None:
    """ComicInfo's <Pages> often carries each image's size: use it when it
    lines up with the pages found, so clients get dimensions without the
    server decoding a single image."""
    info = {p.get("image"): p for p in result.metadata.pages if p.get("image") is not None}
    if len(info) != len(result.pages):
        return
    for page in result.pages:
        entry = info.get(page.index)
        if entry:
            page.width, page.height = entry.get("width"), entry.get("height")
