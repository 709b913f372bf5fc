"""The format-independent part of every comic archive reader.

A backend only lists its file entries (as :class:`Member`) and knows how to read
one of them.  Everything a comic server cares about on top of that lives here
once, so it behaves the same for every format: which entries are pages and in
what order, where the metadata files are, which names are unsafe, and the
decompression-bomb guards.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from .errors import EntryNotFoundError, UnsafeArchiveError

MiB = 1024 * 1024
GiB = 1024 * MiB

#: Page detection is by extension only: sniffing every entry would mean
#: decompressing it, which a scanner listing thousands of archives cannot afford.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".jxl", ".bmp", ".tif", ".tiff"}
)

#: Metadata file base names (case-folded) mapped to the key ``find_metadata`` returns.
METADATA_FILES = {
    "comicinfo.xml": "ComicInfo.xml",
    "metroninfo.xml": "MetronInfo.xml",
    "comet.xml": "CoMet.xml",
}

_IMAGE_SUFFIXES = tuple(IMAGE_EXTENSIONS)
_METADATA_SUFFIXES = tuple(METADATA_FILES)
_JUNK_BASENAMES = frozenset({"thumbs.db", "desktop.ini"})
_SEPARATORS = re.compile(r"[\\/]")
_DIGITS = re.compile(r"[0-9]+")
_DRIVE = re.compile(r"^[A-Za-z]:")
_NUMBER_WIDTH = 20


@dataclass(frozen=True, slots=True)
class PageEntry:
    """One page of a comic, as listed (nothing is decompressed to build it).

    ``data_offset`` is set only when the page's bytes lie verbatim in the archive
    file (a stored, unencrypted zip entry or a member of an uncompressed tar):
    the server can then answer with a byte range of the file instead of reading
    the page through Python.
    """

    index: int
    name: str
    size: int | None
    compressed_size: int | None
    data_offset: int | None = None


@dataclass(frozen=True, slots=True)
class ArchiveFacts:
    """What the scanner records about an archive besides its pages.

    ``sub_format`` tells apart variants that need different tools or behave
    differently: ``zip``, ``rar4``, ``rar5``, ``7z``, ``tar``, ``tar.gz``,
    ``tar.bz2``, ``tar.xz``, ``pdf-1.7``, ``folder``.  ``entry_count`` counts file
    entries (directories excluded), pages or not.
    """

    format: str
    sub_format: str
    solid: bool
    entry_count: int
    has_comment: bool
    volumes: int = 1


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Guards against decompression bombs and runaway tools.

    Every limit is judged on the sizes the archive declares, when it is
    opened: an archive whose pages or metadata files hold a bomb is refused
    whole, like one with a traversal name, so the scanner records it as unsafe
    instead of listing a book whose pages explode when read (other entries,
    which nothing reads but :meth:`ComicArchive.read_entry`, are judged when
    read).  Every backend also stops reading an entry at its declared size, so
    a header that lies about the size cannot expand further.  The ratio is
    only judged above ``ratio_floor`` because small text files (ComicInfo.xml)
    legitimately compress well; comic pages are already compressed images and
    sit near 1:1.
    """

    max_entries: int = 100_000
    max_total_size: int = 16 * GiB
    max_entry_size: int = 512 * MiB
    max_ratio: float = 200.0
    ratio_floor: int = 1 * MiB
    tool_timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class Member:
    """A file entry as a backend lists it; ``ref`` is the backend's own handle."""

    name: str
    size: int | None
    compressed_size: int | None
    ref: Any = field(default=None, compare=False, repr=False)


def name_parts(name: str) -> list[str]:
    """Path components of an entry name; archives made on Windows use backslashes."""
    return [part for part in _SEPARATORS.split(name) if part and part != "."]


