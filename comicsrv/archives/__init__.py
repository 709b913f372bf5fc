"""Read comic archives (CBZ, CBR, CB7, CBT, PDF and plain folders) behind one interface.

Typical use::

    with open_archive("Saga 001.cbz") as archive:
        pages = archive.pages()
        cover = archive.read_page(0)
        comicinfo = archive.find_metadata().get("ComicInfo.xml")

The reader is chosen from the file's content, not its name.  Opening reads only
what listing needs (a zip's central directory, a RAR's headers), so the
library scanner can afford it for every file.  This package depends on no
other part of comicsrv.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

from .base import ArchiveFacts, ArchiveLimits, ComicArchive, PageEntry, natural_key
from .errors import (
    ArchiveError,
    CorruptArchiveError,
    EmptyArchiveError,
    EncryptedArchiveError,
    EntryNotFoundError,
    MissingVolumeError,
    ToolMissingError,
    UnsafeArchiveError,
    UnsupportedFormatError,
)
from .sniff import sniff

__all__ = [
    "ArchiveError",
    "ArchiveFacts",
    "ArchiveLimits",
    "ComicArchive",
    "CorruptArchiveError",
    "EmptyArchiveError",
    "EncryptedArchiveError",
    "EntryNotFoundError",
    "MissingVolumeError",
    "PageEntry",
    "ToolMissingError",
    "UnsafeArchiveError",
    "UnsupportedFormatError",
    "default_cache_dir",
    "natural_key",
    "open_archive",
    "preload",
]

# Each backend is imported on first use: py7zr and PDFium are heavy to load
# (compression libraries, a native PDF engine), and most libraries never
# contain a CB7 or a PDF.  A server imports the light ones at start-up (see
# preload).
_BACKENDS = {
    "cbz": ("cbz", "ZipArchive"),
    "cbr": ("cbr", "RarArchive"),
    "cb7": ("cb7", "SevenZipArchive"),
    "cbt": ("cbt", "TarArchive"),
    "pdf": ("pdf", "PdfArchive"),
    "folder": ("folder", "FolderArchive"),
}


#: Readers a server imports when a first archive of theirs is opened, not at
#: start: PDFium (~3.5 MB) and py7zr with pycryptodome (~2.4 MB) are memory a
#: library without PDFs or CB7s never needs.
_IMPORTED_ON_USE = frozenset({"pdf", "cb7"})


def _reader(fmt: str) -> type[ComicArchive]:
    from . import tools

    module, name = _BACKENDS[fmt]
    return getattr(tools.import_module(f"{__name__}.{module}"), name)


def preload() -> None:
    """Make every reader ready for a server: call it once, from the main thread, at start-up.

    Under gevent, archive work runs on native threads, where starting a
    process fails, and the RAR readers start ``unar`` and ``bsdtar`` when
    imported.  So :mod:`.tools` learns which hub starts processes, and the
    light backends are imported here, in the hub's thread; the heavy ones
    (``_IMPORTED_ON_USE``) are imported through the hub on first use
    (``tools.import_module``: py7zr's pycryptodome may run ``file``).
    Elsewhere (the CLI, scan worker processes) it only imports.
    """
    from . import tools

    tools.bind_gevent_hub()
    for module, _ in _BACKENDS.values():
        if module in _IMPORTED_ON_USE:
            continue
        importlib.import_module(f".{module}", __name__)


def default_cache_dir() -> Path:
    """Where readers that must extract (solid RAR) make their private temp dirs."""
    return Path(tempfile.gettempdir()) / "comicsrv-archives"


def open_archive(
    path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    limits: ArchiveLimits | None = None,
) -> ComicArchive:
    """Open a comic archive or a folder of images for reading.

    ``cache_dir`` is the only place anything is ever written (a private
    directory per archive, removed on close), and only when a format forces
    extraction.  Raises an :class:`ArchiveError` subclass for any problem with
    the archive itself, and ``OSError`` if the path cannot be opened at all.
    """
    archive_path = Path(path)
    sniffed = sniff(archive_path)
    return _reader(sniffed.format)(
        archive_path,
        sub_format=sniffed.sub_format,
        limits=limits or ArchiveLimits(),
        cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(),
    )
