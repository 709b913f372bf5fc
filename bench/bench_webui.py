"""The web UI in a real browser against a real ``comicsrv serve``. Prints figures; never asserts.

    python bench/bench_webui.py [--series 10000] [--pages 40] [--samples 30]

1. The series grid over ``--series`` series (two books each): server time of
   ``GET /series`` (first page, a deep page, a search) measured by the client
   to the last byte, and Chromium's first contentful paint of the page.
2. Page turns in the reader on a ``--pages``-page book at a reader's pace:
   keypress to the next page painted (the reader records it, see
   ``window.comicsrvReader.turns``), p50 and p99, with the prefetch on.
3. Bytes per turned page at phone width (360 CSS px at 3 device pixels per
   px, what the reader asks for) against the original pages.

The catalogue rows are bulk-inserted (as in ``bench_api_books.py``); every
book is a hard link to one real CBZ, so covers and pages are real images
read from real archives. The pages of the 40-page book are 1988 x 3056 JPEGs,
the size of a typical digital comic page.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import requests
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comicsrv.app import create_app  # noqa: E402
from comicsrv.extensions import db  # noqa: E402
from comicsrv.models import Book, Library, Publisher, Series, User, utcnow  # noqa: E402
from comicsrv.auth.secrets import hash_password  # noqa: E402
from tests.serving import LiveServer  # noqa: E402
from tests.webui.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PASSWORD = "benchmark password"
PAGE_SIZE = (1988, 3056)


def _page(number: int, size=PAGE_SIZE) -> bytes:
    """A page with the detail of line art (flat colour compresses too well)."""
    image = Image.effect_noise(size, 40).convert("RGB")
    tint = Image.new("RGB", size, ((number * 67) % 200 + 30, (number * 131) % 200 + 30, 90))
    image = Image.blend(image, tint, 0.6)
    draw = ImageDraw.Draw(image)
    for y in range(0, size[1], 18):
        draw.line([(0, y), (size[0], (y * 7) % size[1])], fill=(20, 20, 20), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _cbz(path: Path, pages: int, size=PAGE_SIZE) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for n in range(1, pages + 1):
            archive.writestr(f"{n:03d}.jpg", _page(n, size))


def build(root: Path, series_count: int, pages: int) -> tuple[str, dict]:
    comics = root / "comics"
    comics.mkdir(parents=True)
    small = root / "small.cbz"
    _cbz(small, 3, (800, 1200))
    long_book = comics / "Bench Press" / "Long Read" / "Long Read #001.cbz"
    long_book.parent.mkdir(parents=True)
    _cbz(long_book, pages)
    url = f"sqlite:///{root / 'bench.db'}"
    app = create_app({"DATA_DIR": str(root / "data"), "DATABASE_URL": url, "AUTO_MIGRATE": True,
                      "SCHEDULER_ENABLED": False})
    now = utcnow()
    with app.app_context():
        db.session.add(User(username="admin", password_hash=hash_password(PASSWORD),
                            is_admin=True, token_generation=0))
        library = Library(name="Bench", path=str(comics))
        db.session.add(library)
        db.session.flush()
        publishers = [Publisher(name=f"Publisher {i:02d}", sort_name=f"publisher {i:02d}")
                      for i in range(20)]
        db.session.add_all(publishers)
        db.session.flush()
        series_rows, book_rows = [], []
        for i in range(series_count):
            name = f"Series {i:05d}"
            series_rows.append({"library_id": library.id, "publisher_id": publishers[i % 20].id,
                                "name": name, "sort_name": name.lower(), "year": 1960 + i % 60,
                                "created_at": now - timedelta(minutes=i), "updated_at": now})
        db.session.execute(db.insert(Series), series_rows)
        ids = db.session.execute(db.select(Series.id, Series.publisher_id)).all()
        for n, (series_id, publisher_id) in enumerate(ids):
            folder = comics / f"Publisher {publisher_id:02d}" / f"Series {n:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            for issue in (1, 2):
                path = folder / f"Series {n:05d} #{issue:03d}.cbz"
                os.link(small, path)
                book_rows.append({
                    "library_id": library.id, "series_id": series_id, "publisher_id": publisher_id,
                    "path": str(path), "folder": str(folder), "filename": path.name,
                    "size": small.stat().st_size, "mtime": path.stat().st_mtime, "format": "cbz",
                    "state": "ok", "page_count": 3, "cover_page": 0, "is_new": True,
                    "series_name": f"Series {n:05d}", "number": str(issue),
                    "number_sort": float(issue), "year": 1960 + n % 60,
                    "arcid": f"{n:032x}{issue:08x}", "created_at": now, "updated_at": now})
        for chunk in range(0, len(book_rows), 2000):
            db.session.execute(db.insert(Book), book_rows[chunk:chunk + 2000])
        long_series = Series(library_id=library.id, name="Long Read", sort_name="long read")
        db.session.add(long_series)
        db.session.flush()
        book = Book(library_id=library.id, series_id=long_series.id, path=str(long_book),
                    folder=str(long_book.parent), filename=long_book.name,
                    size=long_book.stat().st_size, mtime=long_book.stat().st_mtime,
                    format="cbz", state="ok", page_count=pages, series_name="Long Read",
                    number="1", number_sort=1.0, arcid="f" * 40)
        db.session.add(book)
        db.session.commit()
        book_id = book.id
        db.engine.dispose()
    return url, {"book": book_id}


def timed_get(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    response = session.get(url, timeout=60)
    response.content  # noqa: B018 (read to the last byte)
    elapsed = time.perf_counter() - started
    assert response.ok, (url, response.status_code)
    return elapsed * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-webui-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        url, ids = build(root, args.series, args.pages)
        print(f"catalogue: {args.series:,} series, {2 * args.series:,} books "
              f"+ one {args.pages}-page book, built in {time.perf_counter() - started:.1f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
        env.update({"COMICSRV_DATABASE_URL": url, "COMICSRV_AUTO_MIGRATE": "false",
                    "COMICSRV_SCAN_ON_START": "false", "COMICSRV_LOG_LEVEL": "WARNING"})
        server = LiveServer(root / "serve", env).start()
        try:
            http = requests.Session()
            assert http.post(server.url + "/login", data={"username": "admin",
                                                          "password": PASSWORD}).ok
            print("\n== series grid: server time (client-measured, to the last byte), ms")
            deep = args.series // 60 // 2
            for label, path in (("first page", "/series"), (f"page {deep}", f"/series?page={deep}"),
                                ("sorted by year", "/series?sort=year"),
                                ("search 'series 0042'", "/series?q=series+0042"),
                                ("filter: unread", "/series?read=unread")):
                timed_get(http, server.url + path)  # warm
                times = [timed_get(http, server.url + path) for _ in range(args.samples)]
                print(f"  {label:<24} p50 {pct(times, 50):7.1f}   p95 {pct(times, 95):7.1f}")

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                cookies = [{"name": c.name, "value": c.value, "url": server.url}
                           for c in http.cookies]
                desktop = browser.new_context(viewport={"width": 1280, "height": 800})
                desktop.add_cookies(cookies)
                page = desktop.new_page()
                fcps = []
                for _ in range(min(args.samples, 10)):
                    page.goto(server.url + "/series", wait_until="load")
                    fcps.append(page.evaluate("""() => new Promise((resolve) => {
                        new PerformanceObserver((list) => {
                            const fcp = list.getEntriesByName("first-contentful-paint")[0];
                            if (fcp) resolve(fcp.startTime);
                        }).observe({type: "paint", buffered: true});
                    })"""))
                print(f"\n== series grid: first contentful paint (Chromium), ms\n"
                      f"  p50 {pct(fcps, 50):7.1f}   max {max(fcps):7.1f}")

                print(f"\n== reader: keypress -> next page painted, {args.pages}-page book, "
                      f"1280x800, prefetch on")
                page.goto(f"{server.url}/read/{ids['book']}?page=1")
                page.wait_for_selector("#spread[data-pages='1'] img")
                for n in range(2, args.pages + 1):
                    page.wait_for_timeout(300)  # a quick reader's pace; prefetch has time
                    page.keyboard.press("ArrowRight")
                    page.wait_for_selector(f"#spread[data-pages='{n}']")
                page.wait_for_timeout(100)
                turns = page.evaluate("window.comicsrvReader.turns")
                print(f"  {len(turns)} turns: p50 {pct(turns, 50):6.1f}   p99 {pct(turns, 99):6.1f}"
                      f"   max {max(turns):6.1f}")
                # the same turns without waiting: as fast as a key repeats
                page.goto(f"{server.url}/read/{ids['book']}?page=1")
                page.wait_for_selector("#spread[data-pages='1'] img")
                page.evaluate("window.comicsrvReader.turns.length = 0")
                for n in range(2, 12):
                    page.keyboard.press("ArrowRight")
                    page.wait_for_selector(f"#spread[data-pages='{n}']")
                fast = page.evaluate("window.comicsrvReader.turns")
                print(f"  back-to-back turns (no pause): p50 {pct(fast, 50):6.1f}   "
                      f"max {max(fast):6.1f}")

                print("\n== bytes per page: phone (360 CSS px, 3 device px per px) vs original")
                phone = browser.new_context(viewport={"width": 360, "height": 740},
                                            device_scale_factor=3, is_mobile=True, has_touch=True)
                phone.add_cookies(cookies)
                mobile = phone.new_page()
                mobile.goto(f"{server.url}/read/{ids['book']}?page=1")
                src = mobile.wait_for_selector("#spread img").get_attribute("src")
                width = src.split("width=")[1] if "width=" in src else None
                phone_bytes, original_bytes = [], []
                for n in range(1, args.pages + 1):
                    base = f"{server.url}/api/v1/books/{ids['book']}/pages/{n}"
                    phone_bytes.append(len(http.get(f"{base}?width={width}").content))
                    original_bytes.append(len(http.get(base).content))
                ratio = sum(phone_bytes) / sum(original_bytes)
                print(f"  reader asks for width={width}: {statistics.mean(phone_bytes) / 1024:7.0f} KiB"
                      f" per page vs {statistics.mean(original_bytes) / 1024:7.0f} KiB original"
                      f" ({ratio:.2f} of the bytes)")
                browser.close()
        finally:
            server.stop()
        print("\ntargets: grid server time < 100 ms; page turn p50 < 50 ms; "
              "phone page < 1/3 of the original's bytes")


if __name__ == "__main__":
    main()
