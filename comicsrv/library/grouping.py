"""Where a book belongs: its series, publisher and volume.

Metadata wins; the folder layout fills the gaps, in the layout CLU's
filesystem mode browses: ``Publisher/Series/v1985/file.cbz``, and the filename
after that. Pure functions, table-tested.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from ..comicinfo import ComicMetadata
from ..filenames import ParsedName

_VOLUME_FOLDER = re.compile(r"^(?:v|vol\.?\s*|volume\s+)(\d{1,4})$", re.IGNORECASE)
_TRAILING_YEAR = re.compile(r"\s*[\(\[]((?:19|20)\d\d)[\)\]]\s*$")
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Placement:
    series: str
    publisher: str | None
    volume: int | None
    year: int | None


@dataclass(frozen=True, slots=True)
class FolderHints:
    publisher: str | None
    series: str | None
    volume: int | None
    year: int | None


def folder_hints(path: str, root: str) -> FolderHints:
    """Read publisher/series/volume from the folders between root and file."""
    return _hints_for_folder(os.path.dirname(path), root)


@lru_cache(maxsize=4096)
def _hints_for_folder(folder: str, root: str) -> FolderHints:
    # Cached: every file of a series folder asks the same question.
    parts = [p for p in os.path.relpath(folder, root).split(os.sep) if p not in ("", ".")]
    volume = None
    if parts and (match := _VOLUME_FOLDER.match(parts[-1])):
        volume = int(match.group(1))
        parts = parts[:-1]
    publisher = parts[0] if len(parts) >= 2 else None
    series, year = None, None
    if parts:
        series = parts[-1]
        if match := _TRAILING_YEAR.search(series):
            year = int(match.group(1))
            series = series[:match.start()].strip() or series
    return FolderHints(publisher, series, volume, year)


def place(path: str, root: str, metadata: ComicMetadata | None,
          parsed: ParsedName | None) -> Placement:
    hints = folder_hints(path, root)
    meta = metadata or ComicMetadata()
    series = (meta.series or (parsed.series if parsed else None) or hints.series
              or os.path.splitext(os.path.basename(path))[0])
    return Placement(
        series=series.strip(),
        publisher=(meta.publisher or hints.publisher or None),
        volume=meta.volume if meta.volume is not None else (
            hints.volume if hints.volume is not None else (parsed.volume if parsed else None)),
        year=meta.year or (parsed.year if parsed else None) or hints.year,
    )


def sort_name(name: str) -> str:
    """Case-insensitive, without a leading article: "The Boys" sorts as "boys"."""
    return _LEADING_ARTICLE.sub("", name.strip()).casefold()
