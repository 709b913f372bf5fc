"""Tests for comicsrv.comicinfo: reading every metadata format, writing valid ComicInfo.

Fixture files are real documents from other projects (see fixtures/comicinfo/SOURCES.md);
the broken and hostile documents are built inline so each test shows exactly what it feeds in.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from comicsrv.comicinfo import (
    ComicMetadata,
    MetadataError,
    PageInfo,
    parse_metadata,
    read_comet,
    read_comicbookinfo,
    read_comicinfo,
    read_metroninfo,
    to_comicinfo_xml,
)

FIXTURES = Path(__file__).parent / "fixtures" / "comicinfo"
COMICBOX = FIXTURES / "examples" / "comicbox"
KAVITA = FIXTURES / "examples" / "kavita"
METRON = FIXTURES / "metroninfo"

COMICINFO_FIXTURES = [
    COMICBOX / "captain-science-comicinfo.xml",
    COMICBOX / "captain-science-comicinfo-original.xml",
    COMICBOX / "comicinfo-bad-multiple.xml",
    COMICBOX / "comicinfo-metron-origin.xml",
    COMICBOX / "comicinfo-notes-date.xml",
    COMICBOX / "comicinfo-validation.xml",
    KAVITA / "ComicInfo.xml",
    KAVITA / "ComicInfo2-with-pages.xml",
]
OTHER_FIXTURES = {
    "MetronInfo.xml": [
        METRON / "MetronInfo-v1.0-Sample.xml",
        METRON / "metroninfo-v1.0-valid.xml",
        METRON / "metroninfo-v1.0-invalid-dup_primary_attr.xml",
        COMICBOX / "captain-science-metroninfo-full.xml",
        COMICBOX / "metroninfo-v1.1-valid.xml",
    ],
    "CoMet.xml": [COMICBOX / "captain-science-CoMet.xml", COMICBOX / "comet.xml"],
}
CBI_FIXTURES = [COMICBOX / "captain-science-comic-book-info.json", COMICBOX / "comic-book-info-example.json"]
V21_ONLY = {"translator": [], "tags": [], "story_arc_number": [], "gtin": None}


@pytest.fixture(scope="module")
def schema_v20() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(FIXTURES / "xsd" / "ComicInfo-v2.0.xsd"))


@pytest.fixture(scope="module")
def schema_v21() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(FIXTURES / "xsd" / "ComicInfo-v2.1.xsd"))


def comicinfo(*elements: str, root: str = "<ComicInfo>") -> bytes:
    """A ComicInfo.xml holding ``elements``, in the order given."""
    return f'<?xml version="1.0" encoding="utf-8"?>\n{root}{"".join(elements)}</ComicInfo>'.encode()


def assert_valid(schema: xmlschema.XMLSchema, document: bytes) -> None:
    errors = list(schema.iter_errors(document.decode("utf-8")))
    assert not errors, errors[0]


# --------------------------------------------------------------------------------------
# Reading the fixtures
# --------------------------------------------------------------------------------------


def test_captain_science_comicinfo_in_alphabetical_order() -> None:
    # comicbox writes its elements sorted by name: every one is out of schema order.
    meta = read_comicinfo((COMICBOX / "captain-science-comicinfo.xml").read_bytes())
    assert meta.source == "ComicInfo"
    assert (meta.series, meta.number, meta.count, meta.volume) == ("Captain Science", "1", 7, 1950)
    assert meta.title == "The Beginning; The End"
    assert (meta.alternate_series, meta.alternate_number) == ("Captain Science Alternate", "001")
    assert (meta.year, meta.month, meta.day) == (1950, 11, 1)
    assert meta.writer == ["Joe Orlando"]
    assert meta.penciller == meta.inker == ["Wally Wood"]
    assert meta.publisher == "Youthful Adventure Stories"
    assert meta.genre == ["Science Fiction"]
    assert meta.characters == ["Captain Science", "Gordon Dane"]
    assert meta.story_arc == ["Captain Arc", "Other Arc"]
    assert meta.story_arc_number == ["4", "2"]
    assert meta.age_rating == "Teen"
    assert meta.language_iso == "en"
    assert meta.page_count == 5
    assert meta.web == ["https://comicvine.gamespot.com/c/4000-145269/"]
    assert meta.gtin is None  # the GTIN element holds only a URN, which is an id, not a barcode
    assert meta.identifiers == {"comicvine": "145269"}
    assert meta.pages[0] == PageInfo(
        image=0,
        type="FrontCover",
        double_page=False,
        size=4542,
        width=None,
        height=None,
        key=None,
        bookmark=None,
    )
    assert [page["size"] for page in meta.pages] == [4542, 4065, 4081, 4157, 4108]
    assert meta.warnings == []


def test_comicrack_style_original_drops_the_unknown_page_count_silently() -> None:
    meta = read_comicinfo((COMICBOX / "captain-science-comicinfo-original.xml").read_bytes())
    assert meta.page_count is None  # <PageCount>0</PageCount> is the schema's "unknown"
    assert meta.warnings == []
    assert len(meta.pages) == 5


def test_duplicate_elements_first_wins_and_says_so() -> None:
    meta = read_comicinfo((COMICBOX / "comicinfo-bad-multiple.xml").read_bytes())
    assert meta.publisher == "Youthful Adventure Stories"
    assert meta.genre == ["Science Fiction", "Fantasy"]
    assert meta.count == 7
    assert meta.day == 1
    assert meta.warnings == [
        "ComicInfo: duplicate <Publisher> ignored, the first one wins",
        "ComicInfo: duplicate <Genre> ignored, the first one wins",
    ]


def test_validation_fixture_keeps_good_pages_and_reports_bad_values() -> None:
    meta = read_comicinfo((COMICBOX / "comicinfo-validation.xml").read_bytes())
    assert meta.series == "2"
    assert meta.title is None  # <Title/>
    assert meta.language_iso == "en"  # written "English"
    assert len(meta.pages) == 36
    assert meta.pages[1]["type"] is None  # Type="FOO"
    assert meta.pages[2]["size"] == 458657  # the unknown EXTRA attribute is ignored
    assert meta.pages[4]["size"] is None  # ImageSize="boochalla"
    assert meta.pages[25]["size"] is None  # no ImageSize
    assert meta.warnings == [
        "pages: unknown page Type 'FOO' ignored",
        "pages: imagesize is not a number: 'boochalla'",
        "pages: imagesize is not a number: \"{'a': 'b'}\"",
    ]


def test_metron_origin_ids_come_from_urns_and_urls_before_notes() -> None:
    meta = read_comicinfo((COMICBOX / "comicinfo-metron-origin.xml").read_bytes())
    # Notes say "using info from Metron [Issue ID 145269]", but the GTIN URN and the Web
    # URL name Metron issue 99999; the explicit ids win.
    assert meta.identifiers == {"comicvine": "145269", "metron": "99999"}
    assert meta.web == ["https://comicvine.gamespot.com/c/4000-145269/", "https://metron.cloud/issue/99999"]


def test_notes_only_document() -> None:
    meta = read_comicinfo((COMICBOX / "comicinfo-notes-date.xml").read_bytes())
    assert meta.notes == (
        "Tagged with comicbox dev on 1970-01-01T00:00:00Z [Issue ID 145269] [CVDB145269] [RELDATE:2025-04-11]"
    )
    assert meta.identifiers == {"comicvine": "145269"}
    assert meta.series is None


def test_kavita_btooom() -> None:
    meta = read_comicinfo((KAVITA / "ComicInfo.xml").read_bytes())
    assert (meta.title, meta.series, meta.publisher) == ("v01", "BTOOOM!", "Yen Press")
    assert meta.genre == ["Manga", "Movies & TV"]
    assert meta.page_count == 194
    assert meta.scan_information is None  # <ScanInformation></ScanInformation>
    assert meta.summary is not None and meta.summary.startswith("By all counts, Ryouta Sakamoto is a loser")
    assert meta.identifiers == {"comixology": "450184"}


def test_kavita_hellboy_with_page_dimensions() -> None:
    meta = read_comicinfo((KAVITA / "ComicInfo2-with-pages.xml").read_bytes())
    assert (meta.series, meta.title, meta.volume) == ("Hellboy", "The Right Hand of Doom", 4)
    assert meta.number is None and meta.count is None  # <Number /> and <Count />
    assert meta.summary is not None and meta.summary.endswith("in the form of a demonic avatar.")
    assert meta.colorist == ["Dave Stewart"]
    assert meta.letterer == ["Pat Brosseau"]
    assert meta.cover_artist == ["Mike Mignola"]
    assert meta.editor == ["Scott Allie"]
    assert meta.format == "TPB"
    assert meta.manga is False
    assert meta.right_to_left is None
    assert meta.series_group == ["Hellboy"]
    assert meta.genre == ["Supernatural/Occult", "Horror", "Action/Adventure"]
    assert "Lady Cynthia Eden-Jones" in meta.characters
    assert meta.scan_information == "(2003, 2nd edition)"
    assert meta.identifiers == {"comicvine": "194124"}
    assert len(meta.pages) == meta.page_count == 147
    assert meta.pages[0] == PageInfo(
        image=0,
        type="FrontCover",
        double_page=False,
        size=1034634,
        width=1988,
        height=3056,
        key=None,
        bookmark=None,
    )
    assert (meta.pages[146]["width"], meta.pages[146]["height"]) == (2400, 2034)


def test_metroninfo_sample() -> None:
    meta = read_metroninfo((METRON / "MetronInfo-v1.0-Sample.xml").read_bytes())
    assert meta.source == "MetronInfo"
    assert (meta.series, meta.volume, meta.number, meta.count) == ("Justice League", 2, "1", 60)
    assert (meta.publisher, meta.imprint) == ("DC Comics", "Vertigo")
    assert meta.format == "Single Issue"
    assert meta.language_iso == "en"
    assert meta.title == "Justice League, Part One; Justice League, Part Two"
    assert (meta.year, meta.month, meta.day) == (2011, 10, 1)
    assert meta.page_count == 32
    assert meta.writer == ["Geoff Johns"]
    assert meta.penciller == ["Jim Lee"]
    assert meta.inker == ["Scott Williams"]
    assert meta.colorist == ["Alex Sinclair"]
    assert meta.letterer == ["Pat Brosseau"]
    assert meta.cover_artist == [
        "David Finch",
        "Richard Friend",
        "Jim Lee",
        "Scott Williams",
        "Alex Sinclair",
    ]
    assert meta.editor == ["Rex Ogle", "Eddie Berganza"]  # "Associate Editor" counts; "Publisher" does not
    assert meta.genre == ["Super-Hero", "Crime", "Foo Bar"]
    assert meta.tags == ["Foo", "Bar"]
    assert meta.story_arc == ["Origin", "The New 52!"]
    assert meta.story_arc_number == ["1", ""]  # positions kept: the second arc has no number
    assert meta.teams == ["Justice League", "Parademons"]
    assert meta.locations == ["Gotham City", "Metropolis"]
    assert meta.gtin == "1234567890123"
    assert meta.age_rating == "Everyone"
    assert meta.identifiers == {
        "metron": "290431",
        "comicvine": "12345",
        "gcd": "543",
        "mangadex": "8b34f37a-0181-4f0b-8ce3-01217e9a602c",
        "isbn": "1234567890123",
        "upc": "76194130593600111",
    }


def test_metroninfo_with_two_primary_ids_is_read_anyway() -> None:
    # Upstream calls this document invalid; a reader has no reason to refuse it.
    meta = read_metroninfo((METRON / "metroninfo-v1.0-invalid-dup_primary_attr.xml").read_bytes())
    assert meta.identifiers["metron"] == "290431"
    assert meta.identifiers["comicvine"] == "12345"
    assert meta.count is None  # this one has no IssueCount


def test_metroninfo_v11_full() -> None:
    meta = read_metroninfo((COMICBOX / "captain-science-metroninfo-full.xml").read_bytes())
    assert meta.title == "Captain Lost; Science is Good; metron"
    assert meta.alternate_number == "2"
    assert meta.community_rating == 4.5
    assert meta.age_rating == "Teen Plus"
    assert meta.gtin == "123-456789-0123"
    assert meta.identifiers == {
        "comicvine": "145269",
        "metron": "999999",
        "isbn": "123-456789-0123",
        "upc": "12345",
    }


def test_metroninfo_v11_in_alphabetical_order() -> None:
    meta = read_metroninfo((COMICBOX / "metroninfo-v1.1-valid.xml").read_bytes())
    assert (meta.series, meta.volume, meta.number, meta.count) == ("Justice League", 2, "1", 60)
    assert meta.page_count is None  # <PageCount>0</PageCount>
    assert meta.cover_artist == [
        "Alex Sinclair", "David Finch", "Jim Lee", "Richard Friend", "Scott Williams",
    ]  # fmt: skip
    assert meta.genre == ["Crime", "Foo Bar", "Super-Hero"]
    assert (meta.story_arc, meta.story_arc_number) == (["Origin", "The New 52!"], ["1", ""])
    assert len(meta.web) == 7
    assert meta.identifiers == {
        "comicvine": "290431",
        "gcd": "543",
        "metron": "290431",
        "isbn": "1234567890123",
        "upc": "76194130593600111",
    }
    assert meta.warnings == []


@pytest.mark.parametrize("name", ["captain-science-CoMet.xml", "comet.xml"])
def test_comet(name: str) -> None:
    meta = read_comet((COMICBOX / name).read_bytes())
    assert meta.source == "CoMet"
    assert (meta.series, meta.number, meta.volume, meta.title) == ("Captain Science", "1", 1, "The Beginning")
    assert meta.summary == "A long example description"
    assert (meta.year, meta.month, meta.day) == (1950, 12, 1)
    assert meta.characters == ["Captain Science", "Gordon Dane"]
    assert (meta.writer, meta.penciller) == (["Joe Orlando"], ["Wally Wood"])
    assert meta.publisher == "Bell Features"
    assert meta.language_iso == "en"  # "English" in one file, "en" in the other
    assert meta.page_count == 5
    assert meta.age_rating == "Teen"
    assert meta.right_to_left is False
    assert meta.identifiers == {"comicvine": "145269"}


def test_comicbookinfo_watchmen() -> None:
    meta = read_comicbookinfo((COMICBOX / "comic-book-info-example.json").read_bytes())
    assert meta is not None
    assert meta.source == "ComicBookInfo"
    assert (meta.series, meta.number, meta.title) == ("Watchmen", "1", "At Midnight, All the Agents")
    assert (meta.year, meta.month, meta.count, meta.volume) == (1986, 9, 12, 1)
    # "Last, First" becomes "First Last": ComicInfo lists are comma separated.
    assert meta.writer == ["Alan Moore"]
    assert meta.penciller == meta.inker == ["Dave Gibbons"]
    assert meta.letterer == ["Dave Gibbons"]
    assert meta.colorist == ["John Gibbons"]
    assert meta.editor == ["Barbara Kesel", "Len Wein"]
    assert meta.tags == ["Nite Owl", "Ozymandias", "Rorschach"]
    assert meta.summary == "Tales of the Black Freighter..."
    assert meta.language_iso == "en"
    assert meta.community_rating is None  # 10 is not on the 0-5 scale
    assert meta.warnings == ["community_rating: outside 0-5: 10.0"]


def test_comicbookinfo_is_none_for_other_comments() -> None:
    assert read_comicbookinfo(b"Downloaded from somewhere. Enjoy!") is None


def test_comicbookinfo_broken_json_is_an_error() -> None:
    with pytest.raises(MetadataError, match="ComicBookInfo: bad JSON"):
        read_comicbookinfo(b'{"ComicBookInfo/1.0": {"series": ')


def test_xmp_packet_is_not_comicinfo() -> None:
    with pytest.raises(MetadataError, match="unexpected root element"):
        read_comicinfo((COMICBOX / "pdf.xml").read_bytes())


# --------------------------------------------------------------------------------------
# Tolerance: documents built inline
# --------------------------------------------------------------------------------------


def test_any_element_order() -> None:
    meta = read_comicinfo(comicinfo("<Year>2012</Year>", "<Number>1</Number>", "<Series>Saga</Series>"))
    assert (meta.series, meta.number, meta.year) == ("Saga", "1", 2012)


def test_bad_numbers_are_dropped_with_a_warning() -> None:
    meta = read_comicinfo(
        comicinfo(
            "<Series>Saga</Series>",
            "<Year>unknown</Year>",
            "<Month>13</Month>",
            "<Count>7.0</Count>",
            "<Volume>-1</Volume>",
            "<CommunityRating>great</CommunityRating>",
        )
    )
    assert meta.series == "Saga"
    assert (meta.year, meta.month, meta.count, meta.volume) == (None, None, 7, None)
    assert meta.community_rating is None
    assert meta.warnings == [
        "year: not a whole number: 'unknown'",
        "month: out of range: 13",
        "community_rating: not a number: 'great'",
    ]


def test_utf8_bom_leading_whitespace_and_a_wrong_namespace() -> None:
    document = b"\xef\xbb\xbf \n\t" + comicinfo(
        "<Series>Saga</Series>",
        "<Manga>YesAndRightToLeft</Manga>",
        root='<ComicInfo xmlns="urn:not-comicinfo">',
    )
    meta = read_comicinfo(document)
    assert meta.series == "Saga"
    assert (meta.manga, meta.right_to_left) == (True, True)


def test_utf16_document() -> None:
    document = '<?xml version="1.0" encoding="utf-16"?><ComicInfo><Series>Hüsker Dü</Series></ComicInfo>'
    assert read_comicinfo(document.encode("utf-16")).series == "Hüsker Dü"


def test_v1_document_without_namespaces_and_lowercase_tags() -> None:
    meta = read_comicinfo(b"<comicinfo><series>Saga</series><blackandwhite>Yes</blackandwhite></comicinfo>")
    assert (meta.series, meta.black_and_white) == ("Saga", True)


def test_empty_and_unknown_elements() -> None:
    meta = read_comicinfo(
        comicinfo(
            "<Series>  </Series>",
            "<Title/>",
            "<Writer>, ,</Writer>",
            "<Price>3.99</Price>",
            "<Manga>Unknown</Manga>",
        )
    )
    assert meta == ComicMetadata(source="ComicInfo")
    assert meta.warnings == []


def test_escaped_html_in_summary_becomes_text() -> None:
    summary = (
        "&lt;p&gt;&lt;em&gt;Saga&lt;/em&gt; is &amp;amp; was&lt;/p&gt;"
        "&lt;p&gt;Second&lt;br/&gt;line&lt;/p&gt;"
    )
    meta = read_comicinfo(comicinfo(f"<Summary>{summary}</Summary>"))
    assert meta.summary == "Saga is & was\nSecond\nline"


def test_raw_html_in_summary_becomes_text() -> None:
    # Unescaped HTML is parsed as child elements; the text and the breaks survive.
    meta = read_comicinfo(comicinfo("<Summary><p>One <b>bold</b> move.</p><p>Two</p></Summary>"))
    assert meta.summary == "One bold move.\nTwo"


def test_plain_summary_keeps_its_characters() -> None:
    meta = read_comicinfo(comicinfo("<Summary>  If a &lt; b then 2 &gt; 1.\n\nSecond paragraph.  </Summary>"))
    assert meta.summary == "If a < b then 2 > 1.\n\nSecond paragraph."


def test_pages_with_all_attributes() -> None:
    meta = read_comicinfo(
        comicinfo(
            "<Pages>",
            '<Page Image="0" Type="FrontCover" ImageWidth="1988" ImageHeight="3056" ImageSize="1034634"'
            ' Key="k0" Bookmark="Cover"/>',
            '<Page Image="1" Type="Story Advertisement" DoublePage="true"/>',
            '<Page Type="Story"/>',
            "</Pages>",
        )
    )
    assert meta.pages == [
        PageInfo(
            image=0,
            type="FrontCover",
            double_page=False,
            size=1034634,
            width=1988,
            height=3056,
            key="k0",
            bookmark="Cover",
        ),
        PageInfo(
            image=1,
            type="Story Advertisement",
            double_page=True,
            size=None,
            width=None,
            height=None,
            key=None,
            bookmark=None,
        ),
    ]
    assert meta.warnings == ["pages: <Page> without a usable Image index ignored"]


def test_identifiers_from_notes_and_web() -> None:
    meta = read_comicinfo(
        comicinfo(
            "<Notes>Tagged with ComicTagger 1.5 using info from Comic Vine on 2023-01-01."
            " [Issue ID 4000]</Notes>",
            "<Web>https://metron.cloud/issue/42 https://www.comics.org/issue/77/</Web>",
        )
    )
    assert meta.identifiers == {"comicvine": "4000", "metron": "42", "gcd": "77"}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE ComicInfo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<ComicInfo><Title>&xxe;</Title></ComicInfo>",
            id="external-entity",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            b"<ComicInfo><Title>&lol3;</Title></ComicInfo>",
            id="billion-laughs",
        ),
        # Where no ASCII "<!" shows in the bytes: the DTD must still be seen.
        pytest.param(
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE ComicInfo '
            '[<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ComicInfo><Title>&xxe;</Title>'
            "</ComicInfo>".encode("utf-16"),
            id="external-entity-utf16-bom",
        ),
        pytest.param(
            '<?xml version="1.0" encoding="UTF-16LE"?><!DOCTYPE ComicInfo '
            '[<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ComicInfo><Title>&xxe;</Title>'
            "</ComicInfo>".encode("utf-16-le"),
            id="external-entity-utf16le",
        ),
    ],
)
def test_entity_attacks_are_refused(document: bytes) -> None:
    with pytest.raises(MetadataError, match="forbidden XML construct"):
        read_comicinfo(document)


@pytest.mark.parametrize("path", COMICINFO_FIXTURES, ids=lambda path: path.name)
def test_either_xml_parser_reads_the_same(path) -> None:
    """A document without "<!" goes to the C parser, one with a comment or
    a DTD to defusedxml's: both read every fixture alike."""
    data = path.read_bytes()
    root = data.find(b"<ComicInfo")
    assert root >= 0 and b"<!" not in data
    commented = data[:root] + b"<!-- either parser -->" + data[root:]
    assert read_comicinfo(commented) == read_comicinfo(data)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<ComicInfo><Series>Saga</ComicInfo>", "not well-formed"),
        (b"", "not well-formed"),
        (b"<MetronInfo/>", "unexpected root element"),
    ],
)
def test_bad_xml_is_a_metadata_error(document: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        read_comicinfo(document)


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COMICINFO_FIXTURES, ids=lambda path: path.name)
def test_round_trip_through_v20(path: Path, schema_v20: xmlschema.XMLSchema) -> None:
    original = read_comicinfo(path.read_bytes())
    written = to_comicinfo_xml(original)
    assert_valid(schema_v20, written)
    assert read_comicinfo(written) == replace(original, **V21_ONLY)


