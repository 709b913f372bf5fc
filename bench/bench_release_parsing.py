"""How fast release titles are parsed and matched to watched series names.

An RSS check parses every new item and compares it with every watched
series; this prints the cost per release for a feed page against a large
watch list. Run: ``.venv/bin/python bench/bench_release_parsing.py``.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

from comicsrv.automation.decisions import SeriesIndex, alias_match
from comicsrv.automation.releases import parse_release

NAMES = [
    "Saga 054 (2018) (Digital) (Zone-Empire)",
    "Batman v3 050 (2018) (2 covers) (digital) (Son of Ultron-Empire)",
    "Amazing Spider-Man Annual 2019 (2019) (Digital) (Zone-Empire)",
    '[1/8] - "Saga 054 (2018) (Digital) (Zone-Empire).cbz" yEnc (1/41)',
    "Sandman.Overture.001.2013.Digital.Zone-Empire.cbr",
    "Doomsday Clock 012 (of 12) (2019) (Digital) (Zone-Empire)",
]


def main() -> None:
    titles = [f"{name} {i}" if i % 2 else name for i in range(2000) for name in NAMES[:1]] + NAMES * 500
    start = time.perf_counter()
    parsed = [parse_release(t) for t in titles]
    parse_seconds = time.perf_counter() - start
    watched = [SimpleNamespace(id=i, name=f"Series {i}", aliases=[f"Alias {i}"]) for i in range(1000)]
    watched.append(SimpleNamespace(id=-1, name="Saga", aliases=[]))
    sample = parsed[:100]
    start = time.perf_counter()
    hits = sum(1 for p in sample for s in watched if alias_match(p, s))
    match_seconds = time.perf_counter() - start
    start = time.perf_counter()
    index = SeriesIndex(watched)
    indexed_hits = sum(1 for p in sample if index.find(p)[1])
    index_seconds = time.perf_counter() - start
    print(f"parse_release: {len(titles)} titles in {parse_seconds * 1000:.0f} ms "
          f"({parse_seconds / len(titles) * 1e6:.1f} us per title)")
    print(f"alias_match: 100 releases x {len(watched)} watched series in {match_seconds * 1000:.0f} ms "
          f"({match_seconds / 100 * 1000:.2f} ms per release), {hits} hits")
    print(f"SeriesIndex: built and 100 releases found in {index_seconds * 1000:.1f} ms "
          f"({indexed_hits} hits): what the RSS check uses")


if __name__ == "__main__":
    main()
