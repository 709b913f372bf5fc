"""HTTP load on a real ``comicsrv serve``, side by side with a trivial gevent
handler serving the same bytes. Prints figures; never asserts.

    python bench/bench_http.py [--comics 2000] [--clients 1,8,32,128] [--seconds 5]
                               [--scenarios pages,covers,progress,books,series]
                               [--pages 8] [--page-kb 150] [--database-url URL]

What it does:

1. Generates a library once (``bench/make_library.py``: stored CBZs of
   ``--page-kb`` KB JPEG pages, reused from ``bench/out/``), scans it with the
   real scan job into a fresh data directory, and makes a plain reader with
   an API key (every request carries ``X-API-Key``, as reader apps send it).
2. Starts ``comicsrv serve`` on it (``tests/serving.py``), and, as the
   ceiling, a trivial WSGI app on the same gevent server class
   (``comicsrv.server.Server``: one write for small responses, TCP_NODELAY)
   that answers every request with the bytes the real server gave for that
   kind of request: a page, a cover, a progress record, a list.
3. For each scenario and number of clients, a closed-loop load generator
   (one process, non-blocking sockets, keep-alive connections, one request
   in flight per connection, so the load is bounded by the clients) runs
   ``--seconds`` after a one-second warm-up and prints requests per second,
   p50 and p99 latency (send to last body byte) and errors (anything but
   2xx/304, or a dropped connection).

Scenarios: ``pages`` (each client reads a book page after page, as a
reader app does, with the ``?v=`` URLs the page list gives), ``covers``
(warm thumbnails of 500 books), ``progress`` (PUT the current page),
``books`` and ``series`` (the first page of the ``/api/v1`` lists).

The machine is shared and has two cores: the load generator takes one of
them, so figures are for a server on one core, and the ratio to the ceiling
says more than the absolute numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SCENARIOS = ("pages", "covers", "progress", "books", "series")


# -- the load generator -----------------------------------------------------------

@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class _Connection:
    __slots__ = ("sock", "client", "sent", "head", "remaining", "status", "sequence", "close")

    def __init__(self, sock: socket.socket, client: int) -> None:
        self.sock = sock
        self.client = client
        self.sequence = 0
        self.reset()

    def reset(self) -> None:
        self.sent = 0.0
        self.head = bytearray()
        self.remaining = -1  # body bytes still to come; -1 while reading the head
        self.status = 0
        self.close = False


def run_load(port: int, make_request: Callable[[int, int], bytes], clients: int,
             seconds: float, warmup: float = 1.0) -> Result:
    """``clients`` keep-alive connections, each with one request in flight
    (``make_request(client, n)`` gives the n-th request of a client); counts
    what completes in the ``seconds`` after ``warmup``."""
    selector = selectors.DefaultSelector()
    result = Result()

    def connect(client: int) -> _Connection:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return _Connection(sock, client)

    def send(conn: _Connection) -> None:
        conn.reset()
        data = make_request(conn.client, conn.sequence)
        conn.sequence += 1
        conn.sent = time.perf_counter()
        view = memoryview(data)
        while view:  # requests are small: the socket buffer takes them at once
            try:
                view = view[conn.sock.send(view):]
            except BlockingIOError:
                time.sleep(0)

    connections = [connect(c) for c in range(clients)]
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    for conn in connections:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
        send(conn)
    open_count = len(connections)
    while open_count:
        for key, _ in selector.select(timeout=1.0):
            conn: _Connection = key.data
            try:
                data = conn.sock.recv(1 << 18)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            done = False
            if not data:  # the server closed the connection
                now = time.perf_counter()
                if measure_from <= conn.sent and now <= stop_at:
                    result.errors += 1
                selector.unregister(conn.sock)
                conn.sock.close()
                open_count -= 1
                if now < stop_at:
                    fresh = connect(conn.client)
                    fresh.sequence = conn.sequence
                    selector.register(fresh.sock, selectors.EVENT_READ, fresh)
                    open_count += 1
                    send(fresh)
                continue
            if conn.remaining < 0:
                conn.head += data
                end = conn.head.find(b"\r\n\r\n")
                if end < 0:
                    continue
                head = bytes(conn.head[:end]).decode("latin-1").split("\r\n")
                conn.status = int(head[0].split(" ", 2)[1])
                length = 0
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "connection" and value.strip().lower() == "close":
                        conn.close = True
                conn.remaining = length - (len(conn.head) - end - 4)
                conn.head = bytearray()
            else:
                conn.remaining -= len(data)
            done = conn.remaining <= 0
            if not done:
                continue
            now = time.perf_counter()
            if conn.sent >= measure_from and now <= stop_at:
                result.requests += 1
                result.latencies.append(now - conn.sent)
                if not (200 <= conn.status < 300 or conn.status == 304):
                    result.errors += 1
            if now >= stop_at or conn.close:
                selector.unregister(conn.sock)
                conn.sock.close()
                open_count -= 1
                if conn.close and now < stop_at:
                    fresh = connect(conn.client)
                    fresh.sequence = conn.sequence
                    selector.register(fresh.sock, selectors.EVENT_READ, fresh)
                    open_count += 1
                    send(fresh)
                continue
            send(conn)
    result.seconds = seconds
    selector.close()
    return result


# -- the ceiling: a trivial app on the same gevent server ---------------------------

def trivial_server(port: int, bodies_file: str) -> None:
    """Serve, for every request, the body recorded for its scenario (the
    first path segment after the key's prefix decides), on the same server
    class ``comicsrv serve`` uses."""
    from gevent import monkey

    monkey.patch_all()
    import logging

    from comicsrv.server import Server

    bodies = json.loads(Path(bodies_file).read_text())
    prepared = {name: (bytes.fromhex(body["hex"]), body["type"]) for name, body in bodies.items()}

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if environ["REQUEST_METHOD"] == "PUT":
            body, kind = prepared["progress"]
            environ["wsgi.input"].read()
        elif "/pages/" in path:
            body, kind = prepared["pages"]
        elif path.endswith("/thumbnail"):
            body, kind = prepared["covers"]
        elif path.startswith("/api/v1/series"):
            body, kind = prepared["series"]
        else:
            body, kind = prepared["books"]
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    server = Server(("127.0.0.1", port), app, log=None, error_log=logging.getLogger("trivial"),
                    header_timeout=15, keepalive_timeout=60, max_connections=1000)
    server.serve_forever()


# -- set-up ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the trivial server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the trivial server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pid: int, port: int, make_request: Callable[[int, int], bytes], clients: int,
            seconds: float) -> tuple[Result, float]:
    """``run_load``, and the server's CPU time per request in microseconds:
    unlike req/s, it hardly depends on what else the machine is running."""
    before = cpu_seconds(pid)
    warmup = 1.0
    result = run_load(port, make_request, clients, seconds, warmup)
    used = cpu_seconds(pid) - before
    # The warm-up's requests used CPU too: count them at the measured rate.
    per_request = used / max(1, result.requests * (seconds + warmup) / seconds) * 1e6
    return result, per_request


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(args: argparse.Namespace, root: Path) -> tuple[str, str]:
    """Generate (once) and scan the library; return the database URL and the
    reader's API key."""
    library_dir = HERE / "out" / "http-library" / f"{args.comics}-{args.page_kb}kb"
    if not library_dir.exists():
        print(f"generating {args.comics} comics of {args.pages} {args.page_kb} KB pages "
              f"in {library_dir} ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_library.py"), str(library_dir),
                        "--count", str(args.comics), "--pages", str(args.pages),
                        "--page-kb", str(args.page_kb)], check=True)
    # Into the page cache: the server and the ceiling both serve from memory.
    started = time.perf_counter()
    for path in library_dir.rglob("*.cbz"):
        with path.open("rb") as fh:
            while fh.read(1 << 20):
                pass
    print(f"library read into the page cache in {time.perf_counter() - started:.1f} s")
    from comicsrv.app import create_app
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from comicsrv.auth.users import create_api_key, create_user
    from comicsrv.extensions import db
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB

    url = args.database_url or f"sqlite:///{root / 'bench.db'}"
    app = create_app({"DATA_DIR": str(root / "scan"), "DATABASE_URL": url,
                      "SCHEDULER_ENABLED": False, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        create_user("bench", "benchmark password")
        _, key = create_api_key("bench", "bench", sorted(USER_PERMISSIONS))
        library = create_library("Bench", str(library_dir))
        started = time.perf_counter()
        job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
        print(f"scanned {job.result['files']} comics in {time.perf_counter() - started:.1f} s "
              f"({job.state})", flush=True)
        db.engine.dispose()
    return url, key


@dataclass
class Plan:
    """What the clients ask for, from the catalogue the real server lists."""

    key: str
    books: list[dict]

    def headers(self) -> str:
        return f"Host: 127.0.0.1\r\nX-API-Key: {self.key}\r\n"

    def request(self, scenario: str, client: int, n: int) -> bytes:
        if scenario == "pages":
            # Client c reads 8 pages of book c, then of book c + 128, ...
            book = self.books[(client + (n // 8) * 128) % len(self.books)]
            number = n % 8 % book["page_count"] + 1
            path = f"/api/v1/books/{book['id']}/pages/{number}?v={book['version']}"
        elif scenario == "covers":
            book = self.books[(client * 7 + n) % min(500, len(self.books))]
            path = f"/api/v1/books/{book['id']}/thumbnail"
        elif scenario == "progress":
            book = self.books[client % len(self.books)]
            body = json.dumps({"current_page": n % book["page_count"] + 1}).encode()
            return (f"PUT /api/v1/books/{book['id']}/progress HTTP/1.1\r\n{self.headers()}"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode() + body
        elif scenario == "books":
            path = "/api/v1/books?page=1"
        else:
            path = "/api/v1/series?page=1"
        return f"GET {path} HTTP/1.1\r\n{self.headers()}\r\n".encode()


def record_bodies(server, plan: Plan, path: Path) -> None:
    """One real response per scenario, for the trivial server to repeat; and
    the covers warmed."""
    import requests

    headers = {"X-API-Key": plan.key}
    session = requests.Session()
    bodies = {}

    def keep(name: str, response) -> None:
        assert response.ok, (name, response.status_code, response.text[:200])
        bodies[name] = {"hex": response.content.hex(),
                        "type": response.headers.get("Content-Type", "application/octet-stream")}

    book = plan.books[0]
    keep("pages", session.get(f"{server.url}/api/v1/books/{book['id']}/pages/2?v="
                              f"{book['version']}", headers=headers))
    for item in plan.books[:500]:  # warm covers
        response = session.get(f"{server.url}/api/v1/books/{item['id']}/thumbnail",
                               headers=headers)
    keep("covers", response)
    keep("progress", session.put(f"{server.url}/api/v1/books/{book['id']}/progress",
                                 json={"current_page": 1}, headers=headers))
    keep("books", session.get(f"{server.url}/api/v1/books?page=1", headers=headers))
    keep("series", session.get(f"{server.url}/api/v1/series?page=1", headers=headers))
    path.write_text(json.dumps(bodies))
    sizes = ", ".join(f"{name} {len(body['hex']) // 2:,} B" for name, body in bodies.items())
    print(f"response sizes: {sizes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comics", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--page-kb", type=int, default=150)
    parser.add_argument("--clients", default="1,8,32,128")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database (default: SQLite in a temp dir)")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--serve-trivial", nargs=2, metavar=("PORT", "BODIES"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_trivial:
        trivial_server(int(args.serve_trivial[0]), args.serve_trivial[1])
        return
    import requests

    from tests.serving import LiveServer

    clients = [int(c) for c in args.clients.split(",")]
    scenarios = [s for s in args.scenarios.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        root = Path(tmp)
        url, key = prepare(args, root)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
        env.update({"COMICSRV_DATABASE_URL": url, "COMICSRV_AUTO_MIGRATE": "false",
                    "COMICSRV_SCAN_ON_START": "false", "COMICSRV_LOG_LEVEL": "WARNING"})
        server = LiveServer(root / "serve", env).start()
        trivial = None
        try:
            time.sleep(1.0)
            print(f"comicsrv serve idle RSS: {rss_mb(server.process.pid):.0f} MB")
            listing = requests.get(f"{server.url}/api/v1/books?page_size=500",
                                   headers={"X-API-Key": key}).json()
            books = [{"id": b["id"], "version": b["version"], "page_count": b["page_count"]}
                     for b in listing["items"] if b["page_count"]]
            plan = Plan(key, books)
            bodies = root / "bodies.json"
            record_bodies(server, plan, bodies)
            if not args.no_ceiling:
                trivial_port = _free_port()
                trivial = subprocess.Popen([sys.executable, __file__, "--serve-trivial",
                                            str(trivial_port), str(bodies)])
                _wait_for(trivial_port, trivial)
            print(f"\n{args.seconds:g} s per cell after 1 s of warm-up; latencies in ms\n")
            print("cpu/req: the server process's CPU time per request, in µs\n")
            print(f"{'scenario':<10}{'clients':>8} | {'req/s':>8}{'p50':>8}{'p99':>8}"
                  f"{'errors':>7}{'cpu/req':>8} | {'ceiling':>8}{'p50':>8}{'p99':>8}"
                  f"{'cpu/req':>8} | {'ratio':>6}")
            for scenario in scenarios:
                for count in clients:
                    real, cost = measure(server.process.pid, server.port,
                                         lambda c, n: plan.request(scenario, c, n), count,
                                         args.seconds)
                    line = (f"{scenario:<10}{count:>8} | {real.rate:>8.0f}"
                            f"{real.percentile(0.5):>8.2f}{real.percentile(0.99):>8.2f}"
                            f"{real.errors:>7}{cost:>8.0f}")
                    if trivial is not None:
                        top, top_cost = measure(trivial.pid, trivial_port,
                                                lambda c, n: plan.request(scenario, c, n),
                                                count, args.seconds)
                        line += (f" | {top.rate:>8.0f}{top.percentile(0.5):>8.2f}"
                                 f"{top.percentile(0.99):>8.2f}{top_cost:>8.0f} | "
                                 f"{real.rate / max(top.rate, 1e-9):>6.0%}")
                    print(line, flush=True)
            print(f"\ncomicsrv serve RSS after the load: {rss_mb(server.process.pid):.0f} MB")
        finally:
            if trivial is not None:
                trivial.terminate()
                trivial.wait(10)
            server.stop()
        if "Traceback" in server.output():
            print("the server logged a traceback:\n" + server.output()[-3000:])


if __name__ == "__main__":
    main()
