"""``GET /api/v1/books`` on a 100,000-book catalogue. Prints figures; never asserts.

    python bench/bench_api_books.py [--books 100000] [--samples 40] [--database-url URL]

Rows (a library, publishers, series, books, tags, one user's progress) are
written straight into a fresh database with Core bulk inserts; no archive is
made or scanned. Each request goes through the Flask test client in-process,
with an API key, so the figures include authentication, argument parsing,
both queries of a page (count and rows), the progress and publisher look-ups
and JSON encoding: everything but the network.

Every sort is measured on a first, a middle and the last page, then again
after creating, ad hoc, the index that would serve it (the schema itself is
not changed here: the report names each index and what it buys).
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import datetime, timedelta

# (label, query string) of every measured list.
SORTS = [
    ("title (default)", ""),
    ("number", "sort=number"),
    ("file_size desc", "sort=file_size,desc"),
    ("page_count", "sort=page_count"),
    ("created_at desc", "sort=created_at,desc"),
    ("modified_at", "sort=modified_at"),
    ("series_id filter", "series_id={series_id}&sort=number"),
    ("library_id filter", "library_id={library_id}&sort=created_at,desc"),
]

# Indexes that would serve the sorts above, created ad hoc. Each leads with
# exactly the ORDER BY of its sort, then ``id`` (the tie-break), then the
# columns the WHERE reads (library scope, missing files), so paging deep into
# a list skips entries in the index without visiting the table. SQLite and
# PostgreSQL both accept these definitions.
CANDIDATE_INDEXES = [
    ("ix_books_title_sort", "books (lower(coalesce(title, filename)), id, library_id, state)"),
    ("ix_books_number_sort", "books ((number_sort IS NULL), number_sort, id, library_id, state)"),
    ("ix_books_size_sort", "books (size, id, library_id, state)"),
    ("ix_books_page_count_sort", "books (page_count, id, library_id, state)"),
    ("ix_books_mtime_sort", "books (mtime, id, library_id, state)"),
    ("ix_books_created_sort", "books (created_at, id, library_id, state)"),
]

GENRES = ["Action", "Horror", "Comedy", "Drama", "Science Fiction", "Fantasy", "Crime",
          "Romance", "Western", "War"]
WORDS = ["Amazing", "Dark", "Secret", "Uncanny", "Tales", "Knight", "Legion", "Night",
         "Saga", "Wars", "Spider", "Star", "Iron", "Green", "Black", "Wonder", "Doom"]


def populate(books: int, seed: int = 7) -> dict:
    """Write the catalogue with Core executemany inserts; return ids the
    queries need."""
    from comicsrv.auth.secrets import hash_token, new_api_key
    from comicsrv.extensions import db
    from comicsrv.models import (
        ApiKey, Book, BookTag, Library, Publisher, ReadingProgress, Series, Tag, User,
    )

    rng = random.Random(seed)
    now = datetime(2026, 1, 1)
    session = db.session
    session.execute(Library.__table__.insert(), [{
        "id": 1, "name": "Bench", "path": "/bench", "enabled": True, "scan_on_start": False,
        "default_scan_mode": "normal", "created_at": now, "updated_at": now}])
    publishers = 60
    session.execute(Publisher.__table__.insert(), [
        {"id": i, "name": f"Publisher {i}", "sort_name": f"publisher {i}", "created_at": now,
         "updated_at": now} for i in range(1, publishers + 1)])
    series_count = max(1, books // 20)
    series_names = {}
    rows = []
    for i in range(1, series_count + 1):
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}"
        series_names[i] = name
        rows.append({"id": i, "library_id": 1, "publisher_id": 1 + i % publishers, "name": name,
                     "sort_name": name.lower(), "year": 1960 + i % 60, "created_at": now,
                     "updated_at": now})
    session.execute(Series.__table__.insert(), rows)

    rows = []
    for i in range(1, books + 1):
        series_id = 1 + (i - 1) % series_count
        number = 1 + (i - 1) // series_count
        titled = rng.random() < 0.7
        rows.append({
            "id": i, "library_id": 1, "series_id": series_id,
            "publisher_id": 1 + series_id % publishers,
            "path": f"/bench/{series_id}/{i}.cbz", "folder": f"/bench/{series_id}",
            "filename": f"{series_names[series_id]} #{number:03d}.cbz",
            "size": rng.randint(5_000_000, 120_000_000), "mtime": 1.6e9 + rng.random() * 1e8,
            "format": "cbz", "state": "error" if rng.random() < 0.01 else "ok",
            "page_count": rng.randint(18, 60), "cover_page": 0, "is_new": False,
            "has_comicinfo": titled, "series_name": series_names[series_id],
            "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)}" if titled else None,
            "number": str(number), "number_sort": float(number) if rng.random() < 0.97 else None,
            "year": 1960 + number % 60, "language": "en",
            "arcid": f"{i:040x}", "scanned_at": now,
            "created_at": now - timedelta(minutes=books - i), "updated_at": now,
        })
        if len(rows) == 10_000:
            session.execute(Book.__table__.insert(), rows)
            rows = []
    if rows:
        session.execute(Book.__table__.insert(), rows)

    tags = [{"id": i + 1, "namespace": "genre", "name": g} for i, g in enumerate(GENRES)]
    tags += [{"id": len(GENRES) + i, "namespace": "writer", "name": f"Writer {i}"}
             for i in range(1, 501)]
    session.execute(Tag.__table__.insert(), tags)
    links = []
    for i in range(1, books + 1):
        for tag_id in {rng.randint(1, len(GENRES)), rng.randint(len(GENRES) + 1, len(tags))}:
            links.append({"book_id": i, "tag_id": tag_id, "source": "metadata"})
        if len(links) >= 20_000:
            session.execute(BookTag.__table__.insert(), links)
            links = []
    if links:
        session.execute(BookTag.__table__.insert(), links)

    session.execute(User.__table__.insert(), [{
        "id": 1, "username": "bench", "password_hash": "!", "is_admin": True, "is_active": True,
        "token_generation": 0, "created_at": now, "updated_at": now}])
    key, prefix = new_api_key()
    session.execute(ApiKey.__table__.insert(), [{
        "user_id": 1, "name": "bench", "key_prefix": prefix, "key_hash": hash_token(key),
        "permissions": ["SystemAdmin"], "created_at": now}])
    read = rng.sample(range(1, books + 1), min(books, 2_000))
    session.execute(ReadingProgress.__table__.insert(), [{
        "user_id": 1, "book_id": b, "page": 5, "total_pages": 30, "completed": b % 3 == 0,
        "time_spent": 0, "started_at": now, "updated_at": now} for b in read])
    session.commit()
    return {"key": key, "series_id": series_count // 2, "library_id": 1}


def analyze(app) -> None:
    """Fresh planner statistics; on PostgreSQL also VACUUM, as autovacuum
    would have by then: without the visibility map an index-only count
    visits every heap page."""
    from sqlalchemy import text

    from comicsrv.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(client, headers, query: str, page: int, samples: int) -> tuple[float, float, int]:
    url = f"/api/v1/books?page={page}&page_size=50" + (f"&{query}" if query else "")
    response = client.get(url, headers=headers)  # warm the caches once
    assert response.status_code == 200, response.json
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        client.get(url, headers=headers)
        times.append(time.perf_counter() - started)
    return percentile(times, 0.5), percentile(times, 0.99), response.json["total_pages"]


def run(client, headers, ids: dict, samples: int) -> dict[tuple[str, str], tuple[float, float]]:
    results = {}
    for label, template in SORTS:
        query = template.format(**ids)
        last = measure(client, headers, query, 1, 1)[2]
        for where, page in (("page 1", 1), ("middle", max(1, last // 2)), ("last", max(1, last))):
            p50, p99, _ = measure(client, headers, query, page, samples)
            results[(label, where)] = (p50, p99)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40, help="requests per figure")
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database (default: SQLite in a temp dir)")
    args = parser.parse_args()

    from sqlalchemy import text

    from comicsrv.app import create_app
    from comicsrv.extensions import db

    data_dir = tempfile.mkdtemp(prefix="comicsrv-bench-api-")
    config = {"DATA_DIR": data_dir, "SCHEDULER_ENABLED": False, "LOG_LEVEL": "WARNING",
              "AUTO_MIGRATE": True}
    if args.database_url:
        config["DATABASE_URL"] = args.database_url
    app = create_app(config)
    client = app.test_client()
    with app.app_context():
        started = time.perf_counter()
        ids = populate(args.books)
        analyze(app)
        print(f"{args.books} books ({args.books // 20} series, 2 tags each) inserted in "
              f"{time.perf_counter() - started:.1f} s; database "
              f"{app.config['DATABASE_URL'].split(':')[0]}", flush=True)
    headers = {"X-API-Key": ids["key"]}

    before = run(client, headers, ids, args.samples)
    with app.app_context():
        for name, definition in CANDIDATE_INDEXES:
            db.session.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}"))
        db.session.commit()
    analyze(app)
    after = run(client, headers, ids, args.samples)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nGET /api/v1/books?page=N&page_size=50, {args.samples} requests per row "
          f"(ms, p50 / p99); {os.cpu_count()} CPUs, load average {load}")
    print(f"{'list':<20} {'page':<7} {'schema as is':>17} {'+ candidate indexes':>21}")
    for (label, where), (p50, p99) in before.items():
        a50, a99 = after[(label, where)]
        print(f"{label:<20} {where:<7} {p50:>8.1f} / {p99:<6.1f} {a50:>10.1f} / {a99:<6.1f}")
    print("\ncandidate indexes:")
    for name, definition in CANDIDATE_INDEXES:
        print(f"  CREATE INDEX {name} ON {definition}")


if __name__ == "__main__":
    main()
