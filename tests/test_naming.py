"""The rename template and file-name safety, table-tested."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comicsrv.naming import (
    FIELDS, MAX_NAME_BYTES, NamingError, pad_issue, render_path, safe_component,
    validate_template,
)
from comicsrv.settings_store import SETTINGS

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


# Walks from a field to the app's SECRET_KEY; str.format rendered it.
EXPLOIT = "{issue.__init__.__globals__[re].enum.sys.modules[flask].current_app.config[SECRET_KEY]}"


@pytest.mark.parametrize("template, message", [
    (EXPLOIT, "a field is a plain name, without attributes or indexing"),
    ("{series.upper}", "without attributes or indexing"),
    ("{series[0]}", "without attributes or indexing"),
    ("{series!r}", "conversions such as !r are not part of rename templates"),
    ("{series!s:>3}", "conversions such as !r"),
    ("{issue:1000000000}", "the width must be between 1 and 16"),
    ("{issue:9" + "9" * 5000 + "}", "the width must be between 1 and 16"),
    ("{issue:17}", "the width must be between 1 and 16"),
    ("{issue:0}", "the width must be between 1 and 16"),
    ("{issue:x3}", "a format is a zero-padded width such as {issue:03}, nothing else"),
    ("{issue:>3}", "a format is a zero-padded width"),
    ("{issue:-3}", "a format is a zero-padded width"),
    ("{issue:٣}", "a format is a zero-padded width"),  # a digit, but not 0-9
    ("{year:04d}", "a format is a zero-padded width"),
    ("{year:,}", "a format is a zero-padded width"),
    ("{series:03}", "only a number field (issue, number, volume, year) takes a format"),
    ("{title:<20}", "only a number field"),
    ("{series:{year}}", "is not closed"),
    ("{series", "is not closed"),
    ("series}", "closes nothing"),
    ("{}", "{} names no field"),
    ("{0}", "unknown field {0}"),
    ("{nope}", "unknown field {nope}"),
    ("{Series}", "unknown field {Series}"),
    ("", "empty"),
    ("   ", "empty"),
    ("/ /.cbz", "names no file"),
])
def test_bad_templates_get_clear_errors(template, message):
    pattern = re.escape(message)
    with pytest.raises(NamingError, match=pattern):
        validate_template(template)
    # Rendering parses again: a template stored some other way fails the same.
    with pytest.raises(NamingError, match=pattern):
        render_path(template, {"series": "Saga", "issue": "1"}, ".cbz")


def test_every_documented_field_renders():
    documented = set(re.findall(r"\{(\w+)\}", SETTINGS["postprocess.rename_template"].description))
    assert documented == set(FIELDS)
    fields = {"series": "Saga", "year": 2012, "volume": 2, "issue": "7", "title": "Chapter Seven",
              "publisher": "Image"}
    expected = {**fields, "year": "2012", "volume": "2", "number": "7"}
    for name in FIELDS:
        assert render_path(f"x {{{name}}}", fields, ".cbz") == f"x {expected[name]}.cbz", name


@pytest.mark.parametrize("template, expected", [
    ("{issue:03}", "007"),
    ("{issue:3}", "007"),  # the same: a number pads with zeros
    ("{number:03}", "007"),
    ("{issue:1}", "7"),
    ("{year:06}", "002012"),
    ("v{volume:02}", "v02"),
    ("{{{series}}}", "{Saga}"),
    ("{series} {{x}}", "Saga {x}"),
])
def test_zero_padded_widths_and_braces(template, expected):
    fields = {"series": "Saga", "year": 2012, "volume": 2, "issue": "7"}
    assert render_path(template, fields) == expected


def test_widths_pad_issue_numbers_by_their_integer_part():
    assert render_path("{issue:04}", {"issue": "1.5"}) == "0001.5"
    assert render_path("{number:03}", {"issue": "-1"}) == "-001"
    assert render_path("{issue:03}", {"issue": "Alpha"}) == "Alpha"
    assert render_path("{series} {issue:03}", {"series": "Saga", "issue": None}) == "Saga"


def test_the_widest_template_stays_small():
    template = "/".join(["{issue:16}"] * 12)
    path = render_path(template, {"issue": "1"}, ".cbz")
    assert path == "/".join(["0" * 15 + "1"] * 12) + ".cbz"


def test_validate_keeps_a_good_template():
    assert validate_template(f"  {TEMPLATE}  ") == TEMPLATE
    assert validate_template("{publisher}/{series} v{volume:02}/{series} #{number:3}") == (
        "{publisher}/{series} v{volume:02}/{series} #{number:3}")
    assert SETTINGS["postprocess.rename_template"].default == TEMPLATE


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"{}:!.[]0123456789/\\ <>^", *FIELDS]), max_size=30)
       .map("".join) | st.text(max_size=60))
def test_any_text_is_a_template_or_a_naming_error(template):
    try:
        validate_template(template)
    except NamingError:
        return
    path = render_path(template, {"series": "Saga", "year": 2012, "volume": 2, "issue": "7",
                                  "title": "T", "publisher": "P"}, ".cbz")
    assert path.endswith(".cbz") and ".." not in path.split("/")
    assert all(len(part.encode()) <= MAX_NAME_BYTES for part in path.split("/"))
