"""Benchmark comicsrv.filenames.parse_filename. Prints; never asserts.

    python bench/bench_filenames.py [--names 50000] [--repeat 5] [--seed 1]

(with comicsrv installed, e.g. ``pip install -e .``). The scanner calls the parser
for every file without metadata, so the figure that matters is names per second
on a library-like mix. The names are distinct (no cache can help) and built from
the shapes real libraries and release groups use: scanner names with year and
tags, ``#`` numbers, volumes, titles, underscores, dotted releases, annuals and
trade paperbacks, and series whose names hold digits.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from comicsrv.filenames import parse_filename

SERIES = (
    "Saga", "Batman", "The Amazing Spider-Man", "X-Men '92", "2000 AD", "100 Bullets",
    "Spider-Man 2099", "Batman - Superman", "Wolverine & the X-Men", "S.H.I.E.L.D.",
    "Aquaman 80th Anniversary 100-Page Super Spectacular", "Y - The Last Man", "Ms. Marvel",
    "Star Wars - War of the Bounty Hunters - IG-88", "Blade Runner 2029", "Monster Island",
)  # fmt: skip
GROUPS = (
    "Zone-Empire",
    "Son of Ultron-Empire",
    "The Last Kryptonian-DCP",
    "Minutemen-PhD",
    "Glorith-HD",
)
SOURCES = ("Digital", "digital", "Webrip", "c2c")
EXTENSIONS = ("cbz", "cbr", "cb7", "pdf")
TEMPLATES = (
    "{series} {number:03d} ({year}) ({source}) ({group}).{ext}",
    "{series} #{number} ({year}).{ext}",
    "{series} v{volume} {number:03d} ({year}) ({source}) ({group}).{ext}",
    "{series} {number:03d} - Part {volume} ({year}) ({source}) ({group}).{ext}",
    "{series} {number:02d} (of {count:02d}) ({year}) ({source}) ({group}).{ext}",
    "{series} Annual {number:03d} ({year}) ({source}) ({group}).{ext}",
    "{series} Vol. {volume} TPB ({year}) ({source}) ({group}).{ext}",
    "{underscored}_{number:03d}_({year})_({source})_({group}).{ext}",
    "{dotted}.{number:03d}.{year}.{source}.{ext}",
    "Comics/{series} ({year})/{series} {number:03d} ({year}).{ext}",
)


def make_names(count: int, seed: int) -> list[str]:
    """Build ``count`` distinct names from the templates."""
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < count:
        series = rng.choice(SERIES)
        template = rng.choice(TEMPLATES)
        names.add(
            template.format(
                series=series,
                underscored=series.replace(" ", "_"),
                dotted=series.replace(" ", "."),
                number=rng.randint(0, 999),
                count=rng.randint(2, 12),
                volume=rng.randint(1, 9),
                year=rng.randint(1938, 2025),
                source=rng.choice(SOURCES),
                group=rng.choice(GROUPS),
                ext=rng.choice(EXTENSIONS),
            )
        )
    return sorted(names)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--names", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    names = make_names(args.names, args.seed)
    rates = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for name in names:
            parse_filename(name)
        rates.append(len(names) / (time.perf_counter() - start))
    best, median = max(rates), statistics.median(rates)
    print(f"parse_filename: {len(names):,} distinct names, {args.repeat} runs")
    print(f"  best   {best:>10,.0f} names/s  ({1e6 / best:.1f} µs/name)")
    print(f"  median {median:>10,.0f} names/s  ({1e6 / median:.1f} µs/name)")


if __name__ == "__main__":
    main()