def natural_key(name: str) -> tuple[str, str]:
    """Sort key giving natural, case-insensitive order: ``page2`` before ``page10``.

    Digit runs are zero-padded rather than split into int/str tokens, so a
    punctuation prefix still compares as a character: ``!cover.jpg`` sorts before
    ``00.jpg``, the order readers and ComicTagger expect.  The raw name breaks
    ties (``01.jpg`` vs ``1.jpg``) so the order is total and stable.
    """
    padded = _DIGITS.sub(lambda match: match.group().zfill(_NUMBER_WIDTH), name)
    return padded.casefold(), name


def basename(name: str) -> str:
    """Last component of an entry name, whichever separator the archiver used."""
    return name[max(name.rfind("/"), name.rfind("\\")) + 1 :]


def is_junk(name: str) -> bool:
    """True for OS droppings: ``__MACOSX/``, dot files and dot folders, ``Thumbs.db``."""
    base = basename(name)
    if not base or base.startswith(".") or base.casefold() in _JUNK_BASENAMES:
        return True
    folder = name[: len(name) - len(base)]
    if "." not in folder and "__MACOSX" not in folder:  # the common case, without splitting
        return False
    return any(part == "__MACOSX" or part.startswith(".") for part in name_parts(folder))


def is_page_name(name: str) -> bool:
    """True if an entry is listed as a page: an image extension and not junk."""
    return name.casefold().endswith(_IMAGE_SUFFIXES) and not is_junk(name)


def is_metadata_name(name: str) -> bool:
    """True for an entry :meth:`ComicArchive.find_metadata` may read (any folder, any case)."""
    return (
        name.casefold().endswith(_METADATA_SUFFIXES)
        and basename(name).casefold() in METADATA_FILES
        and not is_junk(name)
    )


def check_member_name(name: str, path: Path) -> None:
    """Refuse names that would escape a directory if anyone ever extracted them."""
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"entry with an invalid name {name!r}", path=path)
    if name[0] in "/\\" or _DRIVE.match(name):
        raise UnsafeArchiveError(f"entry with an absolute path {name!r}", path=path)
    if ".." in name and ".." in name_parts(name):
        raise UnsafeArchiveError(f"entry {name!r} points outside the archive", path=path)