@pytest.mark.parametrize("path", COMICINFO_FIXTURES, ids=lambda path: path.name)
def test_round_trip_through_v21_is_lossless(path: Path, schema_v21: xmlschema.XMLSchema) -> None:
    original = read_comicinfo(path.read_bytes())
    written = to_comicinfo_xml(original, version="2.1")
    assert_valid(schema_v21, written)
    assert read_comicinfo(written) == original


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name, paths in OTHER_FIXTURES.items() for path in paths],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_other_formats_convert_to_valid_comicinfo(
    name: str, path: Path, schema_v20: xmlschema.XMLSchema, schema_v21: xmlschema.XMLSchema
) -> None:
    meta = parse_metadata({name: path.read_bytes()})
    assert meta is not None
    assert_valid(schema_v20, to_comicinfo_xml(meta))
    assert_valid(schema_v21, to_comicinfo_xml(meta, version="2.1"))
    assert read_comicinfo(to_comicinfo_xml(meta)).series == meta.series


@pytest.mark.parametrize("path", CBI_FIXTURES, ids=lambda path: path.name)
def test_comicbookinfo_converts_to_valid_comicinfo(path: Path, schema_v20: xmlschema.XMLSchema) -> None:
    meta = parse_metadata({}, comment=path.read_bytes())
    assert meta is not None
    written = to_comicinfo_xml(meta)
    assert_valid(schema_v20, written)
    assert read_comicinfo(written) == replace(meta, source="ComicInfo", **V21_ONLY)


