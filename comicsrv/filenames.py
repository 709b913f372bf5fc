"""Parse comic file names and release names into series, issue number, volume and year.

Used when a book carries no metadata, and to match indexer release titles with wanted
issues, so it must be fast (the scanner calls it for every such file) and must never
raise: any string gives a :class:`ParsedName`, if only with a series.

The heuristics follow the names scanners and release groups actually use, e.g.
``Series v2 001 - Title (of 6) (2012) (Digital) (Group-Empire).cbz``:

* bracketed groups (``()``, ``[]``, ``{}``) hold the year, the issue count and tags;
  the last tag that is not a known descriptor is the scan group;
* the free text before the groups holds series, volume, number and title;
* an issue number is explicit (``#12``, ``No. 12``, ``Prog 2300``) or the number that
  closes the series part (followed by `` - ``, the end, ``of N`` or a volume);
  the first word never is (``100 Bullets``) and neither is a bare year-like number
  (``Spider-Man 2099 001``, ``Batman 1989 #1``);
* a title follows the number after `` - `` or in the free text after the first group.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["ParsedName", "normalize_number", "normalize_series", "number_sort", "parse_filename"]


@dataclass(frozen=True, slots=True)
class ParsedName:
    """What a file or release name says about the book.

    ``number`` is the issue number as written, minus a leading ``#`` ("001", "1.MU",
    "½", "-1"); ``number_sort`` is its numeric value for ordering (1.0, 1.0, 0.5, -1.0).
    ``book_format`` is a collected-edition marker such as "TPB", "GN", "HC" or
    "One-Shot"; ``tags`` are the bracketed tags, then loose ones such as ``c2c``.
    """

    series: str
    number: str | None = None
    number_sort: float | None = None
    volume: int | None = None
    year: int | None = None
    issue_count: int | None = None
    title: str | None = None
    annual: bool = False
    special: bool = False
    book_format: str | None = None
    scan_group: str | None = None
    tags: tuple[str, ...] = ()
    extension: str | None = None
    file_format: str | None = None


_FILE_FORMATS: dict[str, str | None] = {
    "cbz": "zip", "zip": "zip", "cbr": "rar", "rar": "rar", "cb7": "7z", "7z": "7z",
    "cbt": "tar", "tar": "tar", "pdf": "pdf", "epub": "epub",
    "nzb": None, "torrent": None, "mkv": None, "mp4": None, "avi": None,
}  # fmt: skip

# An issue number: optional sign, digits with an optional decimal part and/or ½, and an
# optional letter suffix ("1.MU", "27AU", "4a").
_NUMBER = r"-?(?:\d+(?:\.\d+)?½?|½)(?:\.?([A-Za-z]{1,4}))?"
_BARE_NUMBER_RE = re.compile(_NUMBER + r"\Z")  # group 1: the suffix
_HASH_NUMBER_RE = re.compile(r"#(" + _NUMBER + r")(?:-(.+))?\Z")  # groups 1: number, 3: the rest
_SORT_RE = re.compile(r"(-?)(\d*)(\.\d+)?(½)?")
# Letter suffixes that make a number something else: ordinals, pages, pixels.
_NOT_ISSUE_SUFFIXES = frozenset({"st", "nd", "rd", "th", "p", "pg", "pgs", "px", "x"})
_DATE_TOKEN_RE = re.compile(
    r"(?:(19[3-9]\d|20\d\d)(?:-\d\d){1,2}|\d{1,2}-(?:\d{1,2}-)?(19[3-9]\d|20\d\d)),?\Z"
)
_PAGE_COUNT_RE = re.compile(r"\d+(?:p|pg|pgs|pages)\Z", re.IGNORECASE)
_VOLUME_TOKEN_RE = re.compile(r"(?:v|vol|volume)\.?(\d{1,4})\Z", re.IGNORECASE)

_GROUP_RE = re.compile(r"[(\[{]([^()\[\]{}]*)[)\]}]")
_STRAY_BRACKET_RE = re.compile(r"[()\[\]{}]")
_UNDERSCORE_GROUP_RE = re.compile(r"__([^_]+)__")
_JOINED_NUMBER_RE = re.compile(r"-(?=#?\d|v\d|(?:issue|chapter|prog)-\d)", re.IGNORECASE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_YEAR_GROUP_RE = re.compile(
    rf"(?:{_MONTH}(?:\s*-\s*{_MONTH})?,?\s*|fcbd\s+|\d{{1,2}}[-./ ]\d{{1,2}}[-./ ]|\d{{1,2}}[-./ ])?"
    r"(19[3-9]\d|20\d\d)"
    r"(?:[-./]\d{1,2}(?:[-./]\d{1,2})?|\s*-\s*\d{1,4})?\s*\Z",
    re.IGNORECASE,
)
_COUNT_GROUP_RE = re.compile(r"(?:(\d+)\s*)?of\s*(\d+)\Z", re.IGNORECASE)
_DESCRIPTOR_RE = re.compile(
    r"(?:digital|webrip|web|c2c|ctc|noads|no ads|no cover|fixed|repaired|f\d?|hd|hq|scan|scanlation"
    r"|cb[rz7t]|pdf|epub|tpb|gn|ogn|hc|annual|special|one-?shot|fcbd"
    r"|\d+|\d+\s*(?:px|p|pgs?|pages?)|(?:\d+ of )?\d+ covers?|\d{3,4}x\d{3,4}.*"
    r"|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\Z",
    re.IGNORECASE,
)

_DASHES = frozenset({"-", "--", "\u2013", "\u2014", ":"})  # hyphen, en and em dash, colon
_ISSUE_MARKERS = ("#", "no", "no.", "nº", "n°", "issue", "prog", "chapter", "ch", "ch.", "ep", "ep.")
# Kinds of tokens, as one letter: n issue-like number, y year-like number, h "#number",
# m issue marker word, v volume token, w volume word waiting for its number (u), d dash,
# o "of", t ISO date, x loose tag, a "annual", s "special", "" any other word.
# The parser only looks at kinds.
_WORD_KINDS: dict[str, str] = {
    "annual": "a",
    **dict.fromkeys(("special", "specials", "one-shot", "oneshot"), "s"),
    **dict.fromkeys(("c2c", "ctc", "noads", "digital", "webrip"), "x"),
    **dict.fromkeys(_DASHES, "d"),
    **dict.fromkeys(_ISSUE_MARKERS, "m"),
    **dict.fromkeys(("v", "v.", "vol", "vol.", "volume"), "w"),
    "of": "o",
}
_CLOSERS = frozenset({"d", "o", "v", "w"})  # kinds that may follow an issue number
_CONSUMED = frozenset({"v", "w", "u", "t"})  # kinds that belong to no series or title
_BOOK_FORMATS = {
    "tpb": "TPB", "gn": "GN", "ogn": "OGN", "hc": "HC", "one-shot": "One-Shot", "oneshot": "One-Shot",
}  # fmt: skip
_TAIL_WORDS = frozenset({*_BOOK_FORMATS, "shot"})
_FLAG_KINDS = {word: kind for word, kind in _WORD_KINDS.items() if kind in ("a", "s")}


class _Parts:
    """Mutable scratch state of one parse; frozen into a ParsedName at the end."""

    __slots__ = (
        "book_format", "flags", "group_number", "issue_count", "number", "number_segment",
        "series", "tags", "title", "volume", "year", "years",
    )  # fmt: skip

    def __init__(self) -> None:
        self.series: list[str] = []
        self.number: str | None = None
        self.volume: int | None = None
        self.year: int | None = None
        self.issue_count: int | None = None
        self.title: list[str] = []
        self.book_format: str | None = None
        self.tags: list[str] = []
        self.years: list[tuple[int, int]] = []  # (group index, year) of bracketed years
        self.group_number: str | None = None  # from "(#2)" or "(1 of 3)"
        self.number_segment = 0
        self.flags: set[str] = set()  # kinds "a" and "s" seen in the series or the tags


def parse_filename(name: str) -> ParsedName:
    """Parse a file name (a path is fine) or a release title. Never raises."""
    if "\\" in name:
        name = name.replace("\\", "/")
    stem, extension = _split_extension(name.rpartition("/")[2])
    text = _normalise_separators(stem)
    parts = _Parts()
    segments = [text]
    if "(" in text or "[" in text or "{" in text:
        pieces = _GROUP_RE.split(text)
        for index in range(1, len(pieces), 2):
            _read_group(parts, index // 2, pieces[index].strip())
        segments = pieces[0::2]
    _read_free_text(parts, segments)
    _resolve_years(parts)
    return _build(parts, extension)


def _split_extension(base: str) -> tuple[str, str | None]:
    stem, dot, extension = base.rpartition(".")
    if dot and (extension := extension.lower()) in _FILE_FORMATS:
        return stem, extension
    return base, None


def _normalise_separators(stem: str) -> str:
    """Make spaces the only word separator: ``Saga.001.2012``, ``Batman_-_Superman``, ``spawn-123``.

    ComicRack-era names use ``__text__`` for brackets (``Monster_Island_v1_2__repaired__``).
    """
    if "__" in stem:
        stem = _UNDERSCORE_GROUP_RE.sub(r"(\1)", stem)
    stem = stem.replace("_", " ").strip()
    if " " not in stem:
        stem = _JOINED_NUMBER_RE.sub(" ", stem.replace(".", " "))
    return stem


def _read_group(parts: _Parts, index: int, content: str) -> None:
    """Classify one bracketed group: a year, an issue count, an issue number or a tag."""
    if not content:
        return
    if content[-1].isdecimal():  # years and counts end in a digit; most tags do not
        if match := _YEAR_GROUP_RE.match(content):
            parts.years.append((index, int(match.group(1))))
            return
        if match := _COUNT_GROUP_RE.match(content):
            parts.issue_count = int(match.group(2))
            parts.group_number = parts.group_number or match.group(1)
            return
    if content[0] == "#" and (match := _HASH_NUMBER_RE.match(content)):
        parts.group_number = parts.group_number or match.group(1)
    else:
        parts.tags.append(content)


def _token_kind(token: str) -> str:
    """One-letter kind of a token that is not in ``_WORD_KINDS``; see there for the letters."""
    if token.isdecimal():
        return "y" if _is_year(token) else "n"
    first = token[0]
    if first.isdecimal() or first in "-½":
        if _DATE_TOKEN_RE.match(token):
            return "t"
        if _PAGE_COUNT_RE.match(token):
            return "x"
        return "n" if _is_issue_number(token) else ""
    if first == "#":
        return "h" if _HASH_NUMBER_RE.match(token) else ""
    if first in "vV" and _VOLUME_TOKEN_RE.match(token):
        return "v"
    return ""


def _is_year(token: str) -> bool:
    """A plausible publication year (1930-2099), written as four digits."""
    return len(token) == 4 and token.isdecimal() and 1930 <= int(token) <= 2099


def _is_issue_number(token: str) -> bool:
    match = _BARE_NUMBER_RE.match(token)
    if match is None:
        return False
    suffix = match.group(1)
    return suffix is None or suffix.casefold() not in _NOT_ISSUE_SUFFIXES


def _tokenize(parts: _Parts, text: str, *, keep_first: bool) -> tuple[list[str], list[str]]:
    """Split free text into tokens and their kinds in one pass.

    Loose tags such as ``c2c`` move to ``parts.tags`` (except as the first word of the
    series, which may legitimately be one); ``#001-cix`` becomes ``#001`` and ``cix``.
    """
    tokens: list[str] = []
    kinds: list[str] = []
    if _STRAY_BRACKET_RE.search(text):
        text = _STRAY_BRACKET_RE.sub(" ", text)
    for word in text.split():
        kind = _WORD_KINDS.get(word.casefold())
        if kind is None:
            first = word[0]
            kind = "" if first.isalpha() and first not in "vV" else _token_kind(word)
        if kind == "x":
            if tokens or not keep_first:
                parts.tags.append(word)
                continue
            kind = ""
        elif kind == "h" and "-" in word[2:] and (rest := _hash_rest(word)):
            tokens += (word[: -len(rest) - 1], rest)
            kinds += ("h", "")
            continue
        tokens.append(word)
        kinds.append(kind)
    return tokens, kinds


def _hash_rest(token: str) -> str | None:
    """The text glued to a ``#number`` by a hyphen: ``cix`` in ``#001-cix``."""
    match = _HASH_NUMBER_RE.match(token)
    return match.group(3) if match else None


