"""Scanner, cover and page benchmarks on a synthetic library. Prints figures.

    python bench/bench_scan.py [--count 10000] [--library DIR] [--database-url URL]

The library is generated once (bench/make_library.py, in a subprocess so its
memory does not count) and reused. Measured in this process: a full scan, a
no-change rescan, cold and warm cover requests, page reads; peak RSS is the
process's high-water mark after the full scan.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000  # noqa: E731
    return f"p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--library", type=Path, default=HERE / "out" / "library")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()

    library_dir = args.library / str(args.count)
    if not library_dir.exists():
        print(f"generating {args.count} comics in {library_dir} ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_library.py"), str(library_dir),
                        "--count", str(args.count)], check=True)

    from comicsrv.app import create_app
    from comicsrv.extensions import db
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB
    from comicsrv.lifecycle import freeze_startup_objects
    from comicsrv.models import Book, Job

    data_dir = tempfile.mkdtemp(prefix="comicsrv-bench-")
    config = {"DATA_DIR": data_dir, "SCHEDULER_ENABLED": False, "LOG_LEVEL": "WARNING"}
    if args.database_url:
        config["DATABASE_URL"] = args.database_url
    app = create_app(config)
    freeze_startup_objects()  # as `comicsrv serve` and `comicsrv scan` do
    print(f"start RSS {rss_mb():.0f} MB, database {app.config['DATABASE_URL'].split(':')[0]}")
    with app.app_context():
        library = create_library("Bench", str(library_dir))
        runner = app.extensions["comicsrv.jobs"]

        started = time.perf_counter()
        job = runner.run_now(SCAN_JOB, {"library_id": library.id})
        elapsed = time.perf_counter() - started
        files = job.result["files"]
        print(f"full scan: {files} files in {elapsed:.2f} s = {files / elapsed:.0f} comics/s "
              f"({job.state}, created {job.result['created']}, errored {job.result['errored']}); "
              f"peak RSS {rss_mb():.0f} MB")
        phases = job.result["seconds"]
        print(f"  phases: walk {phases['walk']:.2f} s, index {phases['index']:.2f} s "
              f"({files / max(phases['index'], 1e-9):.0f} comics/s), "
              f"archive ids in the scan {phases['hash']:.2f} s")
        ids_job = job.result.get("archive_ids_job")
        if ids_job is not None:  # queued by the scan; the books were browsable already
            runner.wait(ids_job)
            ids_elapsed = time.perf_counter() - started
            hashed = db.session.get(Job, ids_job, populate_existing=True).result["hashed"]
            print(f"  archive ids after the scan: {hashed} files, all known "
                  f"{ids_elapsed - elapsed:.2f} s after it ended "
                  f"({ids_elapsed:.2f} s from the start)")

        started = time.perf_counter()
        job = runner.run_now(SCAN_JOB, {"library_id": library.id})
        elapsed = time.perf_counter() - started
        print(f"no-change rescan: {elapsed:.3f} s ({job.result['unchanged']} unchanged)")

        media = app.extensions["comicsrv.media"]
        books = db.session.execute(db.select(Book).where(Book.state == "ok")
                                   .order_by(Book.id).limit(args.samples)).scalars().all()
        cold = []
        for book in books:
            t = time.perf_counter()
            media.cover(book)
            cold.append(time.perf_counter() - t)
        print(f"cover cold (in-process): {len(cold) / sum(cold):.0f} covers/s, {percentiles(cold)}")
        warm = []
        for book in books:
            t = time.perf_counter()
            media.cover(book)
            warm.append(time.perf_counter() - t)
        print(f"cover warm (in-process): {percentiles(warm)}")

        pages = []
        for book in books:
            for number in (1, book.page_count // 2 or 1):
                t = time.perf_counter()
                media.page(book, number)
                pages.append(time.perf_counter() - t)
        print(f"page read (stored zip, byte range): {len(pages) / sum(pages):.0f} pages/s, "
              f"{percentiles(pages)}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS {rss_mb():.0f} MB (largest reader worker process: {children:.0f} MB)")


if __name__ == "__main__":
    os.environ.setdefault("COMICSRV_LOG_LEVEL", "WARNING")
    main()
