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
from typing import BinaryIO

from ..archives import ArchiveError, open_archive
from ..comicinfo import ComicMetadata, MetadataError, parse_metadata
from ..filenames import ParsedName, parse_filename
from ..fspaths import display
from . import spans

# LANraragi's archive id: SHA-1 of the first 512,000 bytes of the file.
ARCID_BYTES = 512_000


# One page as the catalogue stores it, its book's id aside (the columns of
# ``catalog.PAGE_COLUMNS`` after ``book_id``): index, name as shown, size,
# compressed size, data offset, width, height, media type. A plain tuple,
# built where the file is read: a scan sends ~20 per file back from its
# reader processes, and a tuple pickles and unpickles 7x faster than an
# object (a slotted dataclass was 1.6 s of CPU at 10,000 files).
PageRow = tuple[int, str, int | None, int | None, int | None, int | None, int | None, str | None]


@dataclass(slots=True)
class ScannedFile:
    path: str
    size: int
    mtime: float
    format: str | None = None
    pages: list[PageRow] = field(default_factory=list)
    # The stored pages' byte ranges (``spans.encode``), for ``books.page_spans``.
    page_spans: bytes | None = None
    metadata: ComicMetadata | None = None
    metadata_error: str | None = None
    parsed: ParsedName | None = None
    # Set when the file cannot be read as a comic; the book is recorded as
    # errored with this reason and the scan goes on.
    error: str | None = None
    error_reason: str | None = None
    arcid: str | None = None
    koreader_hash: str | None = None


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
    with open(path, "rb") as fh:
        return _koreader_hash(fh)


def _koreader_hash(fh: BinaryIO, head: bytes = b"") -> str:
    """``compute_koreader_hash`` of an open file, taking the samples that
    lie in ``head`` (the file's first ``ARCID_BYTES``, or all of it if
    shorter) from there instead of reading them again."""
    digest = hashlib.md5(usedforsecurity=False)
    whole = bool(head) and len(head) < ARCID_BYTES
    for i in range(-1, 11):
        # LuaJIT's lshift(1024, -2) shifts by 30 (mod 32) and overflows to 0.
        offset = 0 if i < 0 else 1024 << (2 * i)
        if whole or offset + 1024 <= len(head):
            sample = head[offset:offset + 1024]
        else:
            fh.seek(offset)
            sample = fh.read(1024)
        if not sample:
            break
        digest.update(sample)
    return digest.hexdigest()


def compute_ids(path: str, size: int | None = None,
                mtime: float | None = None) -> tuple[str, str | None] | None:
    """The archive id and KOReader hash of a file, reading its first 512 KB
    once for both. With ``size`` and ``mtime``, None if the file no longer
    has them: what was hashed would not be the content the catalogue
    describes, and the next scan reads the file again anyway."""
    if os.path.isdir(path):
        return compute_arcid(path), None
    with open(path, "rb") as fh:
        if size is not None and mtime is not None:
            stat = os.fstat(fh.fileno())
            if stat.st_size != size or abs(stat.st_mtime - mtime) >= 1e-6:
                return None
        head = fh.read(ARCID_BYTES)
        return hashlib.sha1(head).hexdigest(), _koreader_hash(fh, head)


def read_comic(path: str, size: int, mtime: float, cache_dir: str | None = None,
               with_arcid: bool = False) -> ScannedFile:
    """The file as the catalogue records it; with ``with_arcid`` its archive
    id and KOReader hash too, unreadable files included (left None when
    the file is gone by then: the scan's hashing pass fills them in)."""
    result = _read(path, size, mtime, cache_dir)
    if with_arcid:
        try:
            ids = compute_ids(path)
        except OSError:
            ids = None
        if ids is not None:
            result.arcid, result.koreader_hash = ids
    return result


def _read(path: str, size: int, mtime: float, cache_dir: str | None) -> ScannedFile:
    name = os.path.basename(path.rstrip(os.sep))
    result = ScannedFile(path=path, size=size, mtime=mtime, parsed=parse_filename(name))
    try:
        with open_archive(path, cache_dir) as archive:
            result.format = archive.format
            pages = archive.pages()
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
    sizes = _page_sizes(result.metadata, len(pages))
    # A tar's names that are not UTF-8 come as surrogates too; a page is
    # read by its index, so the shown name is enough.
    result.pages = [(p.index, display(p.name)[:2048], p.size, p.compressed_size, p.data_offset,
                     *sizes.get(p.index, _NO_SIZE), _media_type(p.name)) for p in pages]
    result.page_spans = spans.encode((p.data_offset, p.size)
                                     for p in sorted(pages, key=lambda p: p.index))
    if result.metadata is not None:
        # Used up: not worth pickling back from a worker process.
        result.metadata.pages = []
    return result


def read_batch(stats: list[tuple[str, int, float, bool]],
               cache_dir: str | None) -> list[ScannedFile]:
    """Read several files, each ``(path, size, mtime, hash it)``: one task
    per batch keeps process-pool overhead low. A file the scan needs the
    archive id of now (a changed file, whose old id becomes an alias) is
    hashed here, while it is in the page cache; a new file is hashed after
    the scan (``archive_ids``) when there are many."""
    return [read_comic(path, size, mtime, cache_dir, with_arcid)
            for path, size, mtime, with_arcid in stats]


_NO_SIZE = (None, None)


def _page_sizes(metadata: ComicMetadata | None, count: int) -> dict[int, tuple]:
    """ComicInfo's <Pages> often carries each image's size: ``{index:
    (width, height)}`` when it lines up with the ``count`` pages found, so
    clients get dimensions without the server decoding a single image."""
    if metadata is None or not metadata.pages:
        return {}
    info = {p.get("image"): p for p in metadata.pages if p.get("image") is not None}
    if len(info) != count:
        return {}
    return {index: (entry.get("width"), entry.get("height")) for index, entry in info.items()}


_MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif",
                ".jxl": "image/jxl", ".bmp": "image/bmp", ".tif": "image/tiff",
                ".tiff": "image/tiff"}


def _media_type(name: str) -> str | None:
    return _MEDIA_TYPES.get("." + name.rpartition(".")[2].lower())