def _read_free_text(parts: _Parts, segments: list[str]) -> None:
    """Find series, volume, number and title in the text outside brackets."""
    filled = [index for index, segment in enumerate(segments) if segment and segment.strip(" ()[]{}")]
    if not filled:
        return
    tokens, kinds = _tokenize(parts, segments[filled[0]], keep_first=True)
    volume_at = _read_volume(parts, tokens, kinds, first=1) if "v" in kinds or "w" in kinds else None
    number_at = _find_number(kinds)
    if number_at is not None:
        series_end, title_start = number_at
        parts.number = _number_text(tokens, kinds, series_end)
        parts.number_segment = filled[0]
        title_start = _read_count(parts, tokens, kinds, title_start)
    elif volume_at is not None:
        series_end, title_start = volume_at
    else:
        series_end = title_start = len(tokens)
    _read_date(parts, tokens, kinds)
    for flag in ("a", "s"):
        if flag in kinds and kinds.index(flag) < series_end:
            parts.flags.add(flag)
    parts.series = _kept(tokens[:series_end], kinds[:series_end])
    parts.title = _kept(tokens[title_start:], kinds[title_start:])
    if len(filled) > 1:
        _read_next_segment(parts, *_tokenize(parts, segments[filled[1]], keep_first=False), filled[1])


