"""Fixture paths and small builders shared by the archive tests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "archives"

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CAPTAIN_SCIENCE_PAGES = [f"Captain Science 001/CaptainScience#1_0{n}.jpg" for n in range(1, 6)]


def fixture(origin: str, name: str) -> Path:
    """Path of a stored fixture; fails loudly if it is missing rather than skipping."""
    path = FIXTURES / origin / name
    assert path.is_file(), f"missing fixture {path}"
    return path


def make_jpeg(width: int = 16, height: int = 24, color: str = "red") -> bytes:
    """A small real JPEG, so page bytes can be checked by decoding, not just by magic."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A cache dir of the test's own, so tests can check nothing is left behind."""
    return tmp_path / "cache"