def test_written_document_shape() -> None:
    meta = ComicMetadata(series="Saga", number="1", year=2012, writer=["Brian K. Vaughan"])
    written = to_comicinfo_xml(meta)
    assert written.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo ')
    assert b'xmlns:xsd="http://www.w3.org/2001/XMLSchema"' in written
    assert b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in written
    body = written.decode()
    assert body.index("<Series>") < body.index("<Number>") < body.index("<Year>") < body.index("<Writer>")


def test_writer_keeps_enumerations_and_numbers_valid(
    schema_v20: xmlschema.XMLSchema, schema_v21: xmlschema.XMLSchema
) -> None:
    meta = ComicMetadata(
        series="Saga\x0b",  # a control character XML 1.0 cannot carry
        age_rating="Teen Plus",  # MetronInfo's spelling
        community_rating=4.567,
        manga=True,
        right_to_left=True,
        black_and_white=False,
        pages=[
            PageInfo(
                image=0,
                type="FrontCover",
                double_page=True,
                size=10,
                width=-1,
                height=None,
                key="",
                bookmark=None,
            )
        ],
        gtin="9781607066019",
        translator=["Someone"],
    )
    written = to_comicinfo_xml(meta)
    assert_valid(schema_v20, written)
    back = read_comicinfo(written)
    assert back.series == "Saga"
    assert back.age_rating == "Teen"
    assert back.community_rating == 4.57
    assert (back.manga, back.right_to_left, back.black_and_white) == (True, True, False)
    assert back.pages[0]["double_page"] is True
    assert (back.gtin, back.translator) == (None, [])  # not in v2.0
    written_v21 = to_comicinfo_xml(meta, version="2.1")
    assert_valid(schema_v21, written_v21)
    back_v21 = read_comicinfo(written_v21)
    assert (back_v21.gtin, back_v21.translator, back_v21.community_rating) == (
        "9781607066019",
        ["Someone"],
        4.6,
    )