def _kept(tokens: list[str], kinds: list[str]) -> list[str]:
    """Tokens that belong to a series or title (not a volume or a date)."""
    if _CONSUMED.isdisjoint(kinds):
        return tokens
    return [token for token, kind in zip(tokens, kinds, strict=True) if kind not in _CONSUMED]


def _read_date(parts: _Parts, tokens: list[str], kinds: list[str]) -> None:
    """Take the year from an unbracketed date: ``X-Men, 2021-08-04``, ``# ½ 02-2005``."""
    if "t" in kinds and parts.year is None:
        match = _DATE_TOKEN_RE.match(tokens[kinds.index("t")])
        parts.year = int(match.group(1) or match.group(2))  # type: ignore[union-attr]


def _find_number(kinds: list[str]) -> tuple[int, int] | None:
    """Token span of the issue number, or None.

    An explicit number (``#5``, ``No. 5``) wins. Otherwise the first bare number that
    closes the series part wins, and failing that the last bare number. The first
    token never counts: it starts the series (``100 Bullets``, ``52``).
    """
    count = len(kinds)
    candidates = []
    for i in range(1, count):
        kind = kinds[i]
        if kind == "h":
            return i, i + 1
        if kind == "m" and i + 1 < count and kinds[i + 1] in ("n", "h", "y"):
            return i, i + 2
        if kind == "n" and kinds[i - 1] != "o":
            candidates.append(i)
    for i in candidates:
        if i + 1 == count or kinds[i + 1] in _CLOSERS:
            return i, i + 1
    return (candidates[-1], candidates[-1] + 1) if candidates else None


