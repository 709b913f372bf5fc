"""Recognise an archive by its content, never by its extension.

Comic files are misnamed all the time: a ``.cbr`` that is really a zip (the
"rename to cbr" habit of early scanners), a ``.cbz`` that is a RAR, a ``.cbt``
that is an xz-compressed tar.  The first kilobyte is enough to tell them apart.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import CorruptArchiveError, UnsupportedFormatError

_HEAD_SIZE = 1024  # a PDF header may follow up to 1 KiB of junk

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_RAR5_MAGIC = b"Rar!\x1a\x07\x01\x00"
_RAR4_MAGIC = b"Rar!\x1a\x07\x00"
_7Z_MAGIC = b"7z\xbc\xaf\x27\x1c"
_COMPRESSED_TAR_MAGICS = (
    (b"\x1f\x8b", "tar.gz"),
    (b"BZh", "tar.bz2"),
    (b"\xfd7zXZ\x00", "tar.xz"),
)


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The reader to use (``format``) and the variant it will meet (``sub_format``)."""

    format: str
    sub_format: str


def sniff(path: Path) -> Sniffed:
    """Identify the archive at ``path``; a directory is a folder archive.

    Raises :class:`UnsupportedFormatError` for anything else and
    :class:`CorruptArchiveError` for an empty file (an interrupted download, not
    an unknown format).
    """
    if path.is_dir():
        return Sniffed("folder", "folder")
    with path.open("rb") as file:
        head = file.read(_HEAD_SIZE)
    if not head:
        raise CorruptArchiveError("the file is empty", path=path)
    if head.startswith(_ZIP_MAGICS):
        return Sniffed("cbz", "zip")
    if head.startswith(_RAR5_MAGIC):
        return Sniffed("cbr", "rar5")
    if head.startswith(_RAR4_MAGIC):
        return Sniffed("cbr", "rar4")
    if head.startswith(_7Z_MAGIC):
        return Sniffed("cb7", "7z")
    for magic, sub_format in _COMPRESSED_TAR_MAGICS:
        if head.startswith(magic):
            return Sniffed("cbt", sub_format)
    if _is_tar_header(head):
        # Before the PDF search below: a tar holding a PDF has "%PDF-" at 512.
        return Sniffed("cbt", "tar")
    if b"%PDF-" in head:
        return Sniffed("pdf", "pdf")
    # Last, and only for files nothing above matched: a zip with a prefix
    # (self-extracting stub, junk from a bad download tool) still has a valid
    # end-of-central-directory record, which zipfile finds from the end.
    if zipfile.is_zipfile(path):
        return Sniffed("cbz", "zip")
    raise UnsupportedFormatError("not a comic archive (zip, rar, 7z, tar or pdf)", path=path)


def _is_tar_header(head: bytes) -> bool:
    """True for a POSIX/GNU tar, and for an old v7 tar, which has no magic but a checksum."""
    if head[257:262] == b"ustar":
        return True
    if len(head) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(head[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True