def test_writer_leaves_out_values_the_schema_cannot_hold(schema_v20: xmlschema.XMLSchema) -> None:
    # Metadata built by other code (an API edit) is not checked like a parsed file is.
    meta = ComicMetadata(
        series="Saga",
        age_rating="PG-13-ish",
        community_rating=7.5,
        count=2**40,
        pages=[
            PageInfo(
                image=2**40,
                type=None,
                double_page=False,
                size=None,
                width=None,
                height=None,
                key=None,
                bookmark=None,
            ),
            PageInfo(
                image=1,
                type="Cover Story",
                double_page=False,
                size=2**70,
                width=2**40,
                height=10,
                key=None,
                bookmark=None,
            ),
        ],
    )
    written = to_comicinfo_xml(meta)
    assert_valid(schema_v20, written)
    back = read_comicinfo(written)
    assert (back.age_rating, back.community_rating, back.count) == (None, None, None)
    assert back.pages == [
        PageInfo(
            image=1,
            type="Story",
            double_page=False,
            size=None,
            width=None,
            height=10,
            key=None,
            bookmark=None,
        )
    ]


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported ComicInfo version"):
        to_comicinfo_xml(ComicMetadata(), version="3.0")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Merging what an archive holds
# --------------------------------------------------------------------------------------


