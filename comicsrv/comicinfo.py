"""Comic book metadata: read ComicInfo, MetronInfo, CoMet and ComicBookInfo; write ComicInfo.

Readers are lenient on purpose. Most ComicInfo.xml files in the wild break their own
schema (elements out of ``xs:sequence`` order, a wrong namespace, ``<Year>unknown</Year>``,
the same element twice), and a library scan must not lose a whole book over one bad
field. So elements are looked up by local name, case-insensitively, in any order;
values that cannot be understood are dropped and noted in ``ComicMetadata.warnings``.
Only XML that is not well-formed, or that uses entity tricks (billion laughs, XXE),
raises :class:`MetadataError`; parsing goes through ``defusedxml`` for that reason.

The writer is strict instead: :func:`to_comicinfo_xml` emits elements in schema order
with valid enumerations, so its output validates against the official XSD.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import ROUND_HALF_EVEN, Decimal
from html.parser import HTMLParser
from typing import Any, Literal, TypedDict
from xml.etree import ElementTree as ET

import defusedxml
import defusedxml.ElementTree as SafeET

__all__ = [
    "AGE_RATINGS",
    "PAGE_TYPES",
    "SOURCE_COMET",
    "SOURCE_COMICBOOKINFO",
    "SOURCE_COMICINFO",
    "SOURCE_METRONINFO",
    "ComicMetadata",
    "MetadataError",
    "PageInfo",
    "parse_metadata",
    "read_comet",
    "read_comicbookinfo",
    "read_comicinfo",
    "read_metroninfo",
    "to_comicinfo_xml",
]

SOURCE_COMICINFO = "ComicInfo"
SOURCE_METRONINFO = "MetronInfo"
SOURCE_COMET = "CoMet"
SOURCE_COMICBOOKINFO = "ComicBookInfo"

_CBI_KEY = "ComicBookInfo/1.0"


class MetadataError(ValueError):
    """A metadata file could not be read at all (malformed or hostile XML, bad JSON)."""


class PageInfo(TypedDict):
    """One ``<Page>`` of ComicInfo: what the reader needs to know before opening the image."""

    image: int
    type: str | None
    double_page: bool
    size: int | None
    width: int | None
    height: int | None
    key: str | None
    bookmark: str | None


@dataclass
class ComicMetadata:
    """Normalised metadata of one comic book, whatever format it was read from.

    Empty means unknown: ``None`` for scalars, an empty list or dict for collections.
    Credits and the other ComicInfo comma lists are lists of names. ``number`` stays the
    string as written ("1", "1.5", "½", "-1", "000") because issue numbers are labels,
    not quantities. ``manga`` and ``right_to_left`` split ComicInfo's Yes / No /
    YesAndRightToLeft. ``source`` names the format read ("ComicInfo", or
    "ComicInfo+MetronInfo" after a merge); ``identifiers`` maps a database ("comicvine",
    "metron", "gcd", "isbn", "upc", ...) to the book's id there, gathered from explicit
    ids, URLs and tagger notes. ``warnings`` records what was dropped or ignored while
    reading; it takes no part in equality.
    """

    source: str = ""
    title: str | None = None
    series: str | None = None
    number: str | None = None
    count: int | None = None
    volume: int | None = None
    alternate_series: str | None = None
    alternate_number: str | None = None
    alternate_count: int | None = None
    summary: str | None = None
    notes: str | None = None
    year: int | None = None
    month: int | None = None
    day: int | None = None
    writer: list[str] = field(default_factory=list)
    penciller: list[str] = field(default_factory=list)
    inker: list[str] = field(default_factory=list)
    colorist: list[str] = field(default_factory=list)
    letterer: list[str] = field(default_factory=list)
    cover_artist: list[str] = field(default_factory=list)
    editor: list[str] = field(default_factory=list)
    translator: list[str] = field(default_factory=list)
    publisher: str | None = None
    imprint: str | None = None
    genre: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    web: list[str] = field(default_factory=list)
    page_count: int | None = None
    language_iso: str | None = None
    format: str | None = None
    black_and_white: bool | None = None
    manga: bool | None = None
    right_to_left: bool | None = None
    characters: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    scan_information: str | None = None
    story_arc: list[str] = field(default_factory=list)
    story_arc_number: list[str] = field(default_factory=list)
    series_group: list[str] = field(default_factory=list)
    age_rating: str | None = None
    pages: list[PageInfo] = field(default_factory=list)
    community_rating: float | None = None
    main_character_or_team: str | None = None
    review: str | None = None
    gtin: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a plain, JSON-serialisable dict of every field."""
        return asdict(self)

    def merge(self, other: ComicMetadata) -> ComicMetadata:
        """Return a new record: this one, with its empty fields filled from ``other``.

        Fields that only make sense together (the date, story arcs and their numbers,
        the manga flag and reading direction) are taken from ``other`` as a unit and
        only when all of them are empty here, so a merge never builds a date or an
        arc list that neither source said. Identifiers merge key by key.
        """
        updates: dict[str, Any] = {}
        for group in _MERGE_GROUPS:
            if all(_is_empty(getattr(self, name)) for name in group):
                updates.update({name: copy.deepcopy(getattr(other, name)) for name in group})
        updates["identifiers"] = {**other.identifiers, **self.identifiers}
        updates["warnings"] = [*self.warnings, *other.warnings]
        updates["source"] = "+".join(s for s in (self.source, other.source) if s)
        return replace(copy.deepcopy(self), **updates)


