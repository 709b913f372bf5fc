"""OPDS feeds on a 100,000-book catalogue. Prints figures; never asserts.

    python bench/bench_opds.py [--books 100000] [--samples 40] [--database-url URL]

The catalogue is written straight into a fresh database by
``bench_api_books.populate`` (Core bulk inserts: a library, 60 publishers,
5,000 series, books with a writer and a genre each, one user's progress on
2,000 books). Each request goes through the Flask test client in-process with
an API key, so the figures include authentication, the ``opds.enabled``
look-up, every query of the feed and XML or JSON encoding: all but the
network. Target: p50 under 30 ms.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_api_books import analyze, percentile, populate  # noqa: E402

FEEDS = [
    ("v1.2 root", "/opds/v1.2/catalog"),
    ("v1.2 recently added p1", "/opds/v1.2/recent"),
    ("v1.2 recently added p1000", "/opds/v1.2/recent?page=1000"),
    ("v1.2 recently added unread", "/opds/v1.2/recent?read=unread"),
    ("v1.2 keep reading", "/opds/v1.2/keep-reading"),
    ("v1.2 on deck", "/opds/v1.2/on-deck"),
    ("v1.2 series list p1", "/opds/v1.2/series"),
    ("v1.2 series list p50", "/opds/v1.2/series?page=50"),
    ("v1.2 one series", "/opds/v1.2/series/{series_id}"),
    ("v1.2 publishers", "/opds/v1.2/publishers"),
    ("v1.2 search", "/opds/v1.2/search?q=dark+knight"),
    ("v1.2 PSE page write", None),
    ("v2.0 root", "/opds/v2.0/catalog"),
    ("v2.0 recently added p1", "/opds/v2.0/recent"),
    ("v2.0 one series", "/opds/v2.0/series/{series_id}"),
    ("v2.0 progression", "/opds/v2.0/books/{book_id}/progression"),
]


def measure(client, headers, url: str, samples: int) -> tuple[float, float]:
    response = client.get(url, headers=headers)  # warm the caches once
    assert response.status_code in (200, 204), (url, response.data[:300])
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        client.get(url, headers=headers)
        times.append(time.perf_counter() - started)
    return percentile(times, 0.5), percentile(times, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40, help="requests per figure")
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database (default: SQLite in a temp dir)")
    args = parser.parse_args()

    from comicsrv.app import create_app

    data_dir = tempfile.mkdtemp(prefix="comicsrv-bench-opds-")
    config = {"DATA_DIR": data_dir, "SCHEDULER_ENABLED": False, "LOG_LEVEL": "WARNING",
              "AUTO_MIGRATE": True}
    if args.database_url:
        config["DATABASE_URL"] = args.database_url
    app = create_app(config)
    client = app.test_client()
    with app.app_context():
        started = time.perf_counter()
        ids = populate(args.books)
        from comicsrv.extensions import db
        from comicsrv.models import Book, ReadingProgress

        ids["book_id"] = db.session.execute(db.select(ReadingProgress.book_id).limit(1)).scalar()
        print(f"{args.books} books inserted in {time.perf_counter() - started:.1f} s; database "
              f"{app.config['DATABASE_URL'].split(':')[0]}", flush=True)
    analyze(app)
    headers = {"X-API-Key": ids["key"]}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nOPDS feeds, {args.samples} requests each (ms); {os.cpu_count()} CPUs, "
          f"load average {load}")
    print(f"{'feed':<30} {'p50':>7} {'p99':>7}")
    for label, template in FEEDS:
        if template is None:
            p50, p99 = pse_writes(app, client, headers, ids, args.samples)
        else:
            p50, p99 = measure(client, headers, template.format(**ids), args.samples)
        print(f"{label:<30} {p50:>7.1f} {p99:>7.1f}", flush=True)


def pse_writes(app, client, headers, ids, samples: int) -> tuple[float, float]:
    """The progress write a PSE page request adds, without the image: the
    bench books have no files, so the write path is timed on its own."""
    from comicsrv.auth.principal import current_principal
    from comicsrv.extensions import db
    from comicsrv.models import Book
    from comicsrv.opds.pse import save_position

    times = []
    with app.test_request_context(headers=headers):
        book = db.session.get(Book, ids["book_id"])
        current_principal()
        for number in range(samples):
            started = time.perf_counter()
            save_position(book, 1 + number % 15)
            times.append(time.perf_counter() - started)
    return percentile(times, 0.5), percentile(times, 0.99)


if __name__ == "__main__":
    main()
