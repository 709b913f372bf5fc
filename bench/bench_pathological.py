"""Pathological pages and kept-alive connections against a real ``comicsrv
serve``. Prints figures; never asserts.

    python bench/bench_pathological.py [--edge 14000] [--parallel 6]
                                       [--segments 30000] [--render-timeout 15]

Builds a library in a temporary folder (a CBZ whose first page is an
``edge`` x ``edge`` RGB PNG, a PDF whose second page is ``segments`` random
strokes, a plain CBZ), sets it up through the CLI only (library add, scan,
user, API key) so the same script measures any version of the server, then
starts ``comicsrv serve`` and measures:

- keep-alive: p50/p90 of 40 small responses (a cover, a JSON list) on one
  connection;
- huge page: ``parallel`` concurrent resizes of the huge page (width 1000):
  the slowest answer, a small page's latency meanwhile, the peak resident
  memory (VmHWM) of the server and of any worker process it started, then
  the same request again (a cache hit, or a second decode);
- heavy PDF page: time to answer (and the status), pages served meanwhile,
  then the same request again.

Run it against an older checkout with ``PYTHONPATH=/path/to/old/tree`` to
get "before" figures.
"""
from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path

import requests
from PIL import Image


def huge_png(edge: int) -> bytes:
    """A black RGB PNG written row by row: small on disk, edge^2 x 4 bytes decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + edge * 3)
    idat = bytearray()
    for _ in range(edge):
        idat += compressor.compress(row)
    idat += compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", edge, edge, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", bytes(idat)) + chunk(b"IEND", b""))


def vector_pdf(*segment_counts: int) -> bytes:
    """One page per count, each that many random strokes (PDFium: ~0.45 s per 1,000)."""
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
        kids.append(b"%d 0 R" % (len(objects) + 1))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>"
                       % (len(objects) + 2))
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
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def jpeg(width: int, height: int, noise: bool = False) -> bytes:
    image = (Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)) if noise
             else Image.new("RGB", (width, height), (200, 30, 30)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def cbz(path: Path, pages: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in pages:
            archive.writestr(name, data)


def status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


class Server:
    def __init__(self, data: Path, env: dict[str, str]):
        self.data, self.env = data, env

    def cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "comicsrv", "--data-dir", str(self.data), *args],
                              env=self.env, check=True, capture_output=True, text=True).stdout

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log = open(self.data / "serve.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "comicsrv", "--data-dir", str(self.data), "serve",
             "--port", str(self.port)], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if requests.get(self.url + "/ping", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit("the server did not start; see " + str(self.data / "serve.log"))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def timed_get(url: str, headers: dict) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.get(url, headers=headers, timeout=600)
    return response.status_code, time.monotonic() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def bench_keepalive(server: Server, headers: dict, book: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for path, label in ((f"/api/v1/books/{book}/thumbnail", "cover (~40 KB)"),
                        ("/api/v1/books?page_size=5", "JSON list")):
        timings = []
        for i in range(41):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            conn.getresponse().read()
            if i:  # the first one makes the cover
                timings.append(time.perf_counter() - started)
        timings.sort()
        print(f"  keep-alive {label:<16} p50 {timings[20] * 1000:6.1f} ms   "
              f"p90 {timings[36] * 1000:6.1f} ms")
    conn.close()


def bench_huge(server: Server, headers: dict, book: int, small_book: int, parallel: int) -> None:
    pid = server.process.pid
    idle = status_kb(pid, "VmHWM")
    huge_url = f"{server.url}/api/v1/books/{book}/pages/1?width=1000"
    small_url = f"{server.url}/api/v1/books/{small_book}/pages/1?width=400"
    results: list[tuple[int, float]] = []
    threads = [threading.Thread(target=lambda: results.append(timed_get(huge_url, headers)))
               for _ in range(parallel)]
    worker_hwm: dict[int, int] = {}
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    small = []
    while any(thread.is_alive() for thread in threads):
        small.append(timed_get(small_url, headers)[1])
        for child in children(pid):
            worker_hwm[child] = max(worker_hwm.get(child, 0), status_kb(child, "VmHWM"))
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    statuses = sorted({status for status, _ in results})
    print(f"  {parallel} parallel resizes of the huge page: statuses {statuses}, "
          f"slowest {ms(max(e for _, e in results))}")
    if small:
        print(f"  small page meanwhile ({len(small)} requests): p50 {ms(statistics.median(small))}, "
              f"max {ms(max(small))}")
    print(f"  server VmHWM: {idle // 1024} MB idle -> {status_kb(pid, 'VmHWM') // 1024} MB; "
          f"worker processes: {len(worker_hwm)}, peak VmHWM "
          f"{max(worker_hwm.values(), default=0) // 1024} MB")
    status, again = timed_get(huge_url, headers)
    print(f"  the same resize again: {status} in {ms(again)}")


def bench_pdf(server: Server, headers: dict, book: int, plain_book: int) -> None:
    result: list[tuple[int, float]] = []
    thread = threading.Thread(target=lambda: result.append(
        timed_get(f"{server.url}/api/v1/books/{book}/pages/2", headers)))
    thread.start()
    others = []
    while thread.is_alive():
        others.append(timed_get(f"{server.url}/api/v1/books/{plain_book}/pages/1?width=300",
                                headers)[1])
        time.sleep(0.05)
    thread.join()
    status, elapsed = result[0]
    print(f"  heavy PDF page: {status} in {ms(elapsed)}; other pages meanwhile "
          f"({len(others)}): p50 {ms(statistics.median(others))}, max {ms(max(others))}")
    status, again = timed_get(f"{server.url}/api/v1/books/{book}/pages/2", headers)
    print(f"  the heavy page again: {status} in {ms(again)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edge", type=int, default=14_000)
    parser.add_argument("--parallel", type=int, default=6)
    parser.add_argument("--segments", type=int, default=30_000)
    parser.add_argument("--render-timeout", type=float, default=15.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pathological-") as tmp:
        root, data = Path(tmp) / "comics", Path(tmp) / "data"
        root.mkdir()
        started = time.monotonic()
        cbz(root / "Huge #001.cbz", [("001.png", huge_png(args.edge))])
        cbz(root / "Plain #001.cbz", [("001.jpg", jpeg(1000, 1500, noise=True)),
                                      ("002.jpg", jpeg(800, 1200))])
        (root / "Heavy #001.pdf").write_bytes(vector_pdf(50, args.segments))
        print(f"library built in {time.monotonic() - started:.1f} s: {args.edge}^2 PNG page, "
              f"{args.segments}-stroke PDF page")
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
        env.update(COMICSRV_SCAN_ON_START="false", COMICSRV_LOG_LEVEL="WARNING",
                   COMICSRV_RENDER_TIMEOUT_SECONDS=str(args.render_timeout))
        server = Server(data, env)
        server.cli("library", "add", "Bench", str(root))
        server.cli("scan")
        server.cli("user", "create", "bench", "--password", "bench-password-1", "--admin")
        key = server.cli("apikey", "create", "--user", "bench").strip().split()[-1]
        headers = {"X-API-Key": key}
        server.start()
        try:
            listed = requests.get(server.url + "/api/v1/books?page_size=50", headers=headers,
                                  timeout=30).json()["items"]
            ids = {name: next(b["id"] for b in listed if b["filename"].startswith(name))
                   for name in ("Huge", "Plain", "Heavy")}
            print(f"server pid {server.process.pid}, {os.cpu_count()} cores")
            bench_keepalive(server, headers, ids["Plain"])
            bench_huge(server, headers, ids["Huge"], ids["Plain"], args.parallel)
            bench_pdf(server, headers, ids["Heavy"], ids["Plain"])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
