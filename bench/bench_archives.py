"""Benchmark comicsrv.archives on the scanner's hot path. Prints; never asserts.

    python bench/bench_archives.py [--archives 2000] [--pages 20] [--repeat 3]

(with comicsrv installed, e.g. ``pip install -e .``). For every file the
library scanner opens the archive, lists its pages and reads ComicInfo.xml, so
that is the unit measured here, on one core: archives per second and the
per-archive latency (p50/p99).  The CBZs are synthetic (stored JPEG-ish pages
plus a ComicInfo.xml, the common shape of real CBZs) and distinct files, so
the OS page cache is warm, as on a rescan, but nothing is reused in Python.
Listing includes each stored page's ``data_offset`` (one small read of its
local header), which the page server needs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from comicsrv.archives import open_archive

COMICINFO = """<?xml version="1.0" encoding="utf-8"?>
<ComicInfo xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Series>Benchmark Tales</Series><Number>{number}</Number><Year>2024</Year>
  <Writer>A. Writer</Writer><Penciller>A. Artist</Penciller>
  <Summary>Synthetic issue {number} for the archive benchmark.</Summary>
  <PageCount>{pages}</PageCount>
</ComicInfo>
"""


def make_library(directory: Path, archives: int, pages: int) -> list[Path]:
    """Write ``archives`` small CBZs: ``pages`` stored JPEG-ish pages and a ComicInfo.xml."""
    page_bytes = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8  # 2 KiB, starts like a JPEG
    paths = []
    for number in range(archives):
        path = directory / f"Benchmark Tales {number:05d}.cbz"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
            for page in range(1, pages + 1):
                zf.writestr(f"Benchmark Tales {number:05d}/page{page:03d}.jpg", page_bytes)
            zf.writestr("ComicInfo.xml", COMICINFO.format(number=number, pages=pages))
        paths.append(path)
    return paths


def scan(path: Path) -> None:
    with open_archive(path) as archive:
        archive.pages()
        archive.find_metadata()["ComicInfo.xml"]


def measure(label: str, work: Callable[[Path], None], paths: list[Path], repeat: int) -> None:
    for _ in range(repeat):
        latencies = []
        started = time.perf_counter()
        for path in paths:
            before = time.perf_counter()
            work(path)
            latencies.append(time.perf_counter() - before)
        elapsed = time.perf_counter() - started
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"{label} {len(paths) / elapsed:8.0f} archives/s   "
            f"p50 {statistics.median(latencies) * 1e6:6.0f} µs   p99 {p99 * 1e6:6.0f} µs"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-archives-") as tmp:
        started = time.perf_counter()
        paths = make_library(Path(tmp), options.archives, options.pages)
        print(
            f"{options.archives} CBZs x {options.pages} stored pages + ComicInfo.xml "
            f"written in {time.perf_counter() - started:.1f} s"
        )
        measure("open + pages + ComicInfo", scan, paths, options.repeat)


if __name__ == "__main__":
    main()
