import pytest

from comicsrv.comicinfo import ComicMetadata
from comicsrv.filenames import parse_filename
from comicsrv.library.grouping import folder_hints, place, sort_name

ROOT = "/data"


@pytest.mark.parametrize("path, publisher, series, volume, year", [
    ("/data/DC Comics/Batman/Batman 001 (2020).cbz", "DC Comics", "Batman", None, None),
    ("/data/DC Comics/Swamp Thing/v1985/Swamp Thing 001.cbz", "DC Comics", "Swamp Thing", 1985, None),
    ("/data/Archie Comics/Sabrina/Vol. 2/Sabrina 003.cbz", "Archie Comics", "Sabrina", 2, None),
    ("/data/Saga (2012)/Saga 001.cbz", None, "Saga", None, 2012),
    ("/data/Image/Saga (2012)/Saga 001.cbz", "Image", "Saga", None, 2012),
    ("/data/loose.cbz", None, None, None, None),
    ("/data/Marvel/X-Men/v1991/extras/x.cbz", "Marvel", "extras", None, None),
])
def test_folder_hints(path, publisher, series, volume, year):
    hints = folder_hints(path, ROOT)
    assert (hints.publisher, hints.series, hints.volume, hints.year) == (publisher, series, volume, year)


def test_metadata_wins_over_folders():
    meta = ComicMetadata(series="Batman", publisher="DC", volume=2016, year=2016)
    placement = place("/data/Other/Wrong Name/file.cbz", ROOT, meta, parse_filename("file.cbz"))
    assert (placement.series, placement.publisher, placement.volume, placement.year) == (
        "Batman", "DC", 2016, 2016)


def test_filename_then_folders_fill_the_gaps():
    path = "/data/DC Comics/Swamp Thing/v1985/Swamp Thing 021 (1984).cbz"
    placement = place(path, ROOT, None, parse_filename("Swamp Thing 021 (1984).cbz"))
    assert (placement.series, placement.publisher, placement.volume, placement.year) == (
        "Swamp Thing", "DC Comics", 1985, 1984)


@pytest.mark.parametrize("name, key", [("The Boys", "boys"), ("A-Force", "a-force"),
                                       ("An Unkindness", "unkindness"), ("batman", "batman")])
def test_sort_name(name, key):
    assert sort_name(name) == key
