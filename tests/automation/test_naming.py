"""The rename template and file-name safety, table-tested."""
import pytest

from comicsrv.automation.naming import (
    MAX_NAME_BYTES, NamingError, pad_issue, render_path, safe_component,
)

TEMPLATE = "{series} ({year})/{series} {issue:03} ({year})"


@pytest.mark.parametrize("number, width, expected", [
    ("1", 3, "001"),
    ("12", 3, "012"),
    ("1234", 3, "1234"),
    ("1.5", 3, "001.5"),
    ("½", 3, "000½"),
    ("-1", 3, "-001"),
    ("0", 3, "000"),
    ("10AU", 3, "010AU"),
    ("1.MU", 2, "01.MU"),
    ("Alpha", 3, "Alpha"),
    (" 7 ", 3, "007"),
    ("", 3, ""),
    (None, 3, ""),
])
def test_pad_issue(number, width, expected):
    assert pad_issue(number, width) == expected


@pytest.mark.parametrize("name, expected", [
    ("Saga", "Saga"),
    ("Batman: Year One", "Batman - Year One"),
    ('Say "Hi"', "Say 'Hi'"),
    ("AC/DC", "AC-DC"),
    ("back\\slash", "back-slash"),
    ("Who? What* <When> |Why|", "Who What When Why"),
    ("trailing dots...", "trailing dots"),
    ("trailing space   ", "trailing space"),
    ("tab\there\x00nul\x1f", "tabherenul"),
    ("CON", "_CON"),
    ("nul", "_nul"),
    ("com1.cbz", "_com1.cbz"),
    ("LPT9", "_LPT9"),
    ("CONSOLE", "CONSOLE"),
    ("..", "_"),
    (".", "_"),
    ("", "_"),
    ("e\u0301te\u0301", "\u00e9t\u00e9"),  # NFD (macOS) becomes NFC
])
def test_safe_component(name, expected):
    assert safe_component(name) == expected


def test_safe_component_cuts_long_names_at_a_character_boundary():
    name = "\u00e9" * 300  # two bytes each in UTF-8
    safe = safe_component(name, reserve=10)
    assert len(safe.encode()) <= MAX_NAME_BYTES - 10
    assert safe == "\u00e9" * ((MAX_NAME_BYTES - 10) // 2)


@pytest.mark.parametrize("fields, expected", [
    ({"series": "Saga", "year": 2012, "issue": "1"}, "Saga (2012)/Saga 001 (2012).cbz"),
    ({"series": "Saga", "year": 2012, "issue": "½"}, "Saga (2012)/Saga 000½ (2012).cbz"),
    ({"series": "Saga", "year": 2012, "issue": "-1"}, "Saga (2012)/Saga -001 (2012).cbz"),
    ({"series": "Saga", "year": None, "issue": "54"}, "Saga/Saga 054.cbz"),
    ({"series": "Batman: The Dark Knight", "year": 2011, "issue": "1.5"},
     "Batman - The Dark Knight (2011)/Batman - The Dark Knight 001.5 (2011).cbz"),
    ({"series": "AC/DC", "year": 2020, "issue": "3"}, "AC-DC (2020)/AC-DC 003 (2020).cbz"),
    ({"series": "Dots...", "year": None, "issue": None}, "Dots/Dots.cbz"),
])
def test_render_default_template(fields, expected):
    assert render_path(TEMPLATE, fields, ".cbz") == expected


def test_render_other_fields_and_plain_issue():
    fields = {"series": "Saga", "issue": "7", "title": "Chapter Seven", "publisher": "Image",
              "volume": 1, "year": 2012}
    assert (render_path("{publisher}/{series} v{volume}/{series} #{issue} - {title}.cbz",
                        fields, ".cbr")
            == "Image/Saga v1/Saga #7 - Chapter Seven.cbr")


def test_render_keeps_the_file_name_short_enough_for_a_suffix_and_extension():
    path = render_path("{series}", {"series": "x" * 400}, ".cbz")
    assert len(path.encode()) <= MAX_NAME_BYTES
    assert path.endswith(".cbz")


def test_render_never_escapes_the_library():
    path = render_path("../{series}/../../x", {"series": ".."}, ".cbz")
    assert ".." not in path.split("/")


@pytest.mark.parametrize("template, message", [
    ("{nope}", "unknown field {nope}"),
    ("{issue:x3}", "issue width"),
    ("", "empty"),
    ("{series", "bad rename template"),
])
def test_bad_templates_get_clear_errors(template, message):
    with pytest.raises(NamingError, match=message.replace("{", r"\{").replace("}", r"\}")):
        render_path(template, {"series": "Saga", "issue": "1"}, ".cbz")
