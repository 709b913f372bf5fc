"""Generate a big, realistic, deterministic comic library for benchmarks.

    python bench/make_library.py OUT_DIR --count 10000 [--pages 20] [--seed 1] [--page-kb 30]

Scanner benchmarks need thousands of archives laid out the way *arr tools and
taggers leave them: ``Publisher/Series (1985)/Series 001 (1985).cbz``, with
multi-volume series split into ``Publisher/Series/v1985/`` folders (the layout
Comic Library Utilities writes). Each CBZ holds real JPEG pages and, for most
issues, a ComicInfo.xml valid against the ComicInfo v2.0 schema; about 5 % have
no metadata (the scanner must fall back to the filename) and a few are zips
named ``.cbr``, as found in the wild.

Speed comes from never encoding a JPEG per page: a handful of pages are
encoded once and their bytes are reused, stored uncompressed, by a pool of
processes. Archives differ by their metadata and page order. The same seed
always gives the same names and the same bytes.

Other benchmarks import :func:`make_library` (``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from PIL import Image, ImageDraw

PUBLISHERS = {  # name: relative weight (how many series it gets)
    "Marvel": 14,
    "DC Comics": 12,
    "Image": 9,
    "Dark Horse Comics": 6,
    "IDW Publishing": 5,
    "BOOM! Studios": 5,
    "Dynamite Entertainment": 4,
    "Valiant": 3,
    "Archie Comics": 3,
    "Oni Press": 2,
    "Titan Comics": 2,
    "Fantagraphics": 2,
    "Drawn & Quarterly": 1,
    "AfterShock Comics": 2,
    "Vault Comics": 1,
    "Mad Cave Studios": 1,
    "AHOY Comics": 1,
    "Scout Comics": 1,
    "Humanoids": 1,
    "Zenescope Entertainment": 2,
}
ADJECTIVES = (
    "Amazing Uncanny Savage Dark Mighty Astonishing Invincible Secret Cosmic Crimson Silver"
    " Iron Midnight Eternal Wild Lost Fantastic Spectacular Atomic Shadow Scarlet Hidden"
).split()
NOUNS = (
    "Knights Avengers Patrol Legion Sentinels Rangers Detective Wanderer Titans Guardians"
    " Outlaws Phantom Hunter Sword Empire Tales Chronicles Squadron Society Agents Witch Ronin"
).split()
FIRST_NAMES = (
    "Alan Brian Kelly Gail Jonathan Ed Fiona Grant Jeff Kieron Marjorie Mark Neil Rick Tom"
    " Warren Chip Jamie Becky Tula Donny Jen Sana Ram Al Cliff Mariko Erica"
).split()
LAST_NAMES = (
    "Moore Bendis Thompson Simone Hickman Brubaker Staples Morrison Lemire Gillen Liu Millar"
    " Gaiman Remender King Ellis Zdarsky McKelvie Cloonan Lotay Cates Bartel Takeda Ewing Chiang"
    " Tamaki Henderson"
).split()
PLACES = (
    "Gotham Bay|the Void|Neo Tokyo|Atlantis|the Badlands|Mars|the Old City|Limbo|the Frontier"
    "|Arkham Hollow|the Deep|Eden"
).split("|")
GENRES = (
    "Superhero|Science Fiction|Fantasy|Horror|Crime|Mystery|Western|Humor|Romance|War"
    "|Adventure|Drama|Post-Apocalyptic"
).split("|")
THREATS = (
    "an ancient evil|a rogue AI|the Syndicate|a dying star|their own past|a cult of masks"
    "|a mirror army|the tax collector|a silent plague"
).split("|")
LANGUAGES = {"en": 88, "fr": 3, "es": 3, "de": 2, "it": 2, "ja": 2}
#: Issues per volume: most runs are short, a few are long (1-120).
RUN_LENGTHS = {range(1, 7): 40, range(7, 25): 30, range(25, 61): 20, range(61, 121): 10}

NO_COMICINFO_SHARE = 0.05
CBR_SHARE = 0.02
MULTI_VOLUME_SHARE = 0.08
PAGE_POOL_SIZE = 12
#: A fixed timestamp keeps archives byte-identical from run to run.
ZIP_DATE = (2020, 1, 1, 0, 0, 0)
ZIP_ATTRIBUTES = 0o644 << 16


@dataclass(frozen=True)
class Page:
    """One encoded JPEG page of the shared pool."""

    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class _Series:
    """What all issues of a series share, across its volumes."""

    publisher: str
    name: str
    genre: str
    language: str
    multi_volume: bool

    def folder(self, volume: int) -> Path:
        """``Publisher/Series (1985)``, or ``Publisher/Series/v1985`` (CLU's layout)."""
        if self.multi_volume:
            return Path(self.publisher, self.name, f"v{volume}")
        return Path(self.publisher, f"{self.name} ({volume})")


@dataclass(frozen=True)
class Issue:
    """Everything needed to write one archive; a plain value, cheap to pickle."""

    path: Path  # relative to the library root
    publisher: str
    series: str
    number: int
    count: int
    volume: int
    year: int
    month: int
    title: str
    writer: str
    penciller: str
    genre: str
    summary: str
    language: str
    pages: tuple[int, ...]  # indices into the page pool
    has_comicinfo: bool


def make_library(
    out_dir: Path | str,
    count: int,
    *,
    pages: int = 20,
    seed: int = 1,
    page_kb: int = 30,
    workers: int | None = None,
) -> list[Path]:
    """Write ``count`` comic archives under ``out_dir``; return their paths.

    Deterministic for a seed: the same arguments give the same files, byte
    for byte, whatever ``workers`` is (processes; default: one per CPU).
    """
    if count < 0 or pages < 1 or page_kb < 1:
        raise ValueError("count must be >= 0, pages and page_kb >= 1")
    root = Path(out_dir)
    issues = plan_library(count, pages, seed)
    pool = make_page_pool(page_kb, seed)
    for folder in sorted({(root / issue.path).parent for issue in issues}):
        folder.mkdir(parents=True, exist_ok=True)
    _write_all(root, issues, pool, workers or os.cpu_count() or 1)
    return [root / issue.path for issue in issues]


def plan_library(count: int, pages: int, seed: int) -> list[Issue]:
    """Lay out ``count`` issues: publishers, series, volumes, metadata."""
    rng = random.Random(seed)
    taken: set[tuple[str, str]] = set()
    issues: list[Issue] = []
    while len(issues) < count:
        publisher = _weighted(rng, PUBLISHERS)
        series = _series_name(rng, publisher, taken)
        issues.extend(_plan_series(rng, publisher, series, pages))
    return issues[:count]


def make_page_pool(page_kb: int, seed: int) -> list[Page]:
    """Encode a few distinct comic-like JPEGs of about ``page_kb`` kB each."""
    rng = random.Random(seed)
    return [_make_page(rng, page_kb * 1024) for _ in range(PAGE_POOL_SIZE)]


def comicinfo_xml(issue: Issue, pool: Sequence[Page]) -> bytes:
    """ComicInfo.xml for ``issue``, elements in the v2.0 schema's order."""
    root = ET.Element(
        "ComicInfo",
        {
            "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        },
    )
    fields = (
        ("Title", issue.title),
        ("Series", issue.series),
        ("Number", str(issue.number)),
        ("Count", str(issue.count)),
        ("Volume", str(issue.volume)),
        ("Summary", issue.summary),
        ("Year", str(issue.year)),
        ("Month", str(issue.month)),
        ("Writer", issue.writer),
        ("Penciller", issue.penciller),
        ("Publisher", issue.publisher),
        ("Genre", issue.genre),
        ("PageCount", str(len(issue.pages))),
        ("LanguageISO", issue.language),
    )
    for tag, text in fields:
        ET.SubElement(root, tag).text = text
    page_list = ET.SubElement(root, "Pages")
    for index, pool_index in enumerate(issue.pages):
        page = pool[pool_index]
        attributes = {"Image": str(index)}
        if index == 0:
            attributes["Type"] = "FrontCover"
        attributes |= {
            "ImageSize": str(len(page.data)),
            "ImageWidth": str(page.width),
            "ImageHeight": str(page.height),
        }
        ET.SubElement(page_list, "Page", attributes)
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def write_issue(root: Path, issue: Issue, pool: Sequence[Page]) -> None:
    """Write one comic archive, pages stored uncompressed as JPEGs are."""
    with zipfile.ZipFile(root / issue.path, "w", zipfile.ZIP_STORED) as archive:
        for index, pool_index in enumerate(issue.pages, start=1):
            _add(archive, f"{index:03d}.jpg", pool[pool_index].data)
        if issue.has_comicinfo:
            _add(archive, "ComicInfo.xml", comicinfo_xml(issue, pool))


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, ZIP_DATE)
    info.external_attr = ZIP_ATTRIBUTES
    archive.writestr(info, data)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _series_name(rng: random.Random, publisher: str, taken: set[tuple[str, str]]) -> str:
    """A series name unique within its publisher (others may reuse it).

    A name already taken becomes a sequel ("Savage Titans 2"), so even huge
    libraries never loop looking for a free name.
    """
    adjective, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
    base = rng.choice(
        (
            f"{adjective} {noun}",
            f"The {adjective} {noun}",
            f"{noun} of {rng.choice(PLACES)}",
            f"{adjective} {noun} {rng.choice(('Annual', 'Unlimited', 'Presents', '2099'))}",
        )
    )
    name, sequel = base, 1
    while (publisher, name) in taken:
        sequel += 1
        name = f"{base} {sequel}"
    taken.add((publisher, name))
    return name


def _plan_series(rng: random.Random, publisher: str, name: str, pages: int) -> list[Issue]:
    """All volumes of one series: usually one, sometimes two or three."""
    volumes = 1 if rng.random() >= MULTI_VOLUME_SHARE else rng.choice((2, 2, 3))
    gaps = [0] + [rng.randint(4, 14) for _ in range(volumes - 1)]
    years = list(accumulate(gaps, initial=rng.randint(1960, 2015)))[1:]
    series = _Series(
        publisher=publisher,
        name=name,
        genre=", ".join(rng.sample(GENRES, rng.choice((1, 1, 2)))),
        language=_weighted(rng, LANGUAGES),
        multi_volume=volumes > 1,
    )
    return [issue for volume in years for issue in _plan_run(rng, series, volume, pages)]


def _plan_run(rng: random.Random, series: _Series, volume: int, pages: int) -> list[Issue]:
    """One volume: monthly issues 1..N with a creative team that changes."""
    lengths = rng.choices(tuple(RUN_LENGTHS), weights=tuple(RUN_LENGTHS.values()))[0]
    count = rng.choice(lengths)
    first_month = rng.randint(1, 12)
    team = _creator(rng), _creator(rng)
    folder = series.folder(volume)
    issues = []
    for number in range(1, count + 1):
        if number % 12 == 1 and number > 1 and rng.random() < 0.3:
            team = _creator(rng), _creator(rng)
        year, month = divmod(first_month - 1 + number - 1, 12)
        year += volume
        extension = ".cbr" if rng.random() < CBR_SHARE else ".cbz"
        issues.append(
            Issue(
                path=folder / f"{series.name} {number:03d} ({year}){extension}",
                publisher=series.publisher,
                series=series.name,
                number=number,
                count=count,
                volume=volume,
                year=year,
                month=month + 1,
                title=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}, Part {rng.randint(1, 6)}",
                writer=team[0],
                penciller=team[1],
                genre=series.genre,
                summary=_summary(rng),
                language=series.language,
                pages=_page_order(rng, pages),
                has_comicinfo=rng.random() >= NO_COMICINFO_SHARE,
            )
        )
    return issues


