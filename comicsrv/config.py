"""Settings: defaults < ``config.yml`` in the data directory < ``COMICSRV_*`` environment.

Every setting has a default here, so an empty data directory runs. The config
file uses the lower-case names (``port: 8090``); the environment the upper-case
names with the ``COMICSRV_`` prefix (``COMICSRV_PORT=8090``). Values from the
file and the environment are coerced to the type of the default, and a value
that cannot be coerced stops start-up with a message naming the setting,
because a NAS user reading a log wants to know which line to fix.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

import yaml

ENV_PREFIX = "COMICSRV_"
CONFIG_FILENAME = "config.yml"
SECRET_FILENAME = "secret_key"

# Only loopback: a reverse proxy on the same host works as it is. Trusting
# private networks too would let any client on the LAN (or on a Docker
# bridge) claim any address in X-Forwarded-For, and so step around the
# per-address login lock-out; a proxy elsewhere is named in the setting.
DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1/128"

DEFAULTS: dict[str, Any] = {
    "HOST": "127.0.0.1",
    "PORT": 8090,
    # None means SQLite in the data directory.
    "DATABASE_URL": None,
    # Serve under a sub-path behind a reverse proxy, e.g. "/comics".
    "URL_BASE": "",
    "TRUSTED_PROXIES": DEFAULT_TRUSTED_PROXIES,
    "SECRET_KEY": None,
    # Lifetime of a login (JWT and session cookie).
    "SESSION_TTL_SECONDS": 86400,
    "LOG_LEVEL": "INFO",
    # Exactly one process of a deployment runs the scheduler.
    "SCHEDULER_ENABLED": True,
    "AUTO_MIGRATE": True,
    "SCAN_ON_START": True,
    "API_DOCS_ENABLED": True,
    "API_DOCS_PATH": "/docs",
    # Threads for CPU-bound work (image decoding, archive listing, hashing).
    "CPU_WORKERS": max(2, os.cpu_count() or 2),
    "SQLITE_BUSY_TIMEOUT_MS": 15000,
    # Seconds between SSE keep-alive comments (proxies close idle streams).
    "SSE_KEEPALIVE_SECONDS": 15.0,
    # A request's line and headers must arrive within this many seconds of its
    # first byte (and a new connection must start one as soon): slowloris guard.
    "HEADER_TIMEOUT_SECONDS": 15.0,
    # A kept-alive connection idle this long between requests is closed.
    "KEEPALIVE_TIMEOUT_SECONDS": 60.0,
    # Connections served at once; more wait to be accepted.
    "MAX_CONNECTIONS": 1000,
    # A PDF page render or large-image decode still running after this many
    # seconds is stopped (its worker process killed) and answered with an error.
    "RENDER_TIMEOUT_SECONDS": 15.0,
    # Worker processes rendering PDF pages at once.
    "PDF_RENDER_WORKERS": 2,
    # Images decoding to more pixels than this are "large": they decode in
    # LARGE_IMAGE_DECODES worker processes, one image each at a time, and
    # their results are cached.
    "LARGE_IMAGE_PIXELS": 25_000_000,
    "LARGE_IMAGE_DECODES": 1,
    # Disk budget of the cache of expensive page results (0 turns it off).
    "RENDER_CACHE_MB": 1024,
    # Cache directories default to sub-folders of the data directory.
    "CACHE_DIR": None,
    # Where the update check (admin setting system.check_updates, off by
    # default) reads the released versions: the package index's JSON API.
    "UPDATE_CHECK_URL": "https://pypi.org/pypi/comicsrv/json",
    # Passkeys: the relying party id (the site's host name) and the origin
    # the browser shows; empty: from the URL each request reached. Set both
    # behind a reverse proxy that rewrites the host.
    "WEBAUTHN_RP_ID": "",
    "WEBAUTHN_ORIGIN": "",
}


class ConfigError(ValueError):
    """A setting has a value comicsrv cannot use."""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/comicsrv``, i.e. ``~/.local/share/comicsrv`` on Linux."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "comicsrv"


def _coerce(name: str, value: Any, default: Any, origin: str) -> Any:
    if value is None or default is None:
        return value
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str):
            return str(value)
    except (TypeError, ValueError):
        kind = type(default).__name__
        raise ConfigError(f"{origin}: {name} must be a {kind}, got {value!r}") from None
    return value


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    return {str(k).upper(): v for k, v in loaded.items()}


def _secret_key(data_dir: Path) -> str:
    """A random key made once per data directory: sessions survive restarts."""
    path = data_dir / SECRET_FILENAME
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_config(
    data_dir: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Resolve every setting; create the data directory if needed.

    ``overrides`` (from ``create_app(config=...)``) win over everything, which
    is what tests and embedding applications want.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    data_dir = Path(
        overrides.pop("DATA_DIR", None)
        or data_dir
        or environ.get(ENV_PREFIX + "DATA_DIR")
        or default_data_dir()
    ).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    settings = dict(DEFAULTS)
    for name, value in _read_file(data_dir / CONFIG_FILENAME).items():
        settings[name] = _coerce(name, value, DEFAULTS.get(name), CONFIG_FILENAME)
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "DATA_DIR":
            key = name[len(ENV_PREFIX):]
            settings[key] = _coerce(key, value, DEFAULTS.get(key), name)
    settings.update(overrides)

    settings["DATA_DIR"] = str(data_dir)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{data_dir / 'comicsrv.db'}"
    if not settings["CACHE_DIR"]:
        settings["CACHE_DIR"] = str(data_dir / "cache")
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _secret_key(data_dir)
    settings["URL_BASE"] = normalize_url_base(settings["URL_BASE"])
    if not 0 < int(settings["PORT"]) < 65536:
        raise ConfigError(f"PORT must be between 1 and 65535, got {settings['PORT']}")
    return settings


def normalize_url_base(value: str | None) -> str:
    """``comics/`` → ``/comics``; empty stays empty."""
    value = (value or "").strip().strip("/")
    return f"/{value}" if value else ""