_GROUPED_FIELDS = (
    ("year", "month", "day"),
    ("story_arc", "story_arc_number"),
    ("manga", "right_to_left"),
)
_UNMERGED = {"source", "identifiers", "warnings"}
_MERGE_GROUPS: tuple[tuple[str, ...], ...] = _GROUPED_FIELDS + tuple(
    (f.name,)
    for f in fields(ComicMetadata)
    if f.name not in _UNMERGED and all(f.name not in g for g in _GROUPED_FIELDS)
)


def _is_empty(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, (list, dict)) and not value)


# --------------------------------------------------------------------------------------
# Small value parsers shared by every format
# --------------------------------------------------------------------------------------

# ComicInfo's schema defaults that mean "unknown": dropped without a warning.
_UNKNOWN_INTS: dict[str, int] = {"page_count": 0}
# ComicInfo's numbers are xs:int (ImageSize xs:long); a bigger one could not be written back.
_XS_INT = (-(2**31), 2**31 - 1)
_XS_LONG = (-(2**63), 2**63 - 1)
_INT_RANGES: dict[str, tuple[int, int]] = {
    "year": (1, 9999),
    "month": (1, 12),
    "day": (1, 31),
    "page_count": (1, _XS_INT[1]),
}
_LANGUAGE_CODES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "japanese": "ja", "korean": "ko", "chinese": "zh",
    "russian": "ru", "polish": "pl", "swedish": "sv", "danish": "da", "norwegian": "no",
    "finnish": "fi",
}  # fmt: skip
_LANGUAGE_CODE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_DATE_RE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_INVALID_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_HTML_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def _int_value(meta: ComicMetadata, attr: str, raw: object) -> int | None:
    """Parse an integer field; unreadable or out-of-range values become None with a warning.

    ComicInfo's "unknown" defaults (-1, and 0 pages) are dropped silently.
    """
    if raw is None or raw == "":
        return None
    value = _whole_number(raw)
    if value is None:
        meta.warnings.append(f"{attr}: not a whole number: {raw!r}")
        return None
    low, high = _INT_RANGES.get(attr, (0, _XS_INT[1]))
    if not low <= value <= high:
        if value not in (-1, _UNKNOWN_INTS.get(attr)):
            meta.warnings.append(f"{attr}: out of range: {value}")
        return None
    return value


def _whole_number(raw: object) -> int | None:
    """Accept 7, "7", " 7 " and "7.0"; refuse "unknown", "7.5", NaN and booleans."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        pass
    try:
        number = float(str(raw))
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _rating_value(meta: ComicMetadata, raw: object) -> float | None:
    """Parse a 0-5 community rating (the ComicInfo scale)."""
    if raw is None or raw == "":
        return None
    try:
        if isinstance(raw, bool):
            raise TypeError
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        meta.warnings.append(f"community_rating: not a number: {raw!r}")
        return None
    if not 0 <= value <= 5:
        meta.warnings.append(f"community_rating: outside 0-5: {value}")
        return None
    return value


def _language(raw: str | None) -> str | None:
    """Return an ISO 639 code; common English language names are mapped, others kept."""
    if not raw:
        return None
    if _LANGUAGE_CODE_RE.match(raw):
        return raw.replace("_", "-").lower()
    return _LANGUAGE_CODES.get(raw.casefold(), raw)


def _split_list(raw: str | None) -> list[str]:
    """Split a ComicInfo comma list, dropping blanks."""
    if not raw:
        return []
    return [item for part in raw.split(",") if (item := part.strip())]


def _split_positional(raw: str | None) -> list[str]:
    """Split a comma list whose positions matter (StoryArcNumber pairs with StoryArc)."""
    if not raw or not raw.strip(" ,"):
        return []
    return [part.strip() for part in raw.split(",")]


def _set_date(meta: ComicMetadata, raw: str | None) -> None:
    """Fill year/month/day from an ISO date such as 1950-11-01, 1950-11 or 1950."""
    match = _DATE_RE.match(raw or "")
    if match is None:
        if raw:
            meta.warnings.append(f"date: not an ISO date: {raw!r}")
        return
    year, month, day = match.groups()
    meta.year = _int_value(meta, "year", year)
    meta.month = _int_value(meta, "month", month)
    meta.day = _int_value(meta, "day", day)


_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN_TAGS = frozenset({"script", "style"})


class _HTMLText(HTMLParser):
    """Collect the text of an HTML fragment, turning block elements into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._skipping += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS and self._skipping:
            self._skipping -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _plain_text(raw: str) -> str | None:
    """Turn HTML (as ComicVine-sourced summaries often are) into plain text.

    Archive metadata is untrusted; keeping only text means no caller can render
    markup from a file by accident. Text without tags is only stripped.
    """
    if not _HTML_TAG_RE.search(raw):
        return raw.strip() or None
    parser = _HTMLText()
    parser.feed(raw)
    parser.close()
    return _tidy_lines("".join(parser.parts))


