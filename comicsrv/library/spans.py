"""Where each stored page of a book lies in its file, as one compact array.

A page kept uncompressed in a zip (most CBZs) is a contiguous byte range of
the archive, served with one ``sendfile`` and no decompression. Serving it
needs that range, and the ``pages`` table holds it row by row: finding one
page meant loading every page row of the book (13 % of a page request). The
book's row carries them all instead, in ``books.page_spans``: for page *i*,
little-endian int64 ``offset`` and ``length`` at bytes ``16 i`` to
``16 i + 16``, the offset -1 for a page that must be unpacked. A 200-page
book is 3.2 KB, read with the book in the one query a page request makes.
NULL when no page of the book is stored (RAR, 7z, PDF, deflated zips).
"""
from __future__ import annotations

import struct
from typing import Iterable

_SPAN = struct.Struct("<qq")
NOT_STORED = -1


def encode(spans: Iterable[tuple[int | None, int | None]]) -> bytes | None:
    """``(offset, length)`` per page in reading order (either None for a
    page that is not stored) as the column's bytes, or None if none is."""
    packed = bytearray()
    stored = False
    for offset, length in spans:
        if offset is None or length is None or offset < 0 or length < 0:
            packed += _SPAN.pack(NOT_STORED, 0)
        else:
            packed += _SPAN.pack(offset, length)
            stored = True
    return bytes(packed) if stored else None


def span(encoded: bytes | None, index: int) -> tuple[int, int] | None:
    """The ``(offset, length)`` of page ``index`` (0-based), or None when
    the page is not stored (or the array does not reach it)."""
    if not encoded or index < 0 or (index + 1) * _SPAN.size > len(encoded):
        return None
    offset, length = _SPAN.unpack_from(encoded, index * _SPAN.size)
    return None if offset == NOT_STORED else (offset, length)