def captain_science_files() -> dict[str, bytes]:
    return {
        "Captain Science 001/ComicInfo.xml": (COMICBOX / "captain-science-comicinfo.xml").read_bytes(),
        "Captain Science 001/MetronInfo.xml": (COMICBOX / "captain-science-metroninfo-full.xml").read_bytes(),
        "Captain Science 001/CoMet.xml": (COMICBOX / "captain-science-CoMet.xml").read_bytes(),
    }


def test_parse_metadata_merges_every_format_by_priority() -> None:
    cbi = (COMICBOX / "captain-science-comic-book-info.json").read_bytes()
    meta = parse_metadata(captain_science_files(), comment=cbi)
    assert meta is not None
    assert meta.source == "ComicInfo+MetronInfo+CoMet+ComicBookInfo"
    assert meta.publisher == "Youthful Adventure Stories"  # ComicInfo beats CoMet's "Bell Features"
    assert meta.title == "The Beginning; The End"  # ComicInfo beats MetronInfo's stories
    assert (meta.year, meta.month, meta.day) == (1950, 11, 1)  # not CoMet's 1950-12-01
    assert meta.imprint == "Youthful Imprint"  # only MetronInfo has it
    assert meta.format == "Single Issue"  # MetronInfo before CoMet's "Comic"
    assert meta.summary == "A long example description"  # only CoMet has it
    assert meta.right_to_left is False  # only CoMet says: readingDirection ltr
    assert meta.identifiers == {
        "comicvine": "145269",
        "metron": "999999",
        "isbn": "123-456789-0123",
        "upc": "12345",
    }


