"""File names that are not valid UTF-8: stored losslessly, shown clearly.

Linux file names are bytes. Python decodes them with ``surrogateescape``, so
a name an old SMB client wrote in Latin-1 (``b"Caf\\xe9 #1.cbz"``) arrives as
``"Caf\\udce9 #1.cbz"``: that string opens the file, but PostgreSQL refuses a
lone surrogate in text and SQLite's driver cannot encode one. One such file
used to fail a whole scan.

- :func:`to_storage` / :func:`from_storage`: the text a path is stored as.
  Each escaped byte becomes U+FDD0 and its two hex digits, and a real U+FDD0
  is doubled. U+FDD0 is a Unicode noncharacter, set aside for exactly this
  kind of internal use, so every ordinary path (valid UTF-8, the normal
  case) is stored unchanged and the mapping is reversible for every path.
- :func:`display`: what people and API clients are shown: each byte that is
  not UTF-8 written as ``\\xNN``, as Python's ``backslashreplace`` does
  (``Caf\\xe9 #1.cbz``); :func:`from_display` turns such a path back.

Flask-free and database-free: ``models.library.FsPath`` applies the storage
form to every path column.
"""
from __future__ import annotations

import re

_MARK = "\ufdd0"
# The bytes surrogateescape produces (0x80-0xFF) and the mark itself.
_TO_ESCAPE = re.compile("[\udc80-\udcff\ufdd0]")
_ESCAPED = re.compile("\ufdd0(\ufdd0|[89A-F][0-9A-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


def to_storage(path: str | None) -> str | None:
    """The database text for a path: any ``str`` an OS call returned."""
    if path is None or path.isascii() or (_MARK not in path and _is_utf8(path)):
        return path
    return _TO_ESCAPE.sub(_escape, path)


def _is_utf8(text: str) -> bool:
    """No lone surrogate in ``text`` (the C codec checks far faster than a regex)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escape(match: re.Match) -> str:
    char = match.group()
    return _MARK * 2 if char == _MARK else f"{_MARK}{ord(char) - 0xDC00:02X}"


def from_storage(text: str | None) -> str | None:
    """The path a :func:`to_storage` text stands for (ready for ``open``)."""
    if text is None or _MARK not in text:
        return text
    return _ESCAPED.sub(_unescape, text)


def _unescape(match: re.Match) -> str:
    code = match.group(1)
    return _MARK if code == _MARK else chr(0xDC00 + int(code, 16))


def display(text: str | None) -> str | None:
    """``text`` with every byte that is not UTF-8 shown as ``\\xNN``, for
    names, messages and API fields (any other lone surrogate becomes U+FFFD)."""
    if text is None or text.isascii() or _is_utf8(text):
        return text
    return _SURROGATE.sub(_show, text)


def _show(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def from_display(text: str) -> str:
    """The path a client means when it sends back a :func:`display` form.
    Ambiguous only for a real name with ``\\x`` and hex digits in it, so
    look the text up as it is first."""
    return _SHOWN.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), text)
