"""Release names from indexers and feeds, parsed into what matching needs.

Built on :mod:`comicsrv.filenames` (the same parser the scanner uses for file
names); this module only adds what release titles have and file names do not:
usenet subjects with the file name in quotes (``"Saga 054 (2018).cbr" yEnc``),
the format as a tag (``[CBR]``), scene names with dots and a trailing group,
and year-numbered annuals (``Amazing Spider-Man Annual 2019``).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..filenames import normalize_series, number_sort, parse_filename

# Comic formats a release may name, as a file extension or a tag.
FORMATS = ("cbz", "cbr", "cb7", "cbt", "pdf", "epub")
_FORMAT_ALIASES = {"zip": "cbz", "rar": "cbr", "7z": "cb7", "tar": "cbt"}
# Descriptive tags worth keeping, lower-cased: where a scan came from and how.
KNOWN_TAGS = frozenset({
    "digital", "webrip", "web", "c2c", "ctc", "noads", "no ads", "hd", "hq", "scan",
    "fixed", "repaired", "f", "f1", "f2", "fcbd", "rebirth", "variant", "2 covers",
})
_QUOTED_RE = re.compile(r'"([^"]+)"')
_ANNUAL_TAIL_RE = re.compile(r"^(.*?)\s+annual(?:\s+(\d{4}))?$", re.IGNORECASE)
_COVERS_RE = re.compile(r"^\d+ covers?$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedRelease:
    """What a release title says: ``number`` as written ("054", "1.MU") and
    ``number_sort`` its value (54.0); ``format`` a comic format ("cbz") when
    the title names one; ``tags`` the lower-cased descriptive tags
    ("digital", "c2c")."""

    title: str
    series: str
    series_key: str
    number: str | None = None
    number_sort: float | None = None
    volume: int | None = None
    year: int | None = None
    format: str | None = None
    annual: bool = False
    special: bool = False
    book_format: str | None = None
    issue_count: int | None = None
    scan_group: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def digital(self) -> bool:
        return "digital" in self.tags or "webrip" in self.tags or "web" in self.tags

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data


def _name_part(title: str) -> str:
    """The file name inside a usenet subject, when it quotes one."""
    for quoted in _QUOTED_RE.findall(title):
        stem, dot, extension = quoted.rpartition(".")
        if dot and extension.lower() in (*FORMATS, *_FORMAT_ALIASES, "nzb"):
            return quoted
    if title.count('"') >= 2:
        return _QUOTED_RE.sub(lambda m: m.group(1), title)
    return title


def parse_release(title: str) -> ParsedRelease:
    """Parse a release title; never raises (a name the parser cannot read gives
    a release with only a series, which matches nothing)."""
    clean = " ".join(_name_part(title.strip()).split())
    parsed = parse_filename(clean)
    series, number, annual = parsed.series, parsed.number, parsed.annual
    if match := _ANNUAL_TAIL_RE.match(series):
        # "Deadpool Annual 001" is issue 1 of Deadpool's annuals; a year after
        # "Annual" is that annual's number ("Amazing Spider-Man Annual 2019").
        series, annual = match.group(1), True
        if number is None and match.group(2):
            number = match.group(2)
    tags: list[str] = []
    release_format = _FORMAT_ALIASES.get(parsed.extension or "", parsed.extension)
    if release_format not in FORMATS:
        release_format = None
    for tag in parsed.tags:
        low = tag.casefold().strip()
        if low in FORMATS and release_format is None:
            release_format = low
        elif low in KNOWN_TAGS or _COVERS_RE.match(low):
            tags.append(low)
    scan_group = parsed.scan_group
    if scan_group and scan_group.casefold() in FORMATS:
        scan_group = None
    if scan_group is None and parsed.title and " " not in parsed.title and "-" in parsed.title:
        scan_group = parsed.title  # scene style: Saga.054.2018.Digital.Zone-Empire
    return ParsedRelease(
        title=title,
        series=series,
        series_key=normalize_series(series),
        number=number,
        number_sort=number_sort(number) if number else None,
        volume=parsed.volume,
        year=parsed.year,
        format=release_format,
        annual=annual,
        special=parsed.special,
        book_format=parsed.book_format,
        issue_count=parsed.issue_count,
        scan_group=scan_group,
        tags=tuple(dict.fromkeys(tags)),
    )