def _tidy_lines(text: str) -> str | None:
    """Collapse runs of spaces inside lines and drop blank lines."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line) or None


# --------------------------------------------------------------------------------------
# Identifiers found in free text, URLs and GTIN URNs
# --------------------------------------------------------------------------------------

_URN_RE = re.compile(r"\burn:([a-z]+):(?:issue:)?([\w.-]+)", re.IGNORECASE)
_ID_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("comicvine", re.compile(r"comicvine\.gamespot\.com/\S*?4000-(\d+)", re.IGNORECASE)),
    ("metron", re.compile(r"metron\.cloud/issue/(\d+)\b", re.IGNORECASE)),
    ("gcd", re.compile(r"comics\.org/issue/(\d+)\b", re.IGNORECASE)),
    ("comicvine", re.compile(r"\bCVDB(\d+)", re.IGNORECASE)),
    ("comixology", re.compile(r"\bCMXDB(\d+)", re.IGNORECASE)),
)
# ComicTagger writes "using info from <source> ... [Issue ID 123]"; the id belongs to <source>.
_ISSUE_ID_RE = re.compile(r"\[Issue ID (\d+)\]", re.IGNORECASE)
_INFO_FROM_RE = re.compile(r"info from (Comic Vine|Metron|Grand Comics Database)", re.IGNORECASE)
_SOURCE_KEYS = {
    "comic vine": "comicvine",
    "comicvine": "comicvine",
    "metron": "metron",
    "grand comics database": "gcd",
    "gcd": "gcd",
    "league of comic geeks": "locg",
    "marvel": "marvel",
    "mangadex": "mangadex",
    "mangaupdates": "mangaupdates",
    "anilist": "anilist",
    "myanimelist": "myanimelist",
    "kitsu": "kitsu",
    "isbn": "isbn",
    "upc": "upc",
}


def _scan_identifiers(text: str | None, ids: dict[str, str]) -> None:
    """Add ids found in ``text`` to ``ids``; an id already known is never replaced."""
    if not text:
        return
    for scheme, value in _URN_RE.findall(text):
        if key := _SOURCE_KEYS.get(scheme.casefold()):
            ids.setdefault(key, value)
    for key, pattern in _ID_PATTERNS:
        if match := pattern.search(text):
            ids.setdefault(key, match.group(1))
    if match := _ISSUE_ID_RE.search(text):
        origin = _INFO_FROM_RE.search(text)
        ids.setdefault(_SOURCE_KEYS[origin.group(1).casefold()] if origin else "comicvine", match.group(1))


_BARCODE_URN_RE = re.compile(r"\burn:(?:isbn|upc|ean|gtin):([\d-]+)", re.IGNORECASE)


def _gtin_from(raw: str | None, meta: ComicMetadata) -> str | None:
    """Read a GTIN element: a bare barcode, or comicbox-style URNs that also carry ids."""
    if not raw:
        return None
    _scan_identifiers(raw, meta.identifiers)
    bare = [part for part in re.split(r"[\s,]+", raw) if part and not part.lower().startswith("urn:")]
    if bare:
        return bare[0]
    match = _BARCODE_URN_RE.search(raw)
    return match.group(1) if match else None


# --------------------------------------------------------------------------------------
# Credits shared by MetronInfo, CoMet and ComicBookInfo
# --------------------------------------------------------------------------------------

_ROLE_FIELDS: dict[str, tuple[str, ...]] = {
    "writer": ("writer",), "script": ("writer",), "scripter": ("writer",),
    "story": ("writer",), "plot": ("writer",), "plotter": ("writer",),
    "penciller": ("penciller",), "penciler": ("penciller",), "pencils": ("penciller",),
    "breakdowns": ("penciller",), "layouts": ("penciller",),
    "artist": ("penciller", "inker"), "illustrator": ("penciller", "inker"),
    "inker": ("inker",), "inks": ("inker",), "finishes": ("inker",), "embellisher": ("inker",),
    "colorist": ("colorist",), "colourist": ("colorist",), "colorer": ("colorist",),
    "colors": ("colorist",), "colours": ("colorist",),
    "letterer": ("letterer",), "letters": ("letterer",),
    "cover": ("cover_artist",), "cover artist": ("cover_artist",), "coverdesigner": ("cover_artist",),
    "cover designer": ("cover_artist",),
    "translator": ("translator",), "translation": ("translator",),
}  # fmt: skip


def _add_credit(meta: ComicMetadata, person: str | None, role: str | None) -> None:
    """File ``person`` under every ComicInfo credit list that ``role`` maps to."""
    if not person or not role:
        return
    role_key = " ".join(role.casefold().split())
    targets = _ROLE_FIELDS.get(role_key) or (("editor",) if role_key.endswith("editor") else ())
    for attr in targets:
        names: list[str] = getattr(meta, attr)
        if person not in names:
            names.append(person)


# --------------------------------------------------------------------------------------
# XML plumbing
# --------------------------------------------------------------------------------------


def _local(tag: object) -> str:
    """Local, case-folded element name: namespaces are ignored because writers get them wrong."""
    return tag.rpartition("}")[2].casefold() if isinstance(tag, str) else ""


def _parse_xml(data: bytes, root_name: str) -> ET.Element:
    """Parse untrusted XML safely and check the root element's local name."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = data.lstrip()  # an XML declaration must come first; some writers pad it
    try:
        if b"<!" not in data and b"\x00" not in data:
            # No DTD, so no entity can be declared and nothing external named:
            # the C parser is safe, and twice as fast as defusedxml's pure-Python
            # one (30 us a file, 7 % of a scan's reading). UTF-16 and -32 text
            # has NUL bytes, in which "<!" would not show: it takes the defused path.
            root: ET.Element = ET.fromstring(data)
        else:
            root = SafeET.fromstring(
                data, forbid_dtd=False, forbid_entities=True, forbid_external=True
            )
    except defusedxml.DefusedXmlException as exc:
        raise MetadataError(f"{root_name}: forbidden XML construct: {exc!r}") from exc
    except ET.ParseError as exc:
        raise MetadataError(f"{root_name}: not well-formed XML: {exc}") from exc
    except (LookupError, ValueError) as exc:  # an unknown or unsupported declared encoding
        raise MetadataError(f"{root_name}: unreadable XML: {exc}") from exc
    if _local(root.tag) != root_name.casefold():
        raise MetadataError(f"{root_name}: unexpected root element <{root.tag}>")
    return root


