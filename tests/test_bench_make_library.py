"""Tests of bench/make_library.py, the synthetic library the scanner benchmarks use."""

from __future__ import annotations

import importlib
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench"
FILENAME = re.compile(r"(?P<series>.+) (?P<number>\d{3}) \((?P<year>\d{4})\)\.(?P<ext>cbz|cbr)")
#: Element order of the ComicInfo v2.0 schema (an xs:sequence: order matters).
COMICINFO_V2_ORDER = (
    "Title Series Number Count Volume AlternateSeries AlternateNumber AlternateCount Summary"
    " Notes Year Month Day Writer Penciller Inker Colorist Letterer CoverArtist Editor Publisher"
    " Imprint Genre Web PageCount LanguageISO Format BlackAndWhite Manga Characters Teams"
    " Locations ScanInformation StoryArc SeriesGroup AgeRating Pages CommunityRating"
).split()


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/make_library.py, imported the way benchmark scripts import it.

    The path stays on sys.path while the test runs, so worker processes
    started by any multiprocessing method can import it too.
    """
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("make_library")


def relative(paths: list[Path], root: Path) -> list[Path]:
    return [path.relative_to(root) for path in paths]


def test_tree_layout(bench: ModuleType, tmp_path: Path) -> None:
    paths = bench.make_library(tmp_path, 30, pages=3, page_kb=4, seed=7)
    assert len(paths) == 30
    assert sorted(paths) == sorted(tmp_path.rglob("*.cb?"))
    for path in relative(paths, tmp_path):
        assert path.parts[0] in bench.PUBLISHERS
        match = FILENAME.fullmatch(path.name)
        assert match, path
        series = match["series"]
        if len(path.parts) == 3:
            assert re.fullmatch(rf"{re.escape(series)} \(\d{{4}}\)", path.parts[1])
        else:
            assert len(path.parts) == 4
            assert path.parts[1] == series
            assert re.fullmatch(r"v\d{4}", path.parts[2])


def test_archives_are_valid_with_comicinfo(bench: ModuleType, tmp_path: Path) -> None:
    paths = bench.make_library(tmp_path, 30, pages=3, page_kb=4, seed=7)
    with_comicinfo = 0
    for path in paths:
        match = FILENAME.fullmatch(path.name)
        assert match
        with zipfile.ZipFile(path) as archive:  # .cbr too: zips in disguise
            assert archive.testzip() is None
            assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
            pages = [name for name in archive.namelist() if name.endswith(".jpg")]
            assert pages == ["001.jpg", "002.jpg", "003.jpg"]
            cover = Image.open(io.BytesIO(archive.read(pages[0])))
            cover.load()
            assert cover.format == "JPEG"
            if "ComicInfo.xml" not in archive.namelist():
                continue
            with_comicinfo += 1
            info = ET.fromstring(archive.read("ComicInfo.xml"))
        assert info.tag == "ComicInfo"
        assert info.findtext("Series") == match["series"]
        assert info.findtext("Number") == str(int(match["number"]))
        assert info.findtext("Year") == match["year"]
        assert info.findtext("PageCount") == "3"
        assert len(info.findall("Pages/Page")) == 3
        tags = [child.tag for child in info]
        assert tags == sorted(tags, key=COMICINFO_V2_ORDER.index)
    assert with_comicinfo >= 20


def test_plan_has_the_variety_scanners_meet(bench: ModuleType) -> None:
    issues = bench.plan_library(3000, 20, seed=1)
    paths = [issue.path for issue in issues]
    assert len(set(paths)) == 3000
    assert len({issue.publisher for issue in issues}) >= 15
    assert any(re.fullmatch(r"v\d{4}", path.parent.name) for path in paths)
    assert 0.02 < sum(not issue.has_comicinfo for issue in issues) / 3000 < 0.08
    assert any(path.suffix == ".cbr" for path in paths)
    assert max(issue.number for issue in issues) > 60


def test_same_seed_same_library(bench: ModuleType, tmp_path: Path) -> None:
    first = bench.make_library(tmp_path / "a", 30, pages=2, page_kb=4, seed=3)
    second = bench.make_library(tmp_path / "b", 30, pages=2, page_kb=4, seed=3, workers=1)
    assert relative(first, tmp_path / "a") == relative(second, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    other = bench.make_library(tmp_path / "c", 30, pages=2, page_kb=4, seed=4)
    assert relative(other, tmp_path / "c") != relative(first, tmp_path / "a")