def test_parse_metadata_keys_are_case_insensitive_base_names() -> None:
    files = {"Captain Science 001/comicinfo.xml": (COMICBOX / "captain-science-comicinfo.xml").read_bytes()}
    meta = parse_metadata(files)
    assert meta is not None and meta.series == "Captain Science"


def test_parse_metadata_keeps_good_formats_when_one_is_broken() -> None:
    files = captain_science_files()
    files["Captain Science 001/ComicInfo.xml"] = b"<ComicInfo><Series>"
    meta = parse_metadata(files)
    assert meta is not None
    assert meta.source == "MetronInfo+CoMet"
    assert meta.series == "Captain Science"
    assert meta.warnings[0].startswith("ComicInfo: not well-formed XML")


def test_parse_metadata_raises_when_everything_is_broken() -> None:
    with pytest.raises(MetadataError, match=r"ComicInfo: not well-formed XML.*MetronInfo: not well-formed"):
        parse_metadata({"ComicInfo.xml": b"<", "MetronInfo.xml": b"<"})


def test_parse_metadata_without_metadata() -> None:
    assert parse_metadata({}) is None
    assert parse_metadata({"page001.jpg": b"\xff\xd8"}, comment=b"scanned by someone") is None


def test_merge_fills_gaps_without_touching_either_side() -> None:
    first = ComicMetadata(source="ComicInfo", series="Saga", year=2012, writer=["Brian K. Vaughan"])
    second = ComicMetadata(
        source="CoMet",
        series="Other",
        year=2013,
        month=3,
        penciller=["Fiona Staples"],
        identifiers={"metron": "1"},
    )
    merged = first.merge(second)
    assert merged.series == "Saga"
    assert (merged.year, merged.month) == (2012, None)  # the date comes whole from one side
    assert merged.penciller == ["Fiona Staples"]
    assert merged.identifiers == {"metron": "1"}
    merged.penciller.append("Someone")
    assert second.penciller == ["Fiona Staples"]
    assert first.penciller == []