def _text(elem: ET.Element | None) -> str | None:
    """Whole text content of an element, stripped; None when empty."""
    if elem is None:
        return None
    return "".join(elem.itertext()).strip() or None


def _rich_text(elem: ET.Element) -> str | None:
    """Text of an element that may hold HTML, escaped or (invalidly) as child elements."""
    if not len(elem):
        return _plain_text(elem.text or "")
    return _tidy_lines(_flatten_markup(elem))


def _flatten_markup(elem: ET.Element) -> str:
    """Text of unescaped HTML that the XML parser turned into elements, breaks kept.

    Iterative, so a hostile document nested a million deep costs memory, not a crash.
    """
    parts: list[str] = []
    stack: list[tuple[ET.Element, bool]] = [(elem, False)]
    while stack:
        node, closing = stack.pop()
        inner = node is not elem
        brk = "\n" if inner and _local(node.tag) in _BLOCK_TAGS else ""
        if closing:
            parts += [brk, node.tail or ""] if inner else []
            continue
        parts += [brk, node.text or ""]
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    return "".join(parts)


def _first_children(elem: ET.Element, meta: ComicMetadata, context: str) -> dict[str, ET.Element]:
    """Map local names to child elements; for a repeated element the first one wins."""
    children: dict[str, ET.Element] = {}
    for child in elem:
        name = _local(child.tag)
        if name in children:
            tag = child.tag.rpartition("}")[2]
            meta.warnings.append(f"{context}: duplicate <{tag}> ignored, the first one wins")
        elif name:
            children[name] = child
    return children


def _all_children(elem: ET.Element | None, name: str) -> list[ET.Element]:
    return [child for child in elem if _local(child.tag) == name] if elem is not None else []


# --------------------------------------------------------------------------------------
# ComicInfo.xml
# --------------------------------------------------------------------------------------

_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_XSD_NS = "http://www.w3.org/2001/XMLSchema"

_YES_NO = {"yes": True, "no": False, "true": True, "false": False}
_MANGA_VALUES = {"yes": (True, None), "no": (False, None), "yesandrighttoleft": (True, True)}
AGE_RATINGS = (
    "Adults Only 18+", "Early Childhood", "Everyone", "Everyone 10+", "G", "Kids to Adults",
    "M", "MA15+", "Mature 17+", "PG", "R18+", "Rating Pending", "Teen", "X18+",
)  # fmt: skip
_AGE_RATING_BY_KEY = {rating.casefold(): rating for rating in AGE_RATINGS}
# MetronInfo ratings that have no ComicInfo spelling, mapped to the nearest ComicInfo value.
_AGE_RATING_FROM_METRON = {
    "teen plus": "Teen",
    "mature": "Mature 17+",
    "explicit": "Adults Only 18+",
    "adult": "Adults Only 18+",
}
PAGE_TYPES = (
    "FrontCover", "InnerCover", "Roundup", "Story", "Advertisement", "Editorial",
    "Letters", "Preview", "BackCover", "Other", "Deleted",
)  # fmt: skip
_PAGE_TYPE_BY_KEY = {page_type.casefold(): page_type for page_type in PAGE_TYPES}


_Kind = Literal[
    "text", "rich", "language", "int", "list", "positional", "urls", "yesno", "manga", "age", "rating",
    "pages", "gtin",
]  # fmt: skip


@dataclass(frozen=True)
class _Field:
    """One ComicInfo element: its name, the attribute it fills and how it is converted."""

    element: str
    attr: str
    kind: _Kind
    v21: bool = False  # only in the v2.1 draft schema


