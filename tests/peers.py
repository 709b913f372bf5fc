"""Real download clients for tests: qbittorrent-nox and nzbget on 127.0.0.1.

Each fixture starts the Debian binary with a throw-away profile bound to
loopback (no DHT, LSD, PeX, UPnP or news server, so nothing reaches the
internet), waits until its API answers, and kills it afterwards. When the
binary is missing the tests skip, except under CI (``CI`` set), where a
missing peer must fail rather than let the tests silently not run.

Import the fixtures into a test module (``from tests.peers import
qbittorrent``) so pytest finds them.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

QBITTORRENT_BIN = "qbittorrent-nox"
NZBGET_BIN = "nzbget"
QBITTORRENT_USER, QBITTORRENT_PASSWORD = "admin", "comicsrv-test"
NZBGET_USER, NZBGET_PASSWORD = "nzbget", "comicsrv-test"
START_TIMEOUT = 30.0


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed but CI is set: install it (scripts/test-packages)")
    pytest.skip(f"{name} is not installed (apt-get install {name}); CI would fail here")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, process: subprocess.Popen, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {process.returncode}: {output}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {START_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# --- qBittorrent ------------------------------------------------------------------

def qbittorrent_password_hash(password: str, salt: bytes | None = None) -> str:
    """qBittorrent's ``WebUI\\Password_PBKDF2`` value: PBKDF2-HMAC-SHA512,
    100000 rounds, 16-byte salt, as ``@ByteArray(salt:key)`` in base64."""
    salt = salt or os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, 64)
    return f"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"


@dataclass
class QbittorrentPeer:
    url: str
    username: str
    password: str
    downloads: Path
    process: subprocess.Popen

    def settings(self, **extra) -> dict:
        return {"url": self.url, "username": self.username, "password": self.password, **extra}


@pytest.fixture
def qbittorrent(tmp_path_factory):
    binary = require_binary(QBITTORRENT_BIN)
    downloads = tmp_path_factory.mktemp("qbt-downloads")
    # A free port can be taken by another process before qbittorrent-nox
    # binds it (tests run in parallel): start again on new ports then.
    for attempt in range(3):
        profile = tmp_path_factory.mktemp("qbt-profile")
        process, url, log = _start_qbittorrent(binary, profile, downloads)
        try:
            version = f"{url}/api/v2/app/webapiVersion"
            _wait_until(lambda: requests.get(version, timeout=2).status_code in (200, 403),  # noqa: B023
                        process, "qbittorrent-nox", log)
        except RuntimeError:
            _stop(process)
            if attempt < 2 and "already in use" in log.read_text(errors="replace"):
                continue
            raise
        break
    try:
        yield QbittorrentPeer(url, QBITTORRENT_USER, QBITTORRENT_PASSWORD, downloads, process)
    finally:
        _stop(process)


def _start_qbittorrent(binary: str, profile: Path, downloads: Path
                       ) -> tuple[subprocess.Popen, str, Path]:
    web_port, session_port = free_port(), free_port()
    config_dir = profile / "qBittorrent" / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "qBittorrent.conf").write_text("\n".join([
        "[LegalNotice]", "Accepted=true", "",
        "[BitTorrent]",
        "Session\\DHTEnabled=false", "Session\\LSDEnabled=false", "Session\\PeXEnabled=false",
        "Session\\AnonymousModeEnabled=true",
        f"Session\\Port={session_port}", "Session\\Interface=lo",
        "Session\\InterfaceName=lo", "Session\\InterfaceAddress=127.0.0.1",
        f"Session\\DefaultSavePath={downloads}", "Session\\TempPathEnabled=false",
        "Session\\QueueingSystemEnabled=false", "",
        "[Preferences]",
        "Connection\\UPnP=false", "General\\Locale=en",
        "WebUI\\Address=127.0.0.1", f"WebUI\\Port={web_port}", "WebUI\\UPnP=false",
        f"WebUI\\Username={QBITTORRENT_USER}",
        f"WebUI\\Password_PBKDF2=\"{qbittorrent_password_hash(QBITTORRENT_PASSWORD)}\"",
        "WebUI\\LocalHostAuth=true", "WebUI\\CSRFProtection=true",
        # Tests log in wrongly on purpose; never ban loopback for it.
        "WebUI\\MaxAuthenticationFailCount=100", "",
    ]))
    log = profile / "stdout.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--profile={profile}", f"--webui-port={web_port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(profile)})
    return process, f"http://127.0.0.1:{web_port}", log


# --- torrents for files on disk --------------------------------------------------

def bencode(value) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def make_torrent(path: Path, piece_length: int = 32768) -> tuple[bytes, str]:
    """A single-file .torrent for ``path`` (no trackers); returns its bytes and
    info-hash, so a client given the file's folder finds it complete."""
    data = path.read_bytes()
    pieces = b"".join(hashlib.sha1(data[i:i + piece_length]).digest()
                      for i in range(0, len(data), piece_length))
    info = {"name": path.name, "length": len(data), "piece length": piece_length,
            "pieces": pieces}
    torrent = bencode({"info": info, "created by": "comicsrv tests"})
    return torrent, hashlib.sha1(bencode(info)).hexdigest()


# --- NZBGet -----------------------------------------------------------------------

@dataclass
class NzbgetPeer:
    url: str
    username: str
    password: str
    main_dir: Path
    process: subprocess.Popen

    def settings(self, **extra) -> dict:
        return {"url": self.url, "username": self.username, "password": self.password, **extra}


@pytest.fixture
def nzbget(tmp_path_factory):
    binary = require_binary(NZBGET_BIN)
    main = tmp_path_factory.mktemp("nzbget")
    port = free_port()
    config = main / "nzbget.conf"
    config.write_text("\n".join([
        f"MainDir={main}", "DestDir=${MainDir}/dst", "InterDir=${MainDir}/inter",
        "NzbDir=${MainDir}/nzb", "QueueDir=${MainDir}/queue", "TempDir=${MainDir}/tmp",
        "ScriptDir=${MainDir}/scripts", "LockFile=${MainDir}/nzbget.lock",
        "LogFile=${MainDir}/nzbget.log", "WebDir=", "ConfigTemplate=",
        "ControlIP=127.0.0.1", f"ControlPort={port}",
        f"ControlUsername={NZBGET_USER}", f"ControlPassword={NZBGET_PASSWORD}",
        "RestrictedUsername=", "AddUsername=", "AuthorizedIP=",
        "OutputMode=loggable", "UpdateCheck=none", "ArticleRetries=0", "UrlRetries=0",
        "Category1.Name=comics", "",
    ]))
    log = main / "stdout.log"
    with log.open("wb") as out:
        # -s: server in the foreground, so the fixture owns the process.
        process = subprocess.Popen([binary, "-c", str(config), "-s"], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: requests.post(
            f"{url}/jsonrpc", json={"method": "version", "params": []},
            auth=(NZBGET_USER, NZBGET_PASSWORD), timeout=2).ok, process, "nzbget", log)
        yield NzbgetPeer(url, NZBGET_USER, NZBGET_PASSWORD, main, process)
    finally:
        _stop(process)