def _creator(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _summary(rng: random.Random) -> str:
    return (
        f"{_creator(rng)} faces {rng.choice(THREATS)} in {rng.choice(PLACES)}, "
        f"while {_creator(rng)} hides a secret that could end everything."
    )


def _page_order(rng: random.Random, pages: int) -> tuple[int, ...]:
    return tuple(rng.randrange(PAGE_POOL_SIZE) for _ in range(pages))


def _make_page(rng: random.Random, target_bytes: int) -> Page:
    """A JPEG with soft noise, tint and panel borders, sized to ``target_bytes``.

    Noise from ``rng`` (not Pillow's effect_noise, which ignores seeds) keeps
    the bytes reproducible. JPEG size grows a little slower than the area, so
    rescaling the width by the square root of the size ratio converges; a few
    small encodes land within 3 % of the target.
    """
    texture = Image.frombytes("L", (64, 96), rng.randbytes(64 * 96))
    tint = tuple(rng.randint(40, 215) for _ in range(3))
    width = 600
    for _ in range(6):
        page = _draw_page(texture, tint, (width, round(width * 1.54)))
        data = _jpeg(page)
        if abs(len(data) - target_bytes) <= target_bytes * 0.03:
            break
        width = max(64, round(width * math.sqrt(target_bytes / len(data))))
    return Page(data, page.width, page.height)


def _draw_page(texture: Image.Image, tint: tuple[int, ...], size: tuple[int, int]) -> Image.Image:
    grey = texture.resize(size, Image.Resampling.BICUBIC)
    page = Image.merge("RGB", [grey.point(lambda v, t=t: (v + t) // 2) for t in tint])
    draw = ImageDraw.Draw(page)
    width, height = size
    gutter = max(2, width // 60)
    for row in range(3):
        top = gutter + row * (height - gutter) // 3
        bottom = (row + 1) * (height - gutter) // 3
        draw.rectangle(
            (gutter, top, width - gutter, bottom), outline="black", width=gutter // 2 + 1
        )
    return page


def _jpeg(page: Image.Image) -> bytes:
    out = io.BytesIO()
    page.save(out, "JPEG", quality=80)
    return out.getvalue()


#: Set in each worker process once, so only issues cross the process boundary.
_worker_pool: Sequence[Page] = ()


def _init_worker(pool: Sequence[Page]) -> None:
    global _worker_pool
    _worker_pool = pool


def _write_chunk(root: Path, issues: Sequence[Issue]) -> None:
    for issue in issues:
        write_issue(root, issue, _worker_pool)


def _write_all(root: Path, issues: Sequence[Issue], pool: Sequence[Page], workers: int) -> None:
    if workers <= 1 or len(issues) < 2 * workers:
        for issue in issues:
            write_issue(root, issue, pool)
        return
    chunk = max(1, len(issues) // (workers * 8))
    chunks = [issues[i : i + chunk] for i in range(0, len(issues), chunk)]
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(pool,)) as executor:
        for _ in executor.map(_write_chunk, [root] * len(chunks), chunks):
            pass  # draining the results re-raises a worker's error here


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=20, help="pages per comic")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-kb", type=int, default=30, help="approximate size of a page")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = make_library(
        args.out_dir,
        args.count,
        pages=args.pages,
        seed=args.seed,
        page_kb=args.page_kb,
        workers=args.workers,
    )
    elapsed = time.perf_counter() - started
    size = sum(path.stat().st_size for path in paths)
    print(
        f"{len(paths)} comics, {size / 1e6:.0f} MB in {args.out_dir} "
        f"in {elapsed:.1f} s: {len(paths) / elapsed:.0f} files/s, {size / 1e6 / elapsed:.0f} MB/s"
    )


if __name__ == "__main__":
    main()