class ComicArchive(ABC):
    """A comic archive opened for reading; use :func:`comicsrv.archives.open_archive`.

    Instances are cheap to open (only the directory of the archive is read) and
    are closed with :meth:`close` or a ``with`` block.
    """

    format: ClassVar[str]

    def __init__(
        self, path: Path, *, sub_format: str, limits: ArchiveLimits, cache_dir: Path
    ) -> None:
        self.path = path
        self.sub_format = sub_format
        self.limits = limits
        self.cache_dir = cache_dir
        self._members: dict[str, Member] = {}
        self._total_size = 0
        self._pages: list[PageEntry] | None = None
        self._closed = False

    # -- what a backend provides ------------------------------------------------

    @property
    @abstractmethod
    def facts(self) -> ArchiveFacts:
        """Format details for the scanner; never decompresses anything."""

    @abstractmethod
    def _read(self, member: Member) -> bytes:
        """Return the bytes of a member whose declared sizes already passed the bomb guards."""

    @abstractmethod
    def _close(self) -> None:
        """Release file handles and temporary files."""

    def _data_offset(self, member: Member) -> int | None:
        """Absolute offset of a member's verbatim bytes in the archive file, if any."""
        return None

    @property
    def comment(self) -> bytes | None:
        """The archive comment (zip and RAR), where ComicBookInfo JSON lives."""
        return None

    # -- listing ---------------------------------------------------------------

    def _add_member(self, member: Member) -> None:
        """Register a file entry, enforcing name safety and the bomb guards.

        Called while listing, so a bomb of declared sizes or entries is refused
        before the rest of a (possibly compressed) directory is even read.  A
        repeated name replaces the earlier entry, as extracting it would.
        """
        check_member_name(member.name, self.path)
        if len(self._members) >= self.limits.max_entries:
            raise UnsafeArchiveError(f"more than {self.limits.max_entries} entries", path=self.path)
        self._total_size += member.size or 0
        if self._total_size > self.limits.max_total_size:
            raise UnsafeArchiveError(
                f"declared uncompressed size exceeds {self.limits.max_total_size} bytes",
                path=self.path,
            )
        # Sizes first: they are cheap, and almost never absurd.
        reason = self._bomb(member)
        if reason and (is_page_name(member.name) or is_metadata_name(member.name)):
            raise UnsafeArchiveError(reason, path=self.path)
        self._members[member.name] = member

    def names(self) -> list[str]:
        """Every file entry (pages, metadata and anything else), in natural order."""
        return sorted(self._members, key=natural_key)

    def pages(self) -> list[PageEntry]:
        """The pages, in natural case-insensitive order of their full path.

        Non-images, directories and OS junk are skipped.  An archive with no
        pages returns ``[]``: whether that is a problem is the caller's call.
        """
        if self._pages is None:
            names = sorted((name for name in self._members if is_page_name(name)), key=natural_key)
            self._pages = [
                PageEntry(
                    index=index,
                    name=name,
                    size=self._members[name].size,
                    compressed_size=self._members[name].compressed_size,
                    data_offset=self._data_offset(self._members[name]),
                )
                for index, name in enumerate(names)
            ]
        return list(self._pages)

    # -- reading ---------------------------------------------------------------

    def read_entry(self, name: str) -> bytes:
        """Bytes of any file entry of this archive, found by its exact name."""
        if self._closed:
            raise ValueError("archive is closed")
        member = self._members.get(name)
        if member is None:
            raise EntryNotFoundError(f"no entry named {name!r}", path=self.path)
        reason = self._bomb(member)  # pages and metadata passed when listed; others now
        if reason:
            raise UnsafeArchiveError(reason, path=self.path)
        return self._read(member)

    def read_page(self, index_or_name: int | str) -> bytes:
        """Bytes of a page, by its 0-based index in :meth:`pages` or by its entry name."""
        pages = self.pages()
        if isinstance(index_or_name, str):
            if index_or_name not in self._members or not is_page_name(index_or_name):
                raise EntryNotFoundError(f"no page named {index_or_name!r}", path=self.path)
            return self.read_entry(index_or_name)
        if not 0 <= index_or_name < len(pages):
            raise EntryNotFoundError(
                f"no page {index_or_name} (the archive has {len(pages)})", path=self.path
            )
        return self.read_entry(pages[index_or_name].name)

    def find_metadata(self) -> dict[str, bytes]:
        """Metadata files found in the archive, keyed ``ComicInfo.xml``, ``MetronInfo.xml``, ``CoMet.xml``.

        Names match case-insensitively on the base name.  When a file occurs
        more than once, the one nearest the root wins (then natural order), the
        way ComicRack and Kavita resolve duplicates.
        """
        candidates = [name for name in self._members if is_metadata_name(name)]
        chosen: dict[str, str] = {}
        for name in sorted(candidates, key=lambda n: (len(name_parts(n)), natural_key(n))):
            chosen.setdefault(METADATA_FILES[basename(name).casefold()], name)
        return {key: self.read_entry(name) for key, name in chosen.items()}

    def _bomb(self, member: Member) -> str | None:
        """Why an entry's declared size or compression ratio is absurd, if it is."""
        size = member.size
        if size is None:
            return None
        if size > self.limits.max_entry_size:
            return (f"entry {member.name!r} declares {size} bytes, more than the "
                    f"{self.limits.max_entry_size} allowed")
        packed = member.compressed_size
        if (packed is not None and size >= self.limits.ratio_floor
                and size / max(packed, 1) > self.limits.max_ratio):
            return (f"entry {member.name!r} expands {size} bytes from {packed}: "
                    "compression ratio too high (decompression bomb?)")
        return None

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Release the archive; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {str(self.path)!r}>"
