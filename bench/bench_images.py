"""Benchmark comicsrv.images on full-size comic pages. Prints; never asserts.

    python bench/bench_images.py [--pages 16] [--repeat 2] [--seed 1]

(with comicsrv installed, e.g. ``pip install -e .``). Measures what a
library scan and a reader session cost: cold cover thumbnails (decode from
bytes every time, as on a cache miss) with and without JPEG draft decoding,
reader resizes to WebP and JPEG, and the header-only size probe. Pages are
1988x3056 JPEGs, the size of a current digital comic page, with grain and
blotches so they compress like scans rather than like flat colour.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from comicsrv import images

PAGE_SIZE = (1988, 3056)


def make_page(rng: random.Random, size: tuple[int, int] = PAGE_SIZE) -> bytes:
    """A page-sized JPEG: soft colour blotches under fine grain."""
    width, height = size
    small = (width // 16, height // 16)
    blotches = Image.merge(
        "RGB",
        [Image.frombytes("L", small, rng.randbytes(small[0] * small[1])) for _ in range(3)],
    ).resize(size, Image.Resampling.BICUBIC)
    grain = Image.frombytes("L", size, rng.randbytes(width * height)).convert("RGB")
    out = io.BytesIO()
    Image.blend(blotches, grain, 0.03).save(out, "JPEG", quality=85)
    return out.getvalue()


def timings(call: Callable[[bytes], object], pages: Sequence[bytes], repeat: int) -> list[float]:
    """Milliseconds of each call, over every page ``repeat`` times."""
    call(pages[0])  # load codecs and plugins outside the measurement
    samples = []
    for _ in range(repeat):
        for page in pages:
            started = time.perf_counter()
            call(page)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def threaded_rate(call: Callable[[bytes], object], pages: Sequence[bytes], threads: int) -> float:
    """Pages per second with ``threads`` threads: Pillow releases the GIL."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(call, pages):
            pass
    return len(pages) / (time.perf_counter() - started)


def report(label: str, samples: list[float]) -> None:
    p50 = statistics.median(samples)
    p99 = statistics.quantiles(samples, n=100)[98]
    rate = len(samples) / (sum(samples) / 1000)
    print(f"{label:<40} {p50:8.2f} {p99:8.2f} {rate:9.1f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=16, help="distinct pages to generate")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the pages")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    pages = [make_page(rng) for _ in range(args.pages)]
    mean_kb = statistics.mean(len(page) for page in pages) / 1024
    print(f"{len(pages)} JPEG pages {PAGE_SIZE[0]}x{PAGE_SIZE[1]}, mean {mean_kb:.0f} kB")
    print(f"{'case (single thread)':<40} {'p50 ms':>8} {'p99 ms':>8} {'pages/s':>9}")

    def thumb(page: bytes) -> bytes:
        return images.thumbnail(page)

    cases: dict[str, Callable[[bytes], object]] = {
        "image_size (header only)": images.image_size,
        "thumbnail 400px jpeg, draft": thumb,
        "thumbnail 400px jpeg, no draft": lambda page: images.thumbnail(page, draft=False),
        "transform width 1200 -> webp": lambda page: images.transform(page, 1200, fmt="webp"),
        "transform width 1200 -> jpeg": lambda page: images.transform(page, 1200),
        "transform webp, full size": lambda page: images.transform(page, fmt="webp"),
    }
    for label, call in cases.items():
        report(label, timings(call, pages, args.repeat))

    threads = os.cpu_count() or 1
    rate = threaded_rate(thumb, pages * args.repeat, threads)
    print(f"thumbnail 400px jpeg, draft, {threads} threads: {rate:.1f} pages/s")


if __name__ == "__main__":
    main()