def _number_text(tokens: list[str], kinds: list[str], start: int) -> str:
    """The number in a span found by :func:`_find_number`, without marker or ``#``."""
    token = tokens[start + 1] if kinds[start] == "m" else tokens[start]
    return token.removeprefix("#")


def _read_volume(parts: _Parts, tokens: list[str], kinds: list[str], *, first: int) -> tuple[int, int] | None:
    """Record the first volume (``v2``, ``Vol. 2``, ``Volume 2``) and return its span.

    Any other volume-looking token is an ordinary word again: one before ``first``
    (the series' first word, as in the comic *V*), a volume word without a number,
    a second volume in a title.
    """
    span = None
    for i, kind in enumerate(kinds):
        if kind not in ("v", "w"):
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if span is None and i >= first and kind == "v":
            parts.volume, span = int(_VOLUME_TOKEN_RE.match(tokens[i]).group(1)), (i, i + 1)  # type: ignore[union-attr]
        elif span is None and i >= first and following.isdecimal() and len(following) <= 4:
            parts.volume, span = int(following), (i, i + 2)
            kinds[i + 1] = "u"  # the number belongs to the volume, not the issue
        else:
            kinds[i] = ""
    return span


def _read_count(parts: _Parts, tokens: list[str], kinds: list[str], end: int) -> int:
    """Read ``1 of 6`` after the number; return where the title may start."""
    if end + 1 < len(tokens) and kinds[end] == "o" and tokens[end + 1].isdecimal():
        parts.issue_count = int(tokens[end + 1])
        return end + 2
    return end


