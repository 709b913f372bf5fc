"""Server time of the *arr pages on a large watchlist. Prints figures; never asserts.

    python bench/bench_arr_pages.py [--series 2000] [--issues 60] [--downloads 20000] [--samples 15]

``--series`` watched series with ``--issues`` issues each (a third of them
wanted, the rest downloaded), ``--downloads`` finished downloads in the
history and 20 in the queue, all bulk-inserted into SQLite in a temporary
folder. Each page is rendered through Flask's test client (no network), as
an admin signed in with the session cookie: the median and the slowest of
``--samples`` runs, and the page's size.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comicsrv.app import create_app  # noqa: E402
from comicsrv.auth.secrets import hash_password  # noqa: E402
from comicsrv.extensions import db  # noqa: E402
from comicsrv.models import User, utcnow  # noqa: E402
from comicsrv.models.automation import (  # noqa: E402
    Download, ReleaseDecision, WatchedIssue, WatchedSeries,
)

PASSWORD = "bench password"


def fill(series: int, issues: int, downloads: int) -> None:
    now = utcnow()
    today = date.today()
    db.session.add(User(username="admin", password_hash=hash_password(PASSWORD), is_admin=True,
                        token_generation=0))
    db.session.execute(db.insert(WatchedSeries), [
        {"id": s, "provider": "metron", "provider_id": str(s), "name": f"Series {s:05d}",
         "sort_name": f"series {s:05d}", "year": 2000 + s % 25, "publisher": f"Publisher {s % 40}",
         "status": "monitored", "monitor_new": True, "issue_offset": 0, "want_annuals": False,
         "created_at": now, "updated_at": now} for s in range(1, series + 1)])
    rows = []
    for s in range(1, series + 1):
        for n in range(1, issues + 1):
            rows.append({"watched_series_id": s, "provider_id": f"{s}-{n}", "number": str(n),
                         "number_sort": float(n), "annual": False,
                         "store_date": (today - timedelta(days=7 * (issues - n) - 3)).isoformat(),
                         "state": "wanted" if n % 3 == 0 else "downloaded",
                         "state_changed_at": now, "created_at": now, "updated_at": now})
    for start in range(0, len(rows), 20_000):
        db.session.execute(db.insert(WatchedIssue), rows[start:start + 20_000])
    db.session.execute(db.insert(Download), [
        {"title": f"Series {d % series + 1:05d} {d % issues + 1:03d} (Digital)",
         "indexer": "NZB", "protocol": "usenet",
         "state": "imported" if d % 7 else "failed", "progress": 1.0, "size": 40_000_000,
         "error": None if d % 7 else "the download holds no comic",
         "created_at": now, "updated_at": now} for d in range(downloads)])
    db.session.execute(db.insert(Download), [
        {"title": f"Queue {q}", "protocol": "torrent", "state": "downloading", "progress": 0.3,
         "created_at": now, "updated_at": now} for q in range(20)])
    db.session.execute(db.insert(ReleaseDecision), [
        {"watched_issue_id": 3, "title": f"Series 00001 003 release {r}", "source": "manual",
         "indexer": "NZB", "accepted": r % 4 == 0, "grabbed": False, "score": r,
         "reasons": ["matches Series 00001 #3", "format cbz is preference 1 of 4"],
         "download_url": "http://127.0.0.1:9/get", "protocol": "usenet", "size": 40_000_000,
         "created_at": now} for r in range(300)])
    db.session.commit()


def measure(client, path: str, samples: int) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(samples):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.data)
    return statistics.median(times), max(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--issues", type=int, default=60)
    parser.add_argument("--downloads", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATA_DIR": folder, "SCHEDULER_ENABLED": False, "TESTING": True})
        with app.app_context():
            started = time.perf_counter()
            fill(args.series, args.issues, args.downloads)
            print(f"{args.series} watched series, {args.series * args.issues} issues, "
                  f"{args.downloads} downloads inserted in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        client.post("/login", data={"username": "admin", "password": PASSWORD})
        pages = {
            "series, covers": "/watchlist",
            "series, by missing": "/watchlist?sort=missing&view=table",
            "one series": "/watchlist/1",
            "interactive search (300 decisions)": "/watchlist/issues/3/releases",
            "wanted, page 1": "/wanted",
            "wanted, page 200": "/wanted?page=200&sort=series&order=asc",
            "upcoming": "/wanted/upcoming",
            "queue": "/activity",
            "history, page 1": "/activity/history",
            "history, page 300": "/activity/history?page=300",
            "settings, indexers": "/settings/indexers",
            "system, tasks": "/system/tasks",
        }
        print(f"{'page':40} {'median ms':>10} {'max ms':>8} {'KiB':>7}")
        for name, path in pages.items():
            median, worst, size = measure(client, path, args.samples)
            print(f"{name:40} {median:10.1f} {worst:8.1f} {size / 1024:7.1f}")


if __name__ == "__main__":
    main()
