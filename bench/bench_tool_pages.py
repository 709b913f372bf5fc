"""Compressed RAR pages under gevent, as ``comicsrv serve`` reads them. Prints; never asserts.

    python bench/bench_tool_pages.py [--reads 40]

(with comicsrv installed, e.g. ``pip install -e .``). The process is
monkey-patched like the server. Reported: how long ``comicsrv.archives.preload``
takes at start-up (importing every reader in the hub's thread), then the
latency of one compressed RAR5 page (``bsdtar``, one process per page) and of
one solid RAR4 extraction (``unar``), each started either in the hub's own
thread or from one of gevent's native worker threads, which hands the tool to
the hub. The difference is the cost of that hand-over.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "archives"
RAR5_M5 = FIXTURES / "comicbox" / "Captain Science #001-cbi.cbr"
RAR4_SOLID = FIXTURES / "komga" / "rar4-solid.rar"


def read_page(path: Path, cache_dir: str) -> int:
    from comicsrv.archives import open_archive

    with open_archive(path, cache_dir) as archive:
        return len(archive.read_page(len(archive.pages()) - 1))


def measure(label: str, path: Path, reads: int, in_worker_thread: bool) -> None:
    pool = gevent.get_hub().threadpool
    latencies = []
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as cache_dir:
        for _ in range(reads):
            started = time.perf_counter()
            if in_worker_thread:
                pool.apply(read_page, (path, cache_dir))
            else:
                read_page(path, cache_dir)
            latencies.append(time.perf_counter() - started)
    latencies.sort()
    where = "worker thread -> hub" if in_worker_thread else "hub thread          "
    print(f"{label} from {where}  p50 {statistics.median(latencies) * 1e3:6.1f} ms   "
          f"p90 {latencies[int(len(latencies) * 0.9)] * 1e3:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=40)
    options = parser.parse_args()

    started = time.perf_counter()
    from comicsrv.archives import preload

    preload()
    print(f"preload (import every reader, bind the hub): {(time.perf_counter() - started) * 1e3:.0f} ms")
    for label, path in (("RAR5 m5 page (bsdtar)  ", RAR5_M5), ("RAR4 solid page (unar) ", RAR4_SOLID)):
        measure(label, path, options.reads, in_worker_thread=False)
        measure(label, path, options.reads, in_worker_thread=True)


if __name__ == "__main__":
    main()