def _read_next_segment(parts: _Parts, tokens: list[str], kinds: list[str], index: int) -> None:
    """Use the text after the first group, which may start with the number or hold the title.

    ``Series (1996) 01 - Title``, ``Series (2018) Issue 025 - Title``,
    ``Series 001 (2000) Title (Group)``, ``Series #003 (2016) Volume 02``.
    """
    if parts.volume is None and ("v" in kinds or "w" in kinds):
        _read_volume(parts, tokens, kinds, first=0)
    _read_date(parts, tokens, kinds)
    tokens, kinds = _kept(tokens, kinds), _kept(kinds, kinds)
    if not tokens:
        return
    marked = kinds[0] == "m" and len(kinds) > 1 and kinds[1] in ("n", "h", "y")
    if parts.number is None and (marked or kinds[0] in ("n", "h")):
        parts.number = _number_text(tokens, kinds, 0)
        parts.number_segment = index
        parts.title = tokens[_read_count(parts, tokens, kinds, 2 if marked else 1) :]
    elif (parts.number or parts.volume is not None) and not _strip_dashes(parts.title):
        parts.title = tokens


def _resolve_years(parts: _Parts) -> None:
    """Pick the year; ``Series (1957) #92 (1969)`` makes the first year the volume."""
    years = parts.years
    if not years:
        return
    first_group, first_year = years[0]
    if len(years) > 1 and first_group < parts.number_segment and parts.volume is None:
        parts.volume, parts.year = first_year, years[1][1]
    elif parts.year is None:
        parts.year = first_year


def _strip_dashes(tokens: list[str]) -> list[str]:
    if not tokens or (tokens[0] not in _DASHES and tokens[-1] not in _DASHES):
        return tokens
    start, end = 0, len(tokens)
    while start < end and tokens[start] in _DASHES:
        start += 1
    while end > start and tokens[end - 1] in _DASHES:
        end -= 1
    return tokens[start:end]


def _strip_format_tail(parts: _Parts, tokens: list[str]) -> list[str]:
    """Cut collected-edition words off the end of the series: ``Aquaman TPB``, ``X-23 One Shot``."""
    while len(tokens) > 1 and tokens[-1].casefold() in _TAIL_WORDS:
        low = tokens[-1].casefold()
        width = 2 if low == "shot" and tokens[-2].casefold() == "one" and len(tokens) > 2 else 1
        book_format = "One-Shot" if width == 2 else _BOOK_FORMATS.get(low)
        if book_format is None:
            break
        parts.book_format = parts.book_format or book_format
        tokens = tokens[:-width]
    return tokens


def _drop_format_words(parts: _Parts, tokens: list[str]) -> list[str]:
    """Remove collected-edition words from the title: ``Series Vol 1 TPB``."""
    kept: list[str] = []
    for token in tokens:
        low = token.casefold()
        if low == "shot" and kept and kept[-1].casefold() == "one":
            kept.pop()
            low = "one-shot"
        if book_format := _BOOK_FORMATS.get(low):
            parts.book_format = parts.book_format or book_format
        else:
            kept.append(token)
    return kept


