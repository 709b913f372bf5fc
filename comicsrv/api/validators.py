"""Marshmallow validators shared by the API surfaces (a surface never
imports another: what two of them use lives here)."""
from __future__ import annotations

import unicodedata

from marshmallow import ValidationError


def plain_text(value: str) -> None:
    """No control characters or lone surrogates: neither belongs in a name,
    and both make database drivers fail (PostgreSQL refuses NUL)."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValidationError("Control characters are not allowed.")


def encodable(value: str) -> None:
    """Passwords may hold any character that has a UTF-8 encoding."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Not valid Unicode text.") from None