def test_manga_false_is_a_value_not_a_gap() -> None:
    merged = ComicMetadata(manga=False).merge(ComicMetadata(manga=True, right_to_left=True))
    assert (merged.manga, merged.right_to_left) == (False, None)


def test_to_dict_is_json_ready() -> None:
    meta = read_comicinfo((KAVITA / "ComicInfo2-with-pages.xml").read_bytes())
    document = json.loads(json.dumps(meta.to_dict()))
    assert document["series"] == "Hellboy"
    assert document["pages"][0]["width"] == 1988
    assert set(document) >= {"source", "identifiers", "warnings", "story_arc_number"}


GARBAGE = [
    "", "-1", "0", "1e400", "nan", "99999999999", "²", "1,2,,3", "Yes", "YESANDRIGHTTOLEFT", "Teen Plus",
    "<p>x</p>", "2011-13-45", "urn:isbn:12-3", "5.001", "Story FrontCover", "true", "½",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_garbled_values_never_crash_and_always_write_valid_xml(
    seed: int, schema_v20: xmlschema.XMLSchema
) -> None:
    """Property: any well-formed document reads without an exception and writes back valid."""
    rng = random.Random(seed)
    sources = [*COMICINFO_FIXTURES, *(path for paths in OTHER_FIXTURES.values() for path in paths)]
    for _ in range(40):
        path = rng.choice(sources)
        root = ET.fromstring(path.read_bytes())
        elements = list(root.iter())
        for _ in range(rng.randint(1, 6)):
            element = rng.choice(elements)
            if rng.random() < 0.6:
                element.text = rng.choice(GARBAGE)
            else:
                element.set(
                    rng.choice(["Image", "Type", "ImageSize", "ImageWidth", "source"]), rng.choice(GARBAGE)
                )
        name = {"comicinfo": "ComicInfo.xml", "metroninfo": "MetronInfo.xml", "comet": "CoMet.xml"}
        meta = parse_metadata(
            {name[root.tag.rpartition("}")[2].casefold()]: ET.tostring(root, encoding="utf-8")}
        )
        assert meta is not None
        assert_valid(schema_v20, to_comicinfo_xml(meta))
