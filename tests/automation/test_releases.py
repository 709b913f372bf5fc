"""parse_release on real-world comic release names: scene/DCP naming, usenet
subjects, scene dots, annuals numbered by year, formats as tags."""
from __future__ import annotations

from pathlib import Path

import pytest

from comicsrv.automation.releases import parse_release

# (title, series, number, volume, year, format, annual, scan group, tags)
NAMES = [
    ('Saga 054 (2018) (Digital) (Zone-Empire)',
     'Saga', '054', None, 2018, None, False, 'Zone-Empire', ('digital',)),
    ('Batman v3 050 (2018) (2 covers) (digital) (Son of Ultron-Empire)',
     'Batman', '050', 3, 2018, None, False, 'Son of Ultron-Empire', ('2 covers', 'digital')),
    ('Amazing Spider-Man Annual 2019 (2019) (Digital) (Zone-Empire)',
     'Amazing Spider-Man', '2019', None, 2019, None, True, 'Zone-Empire', ('digital',)),
    ('Saga.054.2018.Digital.Zone-Empire',
     'Saga', '054', None, 2018, None, False, 'Zone-Empire', ('digital',)),
    ('Batman Beyond 001 (2016) (Digital) (Zone-Empire).cbr',
     'Batman Beyond', '001', None, 2016, 'cbr', False, 'Zone-Empire', ('digital',)),
    ('Saga 054 (2018) (Digital) (Zone-Empire) [CBR]',
     'Saga', '054', None, 2018, 'cbr', False, 'Zone-Empire', ('digital',)),
    ('"Saga 054 (2018) (Digital) (Zone-Empire).cbr" yEnc',
     'Saga', '054', None, 2018, 'cbr', False, 'Zone-Empire', ('digital',)),
    ('[1/8] - "Saga 054 (2018) (Digital) (Zone-Empire).cbz" yEnc (1/41)',
     'Saga', '054', None, 2018, 'cbz', False, 'Zone-Empire', ('digital',)),
    ('The Walking Dead 193 (2019) (digital) (Zone-Empire)',
     'The Walking Dead', '193', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Batman TPB (2017) (digital)',
     'Batman', None, None, 2017, None, False, None, ('digital',)),
    ('Spider-Man 2099 001 (2015) (Digital) (Zone-Empire)',
     'Spider-Man 2099', '001', None, 2015, None, False, 'Zone-Empire', ('digital',)),
    ('Saga #54 (2018)',
     'Saga', '54', None, 2018, None, False, None, ()),
    ('Saga - 054 (2018) (c2c) (DCP)',
     'Saga', '054', None, 2018, None, False, 'DCP', ('c2c',)),
    ('Deadpool Annual 001 (2014) (Digital) (Zone-Empire)',
     'Deadpool', '001', None, 2014, None, True, 'Zone-Empire', ('digital',)),
    ('Immortal Hulk 050 (2021) (Digital) (Zone-Empire)',
     'Immortal Hulk', '050', None, 2021, None, False, 'Zone-Empire', ('digital',)),
    ('X-Men v5 001 (2019) (Digital) (Zone-Empire)',
     'X-Men', '001', 5, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('100 Bullets 001 (1999) (c2c) (Minutemen-DCP)',
     '100 Bullets', '001', None, 1999, None, False, 'Minutemen-DCP', ('c2c',)),
    ('Paper Girls 030 (2019) (Digital) (Zone-Empire)',
     'Paper Girls', '030', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Monstress 025 (2019) (Digital) (Zone-Empire)',
     'Monstress', '025', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Batman - Three Jokers 001 (2020) (Webrip) (The Last Kryptonian-DCP)',
     'Batman - Three Jokers', '001', None, 2020, None, False, 'The Last Kryptonian-DCP', ('webrip',)),
    ('Batman & Robin 001 (2011) (Digital) (Zone-Empire)',
     'Batman & Robin', '001', None, 2011, None, False, 'Zone-Empire', ('digital',)),
    ('Spawn 300 (2019) (Digital) (Zone-Empire)',
     'Spawn', '300', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Ms. Marvel 038 (2019) (Digital) (Zone-Empire)',
     'Ms. Marvel', '038', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Daredevil v6 001 (2019) (Digital) (Zone-Empire)',
     'Daredevil', '001', 6, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Action Comics 1000 (2018) (Digital) (Zone-Empire)',
     'Action Comics', '1000', None, 2018, None, False, 'Zone-Empire', ('digital',)),
    ('Detective Comics 1027 (2020) (Webrip) (The Last Kryptonian-DCP)',
     'Detective Comics', '1027', None, 2020, None, False, 'The Last Kryptonian-DCP', ('webrip',)),
    ('Invincible 144 (2018) (Digital) (Zone-Empire)',
     'Invincible', '144', None, 2018, None, False, 'Zone-Empire', ('digital',)),
    ('Star Wars - Darth Vader 001 (2020) (Digital) (Kileko-Empire)',
     'Star Wars - Darth Vader', '001', None, 2020, None, False, 'Kileko-Empire', ('digital',)),
    ('The Amazing Spider-Man 001 (2018) (Digital) (Zone-Empire)',
     'The Amazing Spider-Man', '001', None, 2018, None, False, 'Zone-Empire', ('digital',)),
    ('Amazing Spider-Man 001.LR (2019) (Digital) (Zone-Empire)',
     'Amazing Spider-Man', '001.LR', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Batman Annual v3 004 (2019) (Digital) (Zone-Empire)',
     'Batman', '004', 3, 2019, None, True, 'Zone-Empire', ('digital',)),
    ('Saga 001 (2012) (6 covers) (digital) (Minutemen-Faessla)',
     'Saga', '001', None, 2012, None, False, 'Minutemen-Faessla', ('6 covers', 'digital')),
    ('East of West 045 (2019) (Digital) (Zone-Empire)',
     'East of West', '045', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Nightwing 050 (2018) (2 covers) (Digital) (Zone-Empire)',
     'Nightwing', '050', None, 2018, None, False, 'Zone-Empire', ('2 covers', 'digital')),
    ('Captain Marvel 008 (2019) (Digital) (Zone-Empire).cbz',
     'Captain Marvel', '008', None, 2019, 'cbz', False, 'Zone-Empire', ('digital',)),
    ('Hellboy and the B.P.R.D. - 1956 001 (2018) (Digital) (Zone-Empire)',
     'Hellboy and the B.P.R.D. - 1956', '001', None, 2018, None, False, 'Zone-Empire', ('digital',)),
    ('Black Hammer 013 (2017) (digital) (Minutemen-Thoth)',
     'Black Hammer', '013', None, 2017, None, False, 'Minutemen-Thoth', ('digital',)),
    ('The Wicked + The Divine 045 (2019) (Digital) (Zone-Empire)',
     'The Wicked + The Divine', '045', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Fantastic Four 001 (2018) (Digital) (Zone-Empire) [cbz]',
     'Fantastic Four', '001', None, 2018, 'cbz', False, 'Zone-Empire', ('digital',)),
    ('Dark Nights - Metal 006 (2018) (2 covers) (Digital) (Zone-Empire)',
     'Dark Nights - Metal', '006', None, 2018, None, False, 'Zone-Empire', ('2 covers', 'digital')),
    ('Justice League v4 025 (2019) (Digital) (Zone-Empire)',
     'Justice League', '025', 4, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Doomsday Clock 012 (of 12) (2019) (Digital) (Zone-Empire)',
     'Doomsday Clock', '012', None, 2019, None, False, 'Zone-Empire', ('digital',)),
    ('Superman 1.MU (2014) (Digital) (Zone-Empire)',
     'Superman', '1.MU', None, 2014, None, False, 'Zone-Empire', ('digital',)),
    ('Venom 0.1 (2011) (Digital) (Zone-Empire)',
     'Venom', '0.1', None, 2011, None, False, 'Zone-Empire', ('digital',)),
    ('Batman Beyond 2.0 001 (2013) (Digital) (Zone-Empire)',
     'Batman Beyond 2.0', '001', None, 2013, None, False, 'Zone-Empire', ('digital',)),
    ('Sandman.Overture.001.2013.Digital.Zone-Empire.cbr',
     'Sandman Overture', '001', None, 2013, 'cbr', False, 'Zone-Empire', ('digital',)),
    ('Wonder Woman 750 (2020) (Webrip) (The Last Kryptonian-DCP).pdf',
     'Wonder Woman', '750', None, 2020, 'pdf', False, 'The Last Kryptonian-DCP', ('webrip',)),
    ('Old Man Logan Annual 001 (2018) (Digital) (Zone-Empire)',
     'Old Man Logan', '001', None, 2018, None, True, 'Zone-Empire', ('digital',)),
    ('Uncanny X-Men 001 (2019) (noads) (Digital) (Zone-Empire)',
     'Uncanny X-Men', '001', None, 2019, None, False, 'Zone-Empire', ('noads', 'digital')),
    ('Y - The Last Man 060 (2008) (c2c) (Minutemen-DCP)',
     'Y - The Last Man', '060', None, 2008, None, False, 'Minutemen-DCP', ('c2c',)),
]


@pytest.mark.parametrize(
    "title, series, number, volume, year, fmt, annual, group, tags", NAMES,
    ids=[row[0][:60] for row in NAMES])
def test_release_names(title, series, number, volume, year, fmt, annual, group, tags):
    parsed = parse_release(title)
    assert (parsed.series, parsed.number, parsed.volume, parsed.year, parsed.format,
            parsed.annual, parsed.scan_group, parsed.tags) == (
        series, number, volume, year, fmt, annual, group, tags)


def test_the_table_is_large_enough():
    assert len(NAMES) >= 40


def test_number_sort_series_key_and_collected_editions():
    parsed = parse_release("The Amazing Spider-Man 001.LR (2019) (Digital) (Zone-Empire)")
    assert parsed.number_sort == 1.0
    assert parsed.series_key == "amazing spider man"
    assert parse_release("Batman TPB (2017) (digital)").book_format == "TPB"
    assert parse_release("Doomsday Clock 012 (of 12) (2019)").issue_count == 12
    assert parse_release("Saga 054 (2018) (Digital) (Zone-Empire)").digital
    assert not parse_release("Saga - 054 (2018) (c2c) (DCP)").digital


def test_to_dict_is_json_ready():
    data = parse_release("Saga 054 (2018) (Digital) (Zone-Empire).cbz").to_dict()
    assert data["tags"] == ["digital"] and data["format"] == "cbz" and data["number"] == "054"


@pytest.mark.parametrize("title", ["", "   ", "((((", "\"\"\"", "#", "v", "2019", "Annual",
                                   "\x00\x01", "a" * 5000])
def test_any_string_parses_without_raising(title):
    parsed = parse_release(title)
    assert isinstance(parsed.series, str)


def test_recorded_indexer_titles_parse_without_raising():
    """The recorded indexer bodies hold TV releases; none looks like an issue of Saga."""
    import xml.etree.ElementTree as ET

    folder = Path(__file__).parents[1] / "fixtures" / "indexers"
    titles = [item.findtext("title") for path in folder.rglob("*.xml")
              if path.name != "Invalid-RSS.xml"  # not well-formed XML, on purpose
              for item in ET.parse(path).iter("item")]
    assert len(titles) > 100
    for title in titles:
        assert parse_release(title).series_key != "saga"
