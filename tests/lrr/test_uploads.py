"""Upload file names: what a client sends is never a path."""
import pytest

from comicsrv.lrr.uploads import safe_filename


@pytest.mark.parametrize(("name", "expected"), [
    ("Saga 001.cbz", "Saga 001.cbz"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\comic.cbr", "comic.cbr"),
    (".hidden.cbz", "hidden.cbz"),
    ("a<b>c:d|e?.cbz", "abcde.cbz"),
    ("line\nbreak.cbz", "linebreak.cbz"),
    ("", ""),
    (None, ""),
    ("...", ""),
    ("é" * 200 + ".cbz", "é" * 118 + ".cbz"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected
