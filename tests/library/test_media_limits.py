"""Pathological pages cost bounded time and memory, and only once.

Through a real ``comicsrv serve`` process where it matters (worker
processes, the gevent loop staying free, the server's own memory), in
process for the cache and the routing of work."""
from __future__ import annotations

import io
import os
import random
import statistics
import struct
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import requests
from PIL import Image

from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.jobs.pool import ProcessWorkers
from comicsrv.library.media import PageTooSlow, RenderCache
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book
from tests.serving import live_server  # noqa: F401

HUGE_EDGE = 14_000


# -- building pathological files ------------------------------------------------

def huge_png(width: int, height: int) -> bytes:
    """An RGB PNG of ``width`` x ``height`` black pixels, written row by row:
    a few hundred KB on disk, ``width * height * 4`` bytes once Pillow has
    decoded it (RGB is stored as 32-bit pixels)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 3)  # filter byte "none", then the pixels
    idat = bytearray()
    for _ in range(height):
        idat += compressor.compress(row)
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", bytes(idat))
            + chunk(b"IEND", b""))


def vector_pdf(*segment_counts: int) -> bytes:
    """A PDF with one page per count, each that many random strokes long.
    PDFium takes about 0.45 s per 1,000 strokes at 2,000 pixels (20,000:
    9 s), and cannot be interrupted while it draws."""
    rnd = random.Random(7)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for segments in segment_counts:
        ops = [b"0.2 w 1 J"]
        for _ in range(segments):
            x, y = rnd.uniform(0, 612), rnd.uniform(0, 792)
            ops.append(b"%.1f %.1f m %.1f %.1f l %.1f %.1f l S" % (
                x, y, x + rnd.uniform(-300, 300), y + rnd.uniform(-300, 300),
                x + rnd.uniform(-300, 300), y + rnd.uniform(-300, 300)))
        content = zlib.compress(b"\n".join(ops))
        page_number, content_number = len(objects) + 1, len(objects) + 2
        kids.append(b"%d 0 R" % page_number)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Contents %d 0 R >>" % content_number)
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
                       + content + b"\nendstream")
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 1200), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def cbz(path: Path, pages: list[bytes], suffixes: list[str]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number, (data, suffix) in enumerate(zip(pages, suffixes), 1):
            archive.writestr(f"{number:03d}.{suffix}", data)


def scan(app, root: Path) -> dict[str, Book]:
    library = create_library("Pathological", str(root))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    books = db.session.execute(db.select(Book)).scalars().all()
    return {book.filename: book for book in books}


# -- watching the server process -------------------------------------------------

def status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` figure in kB (VmHWM: the peak resident set)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def timed_get(url: str, headers: dict, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, headers=headers, timeout=120, **kwargs)
    return response, time.monotonic() - started


# -- through a real server -------------------------------------------------------

def test_a_pdf_page_past_the_render_limit_is_stopped_while_other_pages_are_served(
        app, tmp_path, admin_headers, live_server):
    root = tmp_path / "comics"
    root.mkdir()
    (root / "Heavy #001.pdf").write_bytes(vector_pdf(50, 120_000))  # page 2: 10-50 s to draw
    cbz(root / "Plain #001.cbz", [small_jpeg()], ["jpg"])
    books = scan(app, root)
    heavy, plain = books["Heavy #001.pdf"].id, books["Plain #001.cbz"].id
    server = live_server(RENDER_TIMEOUT_SECONDS=3)
    url = server.url + "/api/v1/books/{}/pages/{}"
    light, _ = timed_get(url.format(heavy, 1), admin_headers)  # a worker started, a page drawn
    assert light.status_code == 200 and light.content[:3] == b"\xff\xd8\xff"

    result = {}
    slow = threading.Thread(target=lambda: result.update(
        zip(("response", "elapsed"), timed_get(url.format(heavy, 2), admin_headers))))
    slow.start()
    others = []
    while slow.is_alive() and len(others) < 60:
        for path in (url.format(plain, 1), url.format(heavy, 1),
                     url.format(plain, 1) + "?width=300"):
            response, elapsed = timed_get(path, admin_headers)
            assert response.status_code == 200, response.text
            others.append(elapsed)
    slow.join()
    response, elapsed = result["response"], result["elapsed"]
    # The limit, plus a worker's start-up on a busy machine: not 13 s of drawing.
    assert response.status_code == 404 and 3 <= elapsed < 6, (response.status_code, elapsed)
    body = response.json()
    assert body["error"] == "render_timeout" and "longer than 3 s" in body["message"]
    # Served meanwhile, in milliseconds on a quiet machine.
    assert len(others) >= 6 and statistics.median(others) < 0.5, others

    again, elapsed = timed_get(url.format(heavy, 2), admin_headers)
    assert again.status_code == 404 and again.json()["error"] == "render_timeout"
    assert elapsed < 0.5  # remembered, not drawn for another 3 s
    assert "Traceback" not in server.output()


def test_parallel_resizes_of_a_huge_png_queue_for_one_worker_and_are_cached(
        app, tmp_path, admin_headers, live_server):
    """Six readers ask for a 14,000 x 14,000 PNG page (780 MB decoded) at
    once: one worker process decodes it, the others wait on their greenlets
    and get its cached result, the server process itself never holds the
    decoded image, and a small page asked meanwhile is answered at once."""
    root = tmp_path / "comics"
    root.mkdir()
    cbz(root / "Huge #001.cbz", [huge_png(HUGE_EDGE, HUGE_EDGE), small_jpeg()], ["png", "jpg"])
    book = scan(app, root)["Huge #001.cbz"]
    server = live_server(RENDER_TIMEOUT_SECONDS=120)  # the decode takes 3-10 s; not the subject
    pid = server.process.pid
    assert server.get("/ping").ok
    idle_hwm = status_kb(pid, "VmHWM")
    huge_url = f"{server.url}/api/v1/books/{book.id}/pages/1?width=1000"
    small_url = f"{server.url}/api/v1/books/{book.id}/pages/2?width=400"

    results: list[tuple[requests.Response, float]] = []
    readers = [threading.Thread(target=lambda: results.append(timed_get(huge_url, admin_headers)))
               for _ in range(6)]
    for reader in readers:
        reader.start()
    time.sleep(0.5)  # the first decode is under way, five requests queued
    small, small_elapsed = timed_get(small_url, admin_headers)
    workers = children(pid)
    for reader in readers:
        reader.join()

    slowest = max(elapsed for _, elapsed in results)
    # Milliseconds on a quiet machine; the bounds allow for a busy one.
    assert small.status_code == 200 and small_elapsed < min(2.0, slowest / 4), (
        small_elapsed, slowest)
    assert len(results) == 6 and all(r.status_code == 200 for r, _ in results)
    assert len({r.content for r, _ in results}) == 1
    with Image.open(io.BytesIO(results[0][0].content)) as im:
        assert im.size == (1000, 1000) and im.format == "PNG"
    assert len(workers) == 1  # LARGE_IMAGE_DECODES: one decode at a time
    worker_hwm = status_kb(workers[0], "VmHWM")
    server_hwm = status_kb(pid, "VmHWM")
    # The decode (14,000^2 x 4 bytes = 784 MB) happens in the worker only.
    assert worker_hwm > 700_000, worker_hwm
    assert server_hwm - idle_hwm < 150_000, (idle_hwm, server_hwm)

    cached, elapsed = timed_get(huge_url, admin_headers)
    assert cached.status_code == 200 and cached.content == results[0][0].content
    assert elapsed < 0.5 and elapsed < slowest / 5, (elapsed, slowest)
    renders = list((server.data_dir / "cache" / "renders").rglob("*-0-1000x0-orig"))
    assert len(renders) == 1 and renders[0].read_bytes() == cached.content
    print(f"\nhuge PNG x6: slowest {slowest:.2f} s, small page meanwhile "
          f"{small_elapsed * 1000:.0f} ms, cached {elapsed * 1000:.0f} ms; VmHWM server "
          f"{idle_hwm // 1024} -> {server_hwm // 1024} MB, worker {worker_hwm // 1024} MB")


# -- in process ------------------------------------------------------------------

def test_large_decodes_go_to_a_worker_and_are_cached(make_app, tmp_path, monkeypatch):
    """With a tiny LARGE_IMAGE_PIXELS every page is "large": resizes and
    covers run in the worker processes, and a resize is decoded only once."""
    app = make_app(LARGE_IMAGE_PIXELS=1000)
    with app.app_context():
        root = tmp_path / "comics"
        root.mkdir()
        cbz(root / "Big #001.cbz", [small_jpeg(), small_jpeg()], ["jpg", "jpg"])
        book = scan(app, root)["Big #001.cbz"]
        media = app.extensions["comicsrv.media"]
        calls: list[str] = []
        monkeypatch.setattr(ProcessWorkers, "_run", _counting_run(calls))
        first = media.page(book, 1, width=200)
        again = media.page(book, 1, width=200)
        assert first.data == again.data and first.mime_type == "image/jpeg"
        with Image.open(io.BytesIO(first.data)) as im:
            assert im.width == 200
        cover = media.cover(book, 100)
        assert cover.data[:3] == b"\xff\xd8\xff"
        assert calls == ["transform", "thumbnail"]


def _counting_run(calls: list[str]):
    real = ProcessWorkers._run

    def run(self, request, timeout):
        calls.append(request[0].__name__)
        return real(self, request, timeout)

    return run


def test_a_pdf_page_too_slow_in_process_is_remembered(make_app, tmp_path):
    app = make_app(RENDER_TIMEOUT_SECONDS=0.5)
    with app.app_context():
        root = tmp_path / "comics"
        root.mkdir()
        (root / "Heavy #001.pdf").write_bytes(vector_pdf(30_000))
        book = scan(app, root)["Heavy #001.pdf"]
        media = app.extensions["comicsrv.media"]
        started = time.monotonic()
        with pytest.raises(PageTooSlow, match="longer than 0.5 s"):
            media.page(book, 1)
        assert time.monotonic() - started < 3
        started = time.monotonic()
        with pytest.raises(PageTooSlow, match="not tried again"):
            media.page(book, 1)
        assert time.monotonic() - started < 0.2


def test_render_cache_keeps_to_its_budget_least_recently_used_first(tmp_path):
    cache = RenderCache(tmp_path / "renders", max_bytes=10_000)
    for n in range(4):  # exactly the budget
        cache.put(f"{n:02d}-key", bytes([n]) * 2500)
        os.utime(cache.path(f"{n:02d}-key"), (1000 + n, 1000 + n))
    assert cache.get("00-key") == b"\x00" * 2500  # a hit makes it the most recent
    cache.put("04-key", b"\x04" * 2500)  # over: the least recent go, down to 80%
    kept = sorted(p.name for p in (tmp_path / "renders").rglob("*-key"))
    assert kept == ["00-key", "03-key", "04-key"]
    assert cache.get("01-key") is None
    cache.put("big-key", b"x" * 20_000)  # over the whole budget: not kept
    assert cache.get("big-key") is None


def test_render_cache_of_size_zero_is_off(tmp_path):
    cache = RenderCache(tmp_path / "renders", max_bytes=0)
    cache.put("00-key", b"data")
    assert cache.get("00-key") is None and not (tmp_path / "renders").exists()
