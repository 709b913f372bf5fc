"""A real ``comicsrv serve`` process on 127.0.0.1, for tests whose subject
depends on the gevent server: imports in worker threads, subprocesses,
sockets, keep-alive, streaming, timeouts.

The process uses the test session's database (SQLite file or PostgreSQL), so
a test builds its rows with the factories in its own app context, then starts
the server and talks to it over HTTP. ``make_app``'s clean-up empties the
tables afterwards, as for every other test.

    def test_pages(live_server, admin_headers, scanned_library):
        server = live_server()
        response = server.get("/api/v1/books", headers=admin_headers)

Import the fixture into a test module (``from tests.serving import
live_server``) or a conftest so pytest finds it.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

START_TIMEOUT = 60.0
#: Every server of this test process (xdist worker) shares one SECRET_KEY,
#: as a deployment's processes must: they share its database, and a server
#: refuses to join processes with another key (``comicsrv.cluster``). A test
#: about that refusal gives its servers keys of its own.
SESSION_SECRET_KEY = secrets.token_hex(32)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """One ``comicsrv serve`` process and a requests session on it."""

    data_dir: Path
    env: dict[str, str]
    # ``serve --role``: all (one process), web or worker (PostgreSQL only).
    role: str = "all"
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        """Where the server answers: its ``HOST`` (IPv6 in brackets), or the
        IPv4 loopback when it listens on every interface."""
        host = self.env.get("COMICSRV_HOST", "127.0.0.1").removeprefix("[").removesuffix("]")
        if host in ("", "::", "0.0.0.0"):
            host = "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self, wait: bool = True) -> LiveServer:
        """Start the process and (unless ``wait`` is false: start several at
        once, then ``ready()`` each) wait until ``/ping`` answers."""
        if self.process is not None and self.process.poll() is None:
            return self.ready() if wait else self
        self.port = self.port or _free_port()
        self.log_path = self.data_dir / f"serve-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "comicsrv", "--data-dir", str(self.data_dir), "serve",
             "--port", str(self.port), "--role", self.role],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self.ready() if wait else self

    @property
    def pid(self) -> int:
        return self.process.pid

    def ready(self) -> LiveServer:
        """Wait until the started process answers ``/ping``."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.output()
                raise RuntimeError(f"comicsrv serve exited with {self.process.returncode}:\n"
                                   f"{output[-4000:]}{_named_processes(output)}")
            try:
                if requests.get(self.url + "/ping", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"comicsrv serve did not answer within {START_TIMEOUT:.0f} s:\n"
                           f"{self.output()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Stop the process (SIGTERM: a clean stop) and return its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # Nothing of the server outlives it (a reader process of a scan cut
        # short): its group is its own (start_new_session).
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.session.close()
        self.session = requests.Session()
        return self.process.returncode

    def restart(self) -> LiveServer:
        """A clean stop and a new process on the same port and data dir."""
        self.stop()
        self.process = None
        return self.start()

    def output(self) -> str:
        """Everything the process wrote (log lines, tracebacks)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        with self.explaining_timeouts(method, path):
            return self.session.request(method, self.url + path, **kwargs)

    def get_once(self, path: str, **kwargs) -> requests.Response:
        """A GET on a connection of its own (no keep-alive)."""
        kwargs.setdefault("timeout", 60)
        with self.explaining_timeouts("GET", path):
            return requests.get(self.url + path, **kwargs)

    @contextmanager
    def explaining_timeouts(self, method: str, path: str) -> Iterator[None]:
        """A request that times out fails with what the server was doing:
        its threads' and greenlets' stacks (``comicsrv serve`` dumps them on
        SIGUSR1 and SIGUSR2) and the end of its log."""
        try:
            yield
        except requests.Timeout as exc:
            raise AssertionError(f"{method} {path} timed out ({exc}); the server's stacks and "
                                 f"log:\n{self.dump_stacks()[-12000:]}") from exc

    def dump_stacks(self) -> str:
        """Ask the running server for its stacks; return its log after them."""
        if self.process is not None and self.process.poll() is None:
            for sig in (signal.SIGUSR1, signal.SIGUSR2):
                os.kill(self.process.pid, sig)
            time.sleep(1.0)
        return self.output()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def server_env(database_url: str, **settings) -> dict[str, str]:
    """The environment of a test's ``comicsrv serve``: this process's
    variables without its COMICSRV_ ones, the session database, no migration
    or scan on start, ``SESSION_SECRET_KEY``, and ``COMICSRV_<NAME>`` for
    each of ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
    env.update({
        "COMICSRV_DATABASE_URL": database_url,
        "COMICSRV_AUTO_MIGRATE": "false",
        "COMICSRV_SCAN_ON_START": "false",
        "COMICSRV_LOG_LEVEL": "INFO",
        "COMICSRV_SECRET_KEY": SESSION_SECRET_KEY,
    })
    env.update({f"COMICSRV_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def _named_processes(output: str) -> str:
    """For a refusal that names other processes (``host:pid:...``): what
    those processes are on this machine, so a test that left a server
    running is named by its data directory."""
    lines = []
    for pid in dict.fromkeys(re.findall(r"\b[\w.-]+:(\d+):[0-9a-f]*-[0-9a-f]+", output)):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            command = "(gone)"
        lines.append(f"process {pid}: {command}")
    return ("\n" + "\n".join(lines)) if lines else ""


@pytest.fixture
def live_server(database_url, tmp_path, make_app):
    """A factory: ``live_server(**env)`` starts ``comicsrv serve`` on the
    session database with ``COMICSRV_<NAME>`` settings from ``env``; every
    server started is stopped at the end and must not have printed a
    traceback (a 500 logs one).

    ``role`` is ``serve --role``; ``config`` is written to the server's
    ``config.yml`` (settings that are not plain values, such as
    ``metadata_urls``); ``extra_env`` adds variables (``PYTHONPATH`` for a
    test plugin); ``wait=False`` returns before the server answers. The
    servers share ``SESSION_SECRET_KEY`` unless given ``secret_key``.
    """
    # make_app is requested so its clean-up empties the tables the server wrote.
    servers: list[LiveServer] = []

    def start(*, role: str = "all", config: dict | None = None,
              extra_env: dict[str, str] | None = None, wait: bool = True,
              **settings) -> LiveServer:
        env = server_env(database_url, **settings)
        env.update(extra_env or {})
        server = LiveServer(tmp_path / f"serve{len(servers)}", env, role=role)
        servers.append(server)
        if config:
            server.data_dir.mkdir(parents=True, exist_ok=True)
            (server.data_dir / "config.yml").write_text(yaml.safe_dump(config))
        return server.start(wait=wait)

    yield start
    failures = []
    for server in servers:  # all at once: each takes a moment to stop cleanly
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
    for server in servers:
        server.stop()
        if "Traceback" in server.output():
            failures.append(server.output()[-6000:])
    assert not failures, "comicsrv serve logged a traceback:\n" + "\n".join(failures)