# Schema sequence order (v2.1 draft; v2.0 is the same without the v21 entries).
_COMICINFO_FIELDS = (
    _Field("Title", "title", "text"),
    _Field("Series", "series", "text"),
    _Field("Number", "number", "text"),
    _Field("Count", "count", "int"),
    _Field("Volume", "volume", "int"),
    _Field("AlternateSeries", "alternate_series", "text"),
    _Field("AlternateNumber", "alternate_number", "text"),
    _Field("AlternateCount", "alternate_count", "int"),
    _Field("Summary", "summary", "rich"),
    _Field("Notes", "notes", "rich"),
    _Field("Year", "year", "int"),
    _Field("Month", "month", "int"),
    _Field("Day", "day", "int"),
    _Field("Writer", "writer", "list"),
    _Field("Penciller", "penciller", "list"),
    _Field("Inker", "inker", "list"),
    _Field("Colorist", "colorist", "list"),
    _Field("Letterer", "letterer", "list"),
    _Field("CoverArtist", "cover_artist", "list"),
    _Field("Editor", "editor", "list"),
    _Field("Translator", "translator", "list", v21=True),
    _Field("Publisher", "publisher", "text"),
    _Field("Imprint", "imprint", "text"),
    _Field("Genre", "genre", "list"),
    _Field("Tags", "tags", "list", v21=True),
    _Field("Web", "web", "urls"),
    _Field("PageCount", "page_count", "int"),
    _Field("LanguageISO", "language_iso", "language"),
    _Field("Format", "format", "text"),
    _Field("BlackAndWhite", "black_and_white", "yesno"),
    _Field("Manga", "manga", "manga"),
    _Field("Characters", "characters", "list"),
    _Field("Teams", "teams", "list"),
    _Field("Locations", "locations", "list"),
    _Field("ScanInformation", "scan_information", "text"),
    _Field("StoryArc", "story_arc", "list"),
    _Field("StoryArcNumber", "story_arc_number", "positional", v21=True),
    _Field("SeriesGroup", "series_group", "list"),
    _Field("AgeRating", "age_rating", "age"),
    _Field("Pages", "pages", "pages"),
    _Field("CommunityRating", "community_rating", "rating"),
    _Field("MainCharacterOrTeam", "main_character_or_team", "text"),
    _Field("Review", "review", "rich"),
    _Field("GTIN", "gtin", "gtin", v21=True),
)
_COMICINFO_BY_NAME = {spec.element.casefold(): spec for spec in _COMICINFO_FIELDS}


def _read_page(meta: ComicMetadata, elem: ET.Element) -> PageInfo | None:
    attrs = {name.casefold(): value.strip() for name, value in elem.attrib.items()}

    def number(name: str, high: int = _XS_INT[1]) -> int | None:
        raw = attrs.get(name)
        if raw in (None, "", "-1"):
            return None
        if raw.isdecimal() and int(raw) <= high:
            return int(raw)
        meta.warnings.append(f"pages: {name} is not a number: {raw!r}")
        return None

    image = number("image")
    if image is None:
        meta.warnings.append("pages: <Page> without a usable Image index ignored")
        return None
    types = []
    for token in attrs.get("type", "").split():
        if known := _PAGE_TYPE_BY_KEY.get(token.casefold()):
            types.append(known)
        else:
            meta.warnings.append(f"pages: unknown page Type {token!r} ignored")
    return PageInfo(
        image=image,
        type=" ".join(types) or None,
        double_page=attrs.get("doublepage", "").casefold() in ("true", "1"),
        size=number("imagesize", _XS_LONG[1]),
        width=number("imagewidth"),
        height=number("imageheight"),
        key=attrs.get("key") or None,
        bookmark=attrs.get("bookmark") or None,
    )


def _read_comicinfo_field(meta: ComicMetadata, spec: _Field, elem: ET.Element) -> None:
    """Convert one ComicInfo element into its ComicMetadata attribute."""
    kind = spec.kind
    if kind == "pages":
        meta.pages = [page for child in _all_children(elem, "page") if (page := _read_page(meta, child))]
        return
    if kind == "rich":
        setattr(meta, spec.attr, _rich_text(elem))
        return
    raw = _text(elem)
    if kind == "text":
        value: object = raw
    elif kind == "language":
        value = _language(raw)
    elif kind == "int":
        value = _int_value(meta, spec.attr, raw)
    elif kind == "list":
        value = _split_list(raw)
    elif kind == "positional":
        value = _split_positional(raw)
    elif kind == "urls":
        value = [url for url in re.split(r"[\s,]+", raw or "") if url]
    elif kind == "yesno":
        value = _YES_NO.get((raw or "").casefold())
    elif kind == "manga":
        meta.manga, meta.right_to_left = _MANGA_VALUES.get((raw or "").casefold(), (None, None))
        return
    elif kind == "age":
        key = (raw or "").casefold()
        value = None if key in ("", "unknown") else _AGE_RATING_BY_KEY.get(key, raw)
    elif kind == "rating":
        value = _rating_value(meta, raw)
    else:  # gtin
        value = _gtin_from(raw, meta)
    setattr(meta, spec.attr, value)