def _flags(parts: _Parts) -> tuple[bool, bool]:
    """Annual and special flags, from the series words and the tags (a title's
    "Special Edition" says nothing about the book)."""
    for tag in parts.tags:
        low = tag.casefold()
        if low in _FLAG_KINDS:
            parts.flags.add(_FLAG_KINDS[low])
        parts.book_format = parts.book_format or _BOOK_FORMATS.get(low)
    return "a" in parts.flags, "s" in parts.flags or parts.book_format == "One-Shot"


def _scan_group(tags: list[str]) -> str | None:
    for tag in reversed(tags):
        if not _DESCRIPTOR_RE.match(tag):
            return tag
    return None


def _build(parts: _Parts, extension: str | None) -> ParsedName:
    series = _strip_format_tail(parts, _strip_dashes(parts.series))
    title = _strip_dashes(_drop_format_words(parts, parts.title)) if parts.title else parts.title
    if title and parts.year is None and _is_year(title[0]):
        parts.year = int(title.pop(0))  # release style: Saga.001.2012.Digital
    annual, special = _flags(parts)
    number = parts.number or parts.group_number
    return ParsedName(
        series=" ".join(series).strip(" ,;:"),
        number=number,
        number_sort=number_sort(number) if number else None,
        volume=parts.volume,
        year=parts.year,
        issue_count=parts.issue_count,
        title=" ".join(title).strip(" ,;:") or None,
        annual=annual,
        special=special,
        book_format=parts.book_format,
        scan_group=_scan_group(parts.tags),
        tags=tuple(parts.tags),
        extension=extension,
        file_format=_FILE_FORMATS.get(extension) if extension else None,
    )


def number_sort(number: str) -> float | None:
    """Numeric value of an issue number for ordering: "001" 1.0, "1.5" 1.5, "½" 0.5,
    "-1" -1.0, "1.MU" 1.0; None for one without digits ("Omega"). Works on ComicInfo
    numbers as well as parsed ones."""
    number = number.strip().lstrip("#")
    if number.isdecimal():
        return float(number)
    sign, whole, fraction, half = _SORT_RE.match(number).groups()  # type: ignore[union-attr]
    if not whole and not half:
        return None
    value = float((whole or "0") + (fraction or "")) + (0.5 if half else 0.0)
    return -value if sign else value


_LEADING_ZEROS_RE = re.compile(r"^(-?)0+(?=\d)")


def normalize_number(number: str) -> str:
    """Canonical issue number for matching: "001" and "1" agree, "1.mu" and "1.MU" agree."""
    return _LEADING_ZEROS_RE.sub(r"\1", number.strip().lstrip("#")).upper()


_LEADING_ARTICLE_RE = re.compile(r"^(?:the|an?)\s+|,\s*(?:the|an?)\s*$")
_PUNCTUATION_GONE = str.maketrans("", "", ".'`\u2019\u00b4")  # dots, apostrophes, accents
_NON_WORD_RE = re.compile(r"[\W_]+")


def normalize_series(name: str) -> str:
    """Series key for matching names that differ in case, accents, punctuation or article.

    "The Amazing Spider-Man", "Amazing Spider-Man, The" and "amazing spider man" agree,
    as do "S.H.I.E.L.D." and "Shield", "Batman & Robin" and "Batman and Robin",
    "Hüsker Dü" and "Husker Du". Only a leading (or trailing ", The") article goes:
    "A+X" and "A-Force" keep theirs.
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold().strip())
    text = "".join(char for char in decomposed if not unicodedata.combining(char))
    text = _LEADING_ARTICLE_RE.sub("", text)
    text = _NON_WORD_RE.sub(" ", text.replace("&", " and ").translate(_PUNCTUATION_GONE))
    return " ".join(text.split())
