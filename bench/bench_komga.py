"""The Komga API on a 100,000-book catalogue. Prints figures; never asserts.

    python bench/bench_komga.py [--books 100000] [--samples 40] [--database-url URL]

The catalogue is the one ``bench_opds.py`` uses (``bench_api_books.populate``:
a library, 60 publishers, 5,000 series, books with a writer and a genre each,
one user's progress on 2,000 books), written straight into a fresh database.
Each request goes through the Flask test client in-process with an API key
(``X-API-Key``, as Komelia sends it), so the figures include authentication,
the ``komga.enabled`` look-up, every query and the JSON encoding: all but the
network. The series list is what Mihon's Komga extension asks for first
(popular: ``sort=metadata.titleSort,asc``; latest: ``lastModifiedDate,desc``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_api_books import analyze, populate  # noqa: E402
from bench_opds import measure  # noqa: E402

REQUESTS = [
    ("series popular p0", "/komga/api/v1/series?search=&page=0&deleted=false"
                          "&sort=metadata.titleSort,asc"),
    ("series popular p200", "/komga/api/v1/series?search=&page=200&deleted=false"
                            "&sort=metadata.titleSort,asc"),
    ("series latest p0", "/komga/api/v1/series?search=&page=0&deleted=false"
                         "&sort=lastModifiedDate,desc"),
    ("series search", "/komga/api/v1/series?search=dark&page=0&deleted=false"),
    ("series in progress", "/komga/api/v1/series?read_status=IN_PROGRESS&page=0"),
    ("series unread", "/komga/api/v1/series?read_status=UNREAD&page=0"),
    ("one series", "/komga/api/v1/series/{series_id}"),
    ("books of a series", "/komga/api/v1/series/{series_id}/books?unpaged=true"
                          "&media_status=READY&deleted=false"),
    ("one book", "/komga/api/v1/books/{book_id}"),
    ("libraries", "/komga/api/v1/libraries"),
    ("publishers", "/komga/api/v1/publishers"),
    ("read lists", "/komga/api/v1/readlists?search=&page=0"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40, help="requests per figure")
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database (default: SQLite in a temp dir)")
    args = parser.parse_args()

    from comicsrv.app import create_app

    data_dir = tempfile.mkdtemp(prefix="comicsrv-bench-komga-")
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
        ids["series_id"] = db.session.get(Book, ids["book_id"]).series_id
        print(f"{args.books} books inserted in {time.perf_counter() - started:.1f} s; database "
              f"{app.config['DATABASE_URL'].split(':')[0]}", flush=True)
    analyze(app)
    headers = {"X-API-Key": ids["key"]}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nKomga API, {args.samples} requests each (ms); {os.cpu_count()} CPUs, "
          f"load average {load}")
    print(f"{'request':<24} {'p50':>7} {'p99':>7}")
    for label, template in REQUESTS:
        p50, p99 = measure(client, headers, template.format(**ids), args.samples)
        print(f"{label:<24} {p50:>7.1f} {p99:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