def read_comicinfo(data: bytes) -> ComicMetadata:
    """Read a ComicInfo.xml (v1.0, v2.0 or the v2.1 draft), in any element order."""
    root = _parse_xml(data, "ComicInfo")
    meta = ComicMetadata(source=SOURCE_COMICINFO)
    for name, elem in _first_children(root, meta, "ComicInfo").items():
        if spec := _COMICINFO_BY_NAME.get(name):
            _read_comicinfo_field(meta, spec, elem)
    for url in meta.web:
        _scan_identifiers(url, meta.identifiers)
    _scan_identifiers(meta.notes, meta.identifiers)
    return meta


def _decimal_text(value: float, places: int) -> str:
    """Format a rating with at most ``places`` fraction digits and no exponent."""
    quantum = Decimal(1).scaleb(-places)
    text = format(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_EVEN), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _age_rating_text(raw: str | None) -> str | None:
    if not raw:
        return None
    key = raw.casefold()
    return _AGE_RATING_BY_KEY.get(key) or _AGE_RATING_FROM_METRON.get(key)


def _manga_text(meta: ComicMetadata) -> str | None:
    if meta.manga is None:
        return None
    if meta.manga:
        return "YesAndRightToLeft" if meta.right_to_left else "Yes"
    return "No"


def _within(value: object, bounds: tuple[int, int]) -> int | None:
    """``value`` if it is an integer the schema's type can hold, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]:
        return value
    return None


def _page_element(page: PageInfo) -> ET.Element | None:
    """A valid ``<Page>``, or None when the page has no usable image index."""
    image = _within(page.get("image"), _XS_INT)
    if image is None:
        return None
    types = [
        known
        for token in (page.get("type") or "").split()
        if (known := _PAGE_TYPE_BY_KEY.get(token.casefold()))
    ]
    optional = (
        ("Type", " ".join(types)),
        ("DoublePage", "true" if page.get("double_page") else None),
        ("ImageSize", _within(page.get("size"), _XS_LONG)),
        ("Key", page.get("key")),
        ("Bookmark", page.get("bookmark")),
        ("ImageWidth", _within(page.get("width"), _XS_INT)),
        ("ImageHeight", _within(page.get("height"), _XS_INT)),
    )
    attrs = {"Image": str(image)}
    attrs.update({name: _xml_safe(str(value)) for name, value in optional if value not in (None, "")})
    return ET.Element("Page", attrs)


def _xml_safe(text: str) -> str:
    """Remove characters XML 1.0 cannot carry (they come from other formats' free text)."""
    return _INVALID_XML_CHARS.sub("", text)


def _field_text(meta: ComicMetadata, spec: _Field, version: str) -> str | None:
    """The text a ComicInfo element should carry, or None to leave the element out."""
    value = getattr(meta, spec.attr)
    kind = spec.kind
    if kind == "list":
        return ", ".join(value) or None
    if kind == "positional":
        return ",".join(value) or None
    if kind == "urls":
        return " ".join(value) or None
    if kind == "yesno":
        return None if value is None else ("Yes" if value else "No")
    if kind == "manga":
        return _manga_text(meta)
    if kind == "age":
        return _age_rating_text(value)
    if kind == "rating":
        in_range = value is not None and 0 <= value <= 5
        return _decimal_text(value, 2 if version == "2.0" else 1) if in_range else None
    if kind == "int":
        return None if _within(value, _XS_INT) is None else str(value)
    if value is None or value == "":
        return None
    return str(value)


def to_comicinfo_xml(meta: ComicMetadata, version: Literal["2.0", "2.1"] = "2.0") -> bytes:
    """Serialise ``meta`` as a ComicInfo.xml that validates against the official schema.

    ``version="2.0"`` (the default, what every reader understands) leaves out the
    fields only the v2.1 draft has: Translator, Tags, StoryArcNumber and GTIN.
    Values that the schema's enumerations cannot express (an age rating outside the
    list, a rating outside 0-5) are left out rather than written invalid.
    """
    if version not in ("2.0", "2.1"):
        raise ValueError(f"unsupported ComicInfo version: {version!r}")
    root = ET.Element("ComicInfo", {"xmlns:xsd": _XSD_NS, "xmlns:xsi": _XSI_NS})
    for spec in _COMICINFO_FIELDS:
        if spec.v21 and version == "2.0":
            continue
        if spec.kind == "pages":
            if meta.pages:
                pages = (_page_element(page) for page in meta.pages)
                ET.SubElement(root, "Pages").extend(page for page in pages if page is not None)
        elif (text := _field_text(meta, spec, version)) is not None:
            ET.SubElement(root, spec.element).text = _xml_safe(text)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n'.encode()


# --------------------------------------------------------------------------------------
# MetronInfo.xml
# --------------------------------------------------------------------------------------


def _texts(elem: ET.Element | None, child: str) -> list[str]:
    return [text for item in _all_children(elem, child) if (text := _text(item))]


def _read_metron_series(meta: ComicMetadata, series: ET.Element) -> None:
    parts = _first_children(series, meta, "Series")
    meta.series = _text(parts.get("name"))
    meta.volume = _int_value(meta, "volume", _text(parts.get("volume")))
    meta.count = _int_value(meta, "count", _text(parts.get("issuecount")))
    meta.format = _text(parts.get("format"))
    meta.language_iso = _language(series.get("lang"))


def _read_metron_credits(meta: ComicMetadata, credits: ET.Element | None) -> None:
    for credit in _all_children(credits, "credit"):
        person = _text(next(iter(_all_children(credit, "creator")), None))
        for roles in _all_children(credit, "roles"):
            for role in _texts(roles, "role"):
                _add_credit(meta, person, role)


def _read_metron_ids(meta: ComicMetadata, ids: ET.Element | None) -> None:
    for item in _all_children(ids, "id"):
        key = _SOURCE_KEYS.get((item.get("source") or "").casefold())
        if key and (value := _text(item)):
            meta.identifiers.setdefault(key, value)


def _read_metron_arcs(meta: ComicMetadata, arcs: ET.Element | None) -> None:
    for arc in _all_children(arcs, "arc"):
        parts = {_local(child.tag): _text(child) for child in arc}
        if name := parts.get("name"):
            meta.story_arc.append(name)
            meta.story_arc_number.append(parts.get("number") or "")
    if not any(meta.story_arc_number):
        meta.story_arc_number = []


def _read_metron_gtin(meta: ComicMetadata, gtin: ET.Element | None) -> None:
    parts = {_local(child.tag): _text(child) for child in gtin} if gtin is not None else {}
    for scheme in ("isbn", "upc"):
        if value := parts.get(scheme):
            meta.identifiers.setdefault(scheme, value)
            meta.gtin = meta.gtin or value


def _read_metron_rating(meta: ComicMetadata, rating: ET.Element | None) -> None:
    if rating is not None:
        average = next(iter(_all_children(rating, "averagerating")), None)
        meta.community_rating = _rating_value(meta, _text(average) if average is not None else _text(rating))


def read_metroninfo(data: bytes) -> ComicMetadata:
    """Read a MetronInfo.xml (v1.0 or the v1.1 draft), in any element order."""
    root = _parse_xml(data, "MetronInfo")
    meta = ComicMetadata(source=SOURCE_METRONINFO)
    top = _first_children(root, meta, "MetronInfo")
    _read_metron_ids(meta, top.get("ids"))
    if (publisher := top.get("publisher")) is not None:
        parts = _first_children(publisher, meta, "Publisher")
        meta.publisher, meta.imprint = _text(parts.get("name")), _text(parts.get("imprint"))
    if (series := top.get("series")) is not None:
        _read_metron_series(meta, series)
    meta.number = _text(top.get("number"))
    meta.alternate_number = _text(top.get("alternativenumber"))
    meta.title = "; ".join(_texts(top.get("stories"), "story")) or _text(top.get("collectiontitle"))
    meta.summary = _rich_text(top["summary"]) if "summary" in top else None
    meta.notes = _rich_text(top["notes"]) if "notes" in top else None
    _set_date(meta, _text(top.get("coverdate")))
    meta.page_count = _int_value(meta, "page_count", _text(top.get("pagecount")))
    meta.genre = _texts(top.get("genres"), "genre")
    meta.tags = _texts(top.get("tags"), "tag")
    _read_metron_arcs(meta, top.get("arcs"))
    meta.characters = _texts(top.get("characters"), "character")
    meta.teams = _texts(top.get("teams"), "team")
    meta.locations = _texts(top.get("locations"), "location")
    _read_metron_gtin(meta, top.get("gtin"))
    meta.age_rating = _text(top.get("agerating"))
    meta.web = _texts(top.get("urls"), "url")
    _read_metron_credits(meta, top.get("credits"))
    _read_metron_rating(meta, top.get("communityrating"))
    for url in meta.web:
        _scan_identifiers(url, meta.identifiers)
    _scan_identifiers(meta.notes, meta.identifiers)
    return meta


# --------------------------------------------------------------------------------------
# CoMet
# --------------------------------------------------------------------------------------

_COMET_TEXT = {
    "title": "title", "series": "series", "issue": "number", "publisher": "publisher", "format": "format",
}  # fmt: skip
_COMET_LISTS = {"genre": "genre", "character": "characters"}
_COMET_CREDITS = {
    "writer": "writer", "penciller": "penciller", "inker": "inker", "colorist": "colorist",
    "letterer": "letterer", "coverdesigner": "cover artist", "editor": "editor",
}  # fmt: skip


def read_comet(data: bytes) -> ComicMetadata:
    """Read a CoMet XML document (repeated elements such as <character> are lists)."""
    root = _parse_xml(data, "comet")
    meta = ComicMetadata(source=SOURCE_COMET)
    single: dict[str, str | None] = {}
    for child in root:
        name, value = _local(child.tag), _text(child)
        if name in _COMET_LISTS:
            getattr(meta, _COMET_LISTS[name]).extend([value] if value else [])
        elif name in _COMET_CREDITS:
            _add_credit(meta, value, _COMET_CREDITS[name])
        elif name in single:
            meta.warnings.append(f"comet: duplicate <{child.tag}> ignored, the first one wins")
        else:
            single[name] = value if name != "description" else _rich_text(child)
    for name, attr in _COMET_TEXT.items():
        setattr(meta, attr, single.get(name))
    meta.summary = single.get("description")
    meta.volume = _int_value(meta, "volume", single.get("volume"))
    meta.page_count = _int_value(meta, "page_count", single.get("pages"))
    meta.language_iso = _language(single.get("language"))
    meta.age_rating = single.get("rating")
    direction = (single.get("readingdirection") or "").casefold()
    meta.right_to_left = {"rtl": True, "ltr": False}.get(direction)
    _set_date(meta, single.get("date"))
    _scan_identifiers(single.get("identifier"), meta.identifiers)
    return meta


# --------------------------------------------------------------------------------------
# ComicBookInfo (JSON in the archive comment)
# --------------------------------------------------------------------------------------


def _cbi_person(name: object) -> str | None:
    """CBI writes "Last, First"; ComicInfo lists are comma separated, so reorder it."""
    if not isinstance(name, str) or not name.strip():
        return None
    last, sep, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if sep and "," not in first else name.strip()


def _cbi_string(raw: object) -> str | None:
    if raw is None or isinstance(raw, (dict, list, bool)):
        return None
    return str(raw).strip() or None


def _cbi_list(raw: object) -> list[Any]:
    """A JSON array, or nothing: a string where a list belongs must not become its letters."""
    return raw if isinstance(raw, list) else []


def read_comicbookinfo(comment: bytes) -> ComicMetadata | None:
    """Read ComicBookInfo JSON from an archive comment.

    Returns None when the comment is not ComicBookInfo at all (archive comments hold
    all sorts of text); raises :class:`MetadataError` when it claims to be and is broken.
    """
    text = comment.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if _CBI_KEY not in text:
        return None
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise MetadataError(f"ComicBookInfo: bad JSON: {exc}") from exc
    info = document.get(_CBI_KEY) if isinstance(document, dict) else None
    if not isinstance(info, dict):
        raise MetadataError(f"ComicBookInfo: {_CBI_KEY!r} is not an object")
    meta = ComicMetadata(source=SOURCE_COMICBOOKINFO)
    meta.series, meta.title = _cbi_string(info.get("series")), _cbi_string(info.get("title"))
    meta.number, meta.publisher = _cbi_string(info.get("issue")), _cbi_string(info.get("publisher"))
    meta.summary = _plain_text(_cbi_string(info.get("comments")) or "")
    meta.count = _int_value(meta, "count", info.get("numberOfIssues"))
    meta.volume = _int_value(meta, "volume", info.get("volume"))
    meta.year = _int_value(meta, "year", info.get("publicationYear"))
    meta.month = _int_value(meta, "month", info.get("publicationMonth"))
    meta.page_count = _int_value(meta, "page_count", info.get("pages"))
    meta.language_iso = _language(_cbi_string(info.get("language")))
    meta.genre = _split_list(_cbi_string(info.get("genre")))
    meta.tags = [tag for raw in _cbi_list(info.get("tags")) if (tag := _cbi_string(raw))]
    meta.community_rating = _rating_value(meta, info.get("rating"))
    for credit in _cbi_list(info.get("credits")):
        if isinstance(credit, dict):
            _add_credit(meta, _cbi_person(credit.get("person")), _cbi_string(credit.get("role")))
    return meta


# --------------------------------------------------------------------------------------
# Everything an archive holds
# --------------------------------------------------------------------------------------

_READERS: tuple[tuple[str, Callable[[bytes], ComicMetadata]], ...] = (
    ("comicinfo.xml", read_comicinfo),
    ("metroninfo.xml", read_metroninfo),
    ("comet.xml", read_comet),
)


def _by_basename(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """Index files by lower-cased base name; the first path seen for a name wins."""
    found: dict[str, bytes] = {}
    for path, data in files.items():
        found.setdefault(path.replace("\\", "/").rpartition("/")[2].casefold(), data)
    return found


def _merge_all(records: Iterable[ComicMetadata]) -> ComicMetadata | None:
    merged: ComicMetadata | None = None
    for record in records:
        merged = record if merged is None else merged.merge(record)
    return merged


def parse_metadata(files: Mapping[str, bytes], comment: bytes | None = None) -> ComicMetadata | None:
    """Read every metadata format an archive reader found and merge them.

    ``files`` maps names ("ComicInfo.xml", "MetronInfo.xml", "CoMet.xml"; matched
    case-insensitively on the base name) to their bytes; ``comment`` is the archive
    comment, where ComicBookInfo lives. Priority on conflicts is
    ComicInfo > MetronInfo > CoMet > ComicBookInfo.

    A broken file does not hide good ones: its error goes into ``warnings`` of the
    result. Only when every file present is broken is :class:`MetadataError` raised.
    Returns None when the archive has no metadata at all.
    """
    available = _by_basename(files)
    records: list[ComicMetadata] = []
    errors: list[str] = []
    for name, reader in _READERS:
        if name in available:
            try:
                records.append(reader(available[name]))
            except MetadataError as exc:
                errors.append(str(exc))
    if comment:
        try:
            if (cbi := read_comicbookinfo(comment)) is not None:
                records.append(cbi)
        except MetadataError as exc:
            errors.append(str(exc))
    merged = _merge_all(records)
    if merged is None:
        if errors:
            raise MetadataError("; ".join(errors))
        return None
    merged.warnings[:0] = errors
    return merged
