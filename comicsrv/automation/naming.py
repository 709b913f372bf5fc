"""Where an imported file goes: the rename template and file-name safety.

The template (setting ``postprocess.rename_template``) is a relative path
without the extension, ``{series} ({year})/{series} {issue:03} ({year})``.
Each path component is rendered and made safe on its own, so a series called
"AC/DC" never creates a folder, and every name is one that Windows, macOS,
Linux and the usual NAS file systems all accept.
"""
from __future__ import annotations

import re
import string
import unicodedata
from typing import Any, Mapping

from ..errors import BadRequest

FIELDS = ("series", "year", "volume", "issue", "title", "publisher")
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


class _Formatter(string.Formatter):
    def get_value(self, key: Any, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if key not in kwargs:
            raise NamingError(f"unknown field {{{key}}} in the rename template; "
                              f"known fields: {', '.join('{' + f + '}' for f in FIELDS)}")
        return kwargs[key]

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return ""
        if isinstance(value, _IssueNumber):
            if not format_spec:
                return value.text
            if not format_spec.isdigit():
                raise NamingError(f"{{issue:{format_spec}}}: the issue width must be digits, "
                                  "as in {issue:03}")
            return pad_issue(value.text, int(format_spec))
        try:
            return format(value, format_spec)
        except ValueError as exc:
            raise NamingError(f"bad format {format_spec!r} in the rename template: {exc}") from None


class _IssueNumber:
    """The issue number as a label; only ``{issue:NN}`` pads it."""

    def __init__(self, text: str) -> None:
        self.text = text


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
    if not template or not template.strip():
        raise NamingError("the rename template is empty")
    values = {name: _field_value(fields.get(name)) for name in FIELDS}
    number = fields.get("issue")
    values["issue"] = _IssueNumber(str(number)) if number not in (None, "") else None
    template = re.sub(r"\.(cbz|cbr|cb7|cbt|pdf)$", "", template.strip(), flags=re.I)
    parts = [p for p in re.split(r"[/\\]", template) if p.strip()]
    if not parts:
        raise NamingError("the rename template names no file")
    formatter = _Formatter()
    rendered = []
    for index, part in enumerate(parts):
        try:
            text = formatter.vformat(part, (), values)
        except (IndexError, KeyError) as exc:
            raise NamingError(f"bad rename template {template!r}: {exc}") from None
        except ValueError as exc:
            raise NamingError(f"bad rename template {template!r}: {exc}") from None
        text = _SPACES.sub(" ", _EMPTY_GROUPS.sub("", text)).strip()
        last = index == len(parts) - 1
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
