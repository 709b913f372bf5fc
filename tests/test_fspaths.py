"""Paths that are not valid UTF-8: the stored form is lossless and is valid
text for both databases; the shown form is readable and comes back."""
import os

from hypothesis import given
from hypothesis import strategies as st

from comicsrv.fspaths import display, from_display, from_storage, to_storage

# Any file name a Linux file system can hold: bytes without NUL or "/".
_NAME_BYTES = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b and b"/" not in b)


@given(st.lists(_NAME_BYTES, min_size=1, max_size=4))
def test_every_path_round_trips_through_the_stored_form(parts):
    path = os.fsdecode(b"/comics/" + b"/".join(parts))
    stored = to_storage(path)
    stored.encode("utf-8")  # valid text: no lone surrogate left
    assert from_storage(stored) == path
    assert os.fsencode(from_storage(stored)) == b"/comics/" + b"/".join(parts)


@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_ordinary_text_is_stored_unchanged(text):
    if "\ufdd0" not in text:
        assert to_storage(text) == text
    assert from_storage(to_storage(text)) == text


def test_latin1_name_is_stored_reversibly_and_shown_escaped():
    path = os.fsdecode(b"/comics/Caf\xe9 #1.cbz")
    assert path == "/comics/Caf\udce9 #1.cbz"
    assert to_storage(path) == "/comics/Caf\ufdd0E9 #1.cbz"
    assert display(path) == "/comics/Caf\\xe9 #1.cbz"
    assert from_display(display(path)) == path
    assert display("/comics/Café #1.cbz") == "/comics/Café #1.cbz"
    assert to_storage("/a/\ufdd0b") == "/a/\ufdd0\ufdd0b"
    assert (to_storage(None), from_storage(None), display(None)) == (None, None, None)


def test_a_stored_text_with_a_stray_mark_is_read_as_it_is():
    """Rows written before this scheme never hold the mark in practice; if
    one does, it is kept rather than mangled."""
    assert from_storage("/a/\ufdd0zz") == "/a/\ufdd0zz"
