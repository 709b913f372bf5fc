"""Where an imported file goes: the rename template and file-name safety.

The template (setting ``postprocess.rename_template``) is a relative path
without the extension, ``{series} ({year})/{series} {issue:03} ({year})``.
Each path component is rendered and made safe on its own, so a series called
"AC/DC" never creates a folder, and every name is one that Windows, macOS,
Linux and the usual NAS file systems all accept.

The template is a closed little language, parsed here, never handed to
``str.format``: Python's format strings reach attributes and items of their
arguments (``{issue.__init__.__globals__[...]}`` walked from a field to the
app's SECRET_KEY), convert with ``!r`` and take any width (``{issue:1000000000}``
builds a gigabyte string). Here a field is a plain name from ``FIELDS``; a
number field may take one format, a zero-padded width of at most
``MAX_WIDTH`` (``{issue:03}``: ``7`` -> ``007``, ``1.5`` -> ``001.5``;
``{issue:3}`` is the same); ``{{`` and ``}}`` are literal braces. Nothing else:
widths with spaces would be squeezed out of the file name anyway.

``validate_template`` is what the settings store runs on save;
``render_path`` parses again before every use, so a template that reached the
database some other way still cannot do more than this.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import BadRequest

# Every field a template may name; "number" is another name for "issue".
FIELDS = ("series", "year", "volume", "issue", "number", "title", "publisher")
NUMBER_FIELDS = frozenset({"year", "volume", "issue", "number"})
_ALIASES = {"number": "issue"}
# The widest a field may be padded: an issue number or a year needs 3 or 4.
MAX_WIDTH = 16
DEFAULT_TEMPLATE = "{series} ({year})/{series} {issue:03} ({year})"
# ext4, btrfs, XFS and ZFS count a name's length in bytes.
MAX_NAME_BYTES = 255
# Room kept for the extension and a " (99)" suffix when a name is taken.
SUFFIX_ROOM = 6
WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{n}" for p in ("COM", "LPT") for n in list("123456789") + ["¹", "²", "³"]]
)
_FRACTIONS = "½¼¾⅓⅔⅛⅜⅝⅞"
_NUMBER = re.compile(r"^(-?)(\d*)(.*)$", re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMPTY_GROUPS = re.compile(r"\(\s*\)|\[\s*\]|\{\s*\}")
_SPACES = re.compile(r"\s+")
_SEPARATORS = re.compile(r"[/\\]")
_COMIC_EXTENSION = re.compile(r"\.(cbz|cbr|cb7|cbt|pdf)$", re.I)
_FIELD_LIST = ", ".join("{" + f + "}" for f in FIELDS)


class NamingError(BadRequest):
    code = "bad_rename_template"


def pad_issue(number: str | None, width: int) -> str:
    """The issue number with its integer part zero-padded to ``width``.

    ``"1"`` -> ``"001"``, ``"1.5"`` -> ``"001.5"``, ``"-1"`` -> ``"-001"``,
    ``"½"`` -> ``"000½"``, ``"10AU"`` -> ``"010AU"``; a number without digits
    ("Alpha") stays as it is.
    """
    if not number:
        return ""
    text = number.strip()
    sign, digits, rest = _NUMBER.match(text).groups()
    if not digits:
        if not rest or rest[0] not in _FRACTIONS:
            return text
        digits = "0"
    return f"{sign}{digits.zfill(width)}{rest}"


# --- the template language --------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One ``{name}`` or ``{name:0N}`` of a template, checked."""

    name: str
    # Zero-pad the number's integer part to this many digits (0: as it is).
    width: int = 0

    def render(self, value: Any) -> str:
        if value is None:
            return ""
        text = str(value).strip()
        return pad_issue(text, self.width) if self.width else text


# A parsed template is a list of path components, each a list of literal
# texts and fields.
Component = list


def _field(source: str) -> Field:
    """``source`` is what stands between ``{`` and ``}``."""
    name, colon, spec = source.partition(":")
    shown = "{" + source + "}"
    if "!" in name:
        raise NamingError(f"{shown}: conversions such as !r are not part of rename templates; "
                          f"use a plain field such as {{series}}")
    if any(c in name for c in ".[]"):
        raise NamingError(f"{shown}: a field is a plain name, without attributes or indexing; "
                          f"known fields: {_FIELD_LIST}")
    if name not in FIELDS:
        what = f"unknown field {shown}" if name else f"{shown} names no field"
        raise NamingError(f"{what} in the rename template; known fields: {_FIELD_LIST}")
    if not colon:
        return Field(name)
    if name not in NUMBER_FIELDS:
        raise NamingError(f"{shown}: only a number field ({', '.join(sorted(NUMBER_FIELDS))}) "
                          "takes a format, a zero-padded width such as {issue:03}")
    if not spec.isascii() or not spec.isdigit():
        # Alignment with spaces (">3") would be squeezed out of the file name.
        raise NamingError(f"{shown}: a format is a zero-padded width such as {{{name}:03}}, "
                          f"nothing else; not {spec!r}")
    width = int(spec) if len(spec) <= 3 else MAX_WIDTH + 1  # never int() a huge one
    if not 1 <= width <= MAX_WIDTH:
        raise NamingError(f"{shown}: the width must be between 1 and {MAX_WIDTH}")
    return Field(name, width)


def parse_template(template: str) -> list[Component]:
    """The template as path components; ``NamingError`` says what is wrong.

    Literal ``/`` and ``\\`` separate folders; ``{{``/``}}`` are braces; a
    trailing comic extension (".cbz") is dropped, the import's own is used.
    """
    if not isinstance(template, str) or not template.strip():
        raise NamingError("the rename template is empty")
    text = _COMIC_EXTENSION.sub("", template.strip())
    components: list[Component] = [[]]
    literal: list[str] = []

    def flush() -> None:
        if literal:
            components[-1].append("".join(literal))
            literal.clear()

    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in "{}" and text[pos + 1:pos + 2] == char:
            literal.append(char)
            pos += 2
        elif char == "{":
            end = text.find("}", pos + 1)
            inner = text[pos + 1:end] if end != -1 else ""
            if end == -1 or "{" in inner:
                raise NamingError(f"bad rename template {template!r}: the {{ at position "
                                  f"{pos + 1} is not closed (write {{{{ for a literal brace)")
            flush()
            components[-1].append(_field(inner))
            pos = end + 1
        elif char == "}":
            raise NamingError(f"bad rename template {template!r}: a }} at position {pos + 1} "
                              "closes nothing (write }} for a literal brace)")
        elif _SEPARATORS.match(char):
            flush()
            components.append([])
            pos += 1
        else:
            literal.append(char)
            pos += 1
    flush()
    components = [c for c in components
                  if any(isinstance(p, Field) or p.strip() for p in c)]
    if not components:
        raise NamingError("the rename template names no file")
    return components


def validate_template(template: str) -> str:
    """The template as stored, or ``NamingError``: the check on save."""
    parse_template(template)
    return template.strip()


# --- file names -----------------------------------------------------------------


def _field_value(value: Any) -> Any:
    """A field's value, with path separators replaced so it stays in one component."""
    if isinstance(value, str):
        return value.replace("/", "-").replace("\\", "-")
    return value


def safe_component(name: str, *, reserve: int = 0) -> str:
    """One file or folder name that every common file system accepts.

    Characters Windows forbids become harmless look-alikes or disappear,
    control characters go, trailing dots and spaces are stripped (Windows and
    SMB drop them silently, which breaks later look-ups), reserved device
    names get a suffix, and the name is cut to ``MAX_NAME_BYTES - reserve``
    bytes of UTF-8 without splitting a character.
    """
    text = unicodedata.normalize("NFC", name)
    text = _CONTROL.sub("", text)
    text = text.replace(":", " - ").replace('"', "'").replace("/", "-").replace("\\", "-")
    text = re.sub(r"[<>|?*]", "", text)
    text = _SPACES.sub(" ", text).strip()
    text = text.strip(" ").rstrip(". ")
    if not text or set(text) == {"."}:
        text = "_"
    if text.split(".")[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        text = "_" + text
    limit = MAX_NAME_BYTES - reserve
    encoded = text.encode("utf-8")
    if len(encoded) > limit:
        text = encoded[:limit].decode("utf-8", "ignore").rstrip(". ")
    return text or "_"


def render_path(template: str, fields: Mapping[str, Any], extension: str = "") -> str:
    """The relative path (``/``-separated) a template gives for ``fields``.

    ``extension`` (".cbz") is appended to the last component; a template
    that already ends with a comic extension has it replaced.
    """
    components = parse_template(template)
    values = {name: _field_value(fields.get(_ALIASES.get(name, name))) for name in FIELDS}
    rendered = []
    for index, component in enumerate(components):
        text = "".join(part.render(values[part.name]) if isinstance(part, Field) else part
                       for part in component)
        text = _SPACES.sub(" ", _EMPTY_GROUPS.sub("", text)).strip()
        last = index == len(components) - 1
        reserve = len(extension.encode()) + SUFFIX_ROOM if last else 0
        rendered.append(safe_component(text, reserve=reserve))
    rendered[-1] += extension
    return "/".join(rendered)


def fields_for(series: Any, issue: Any) -> dict[str, Any]:
    """Template fields from a WatchedSeries and WatchedIssue (either may be None)."""
    year = None
    if issue is not None and (issue.cover_date or issue.store_date):
        year = int((issue.cover_date or issue.store_date)[:4])
    return {
        "series": series.name if series is not None else None,
        # The series' start year names its folder in the default template, as
        # Mylar and Kapowarr do; the cover year only when the series has none.
        "year": (series.year if series is not None and series.year else year),
        "volume": series.volume if series is not None else None,
        "issue": issue.number if issue is not None else None,
        "title": issue.title if issue is not None else None,
        "publisher": series.publisher if series is not None else None,
    }
