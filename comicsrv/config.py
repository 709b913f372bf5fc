"""Settings: defaults < ``config.yml`` in the data directory < ``COMICSRV_*`` environment.

Every setting has a default here, so an empty data directory runs. The config
file uses the lower-case names (``port: 8090``); the environment the upper-case
names with the ``COMICSRV_`` prefix (``COMICSRV_PORT=8090``). Values from the
file and the environment are coerced to the type of the default, and a value
that cannot be coerced stops start-up with a message naming the setting,
because a NAS user reading a log wants to know which line to fix. A key of
``config.yml`` that is no setting stops start-up too, with the closest known
name: a misspelt ``prot: 8091`` silently ignored would leave the user
wondering why the port never changes. (Unknown ``COMICSRV_*`` variables are
left alone: other tools, the test suite among them, share the prefix.)

These are the settings of the process: what must be known before the
database is open, or differs between processes of one deployment. Whatever
an admin changes while the server runs (automation, backups' schedule, OPDS,
allowed folders...) lives in the database instead (``comicsrv.settings_store``);
no setting exists in both places.
"""
from __future__ import annotations

import difflib
import os
import secrets
from pathlib import Path
from typing import Any, Mapping


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
    # What this process does (``serve --role``): "all" (HTTP, jobs and the
    # scheduler: one process, the only choice on SQLite), "web" (HTTP only)
    # or "worker" (jobs and the scheduler; HTTP only for health checks).
    "ROLE": "all",
    # An off switch: a process with false never fires scheduled triggers.
    # With several processes on PostgreSQL nothing needs switching off: only
    # the elected leader fires them.
    "SCHEDULER_ENABLED": True,
    # Jobs one process runs at once.
    "JOB_WORKERS": 4,
    # A running job's row is refreshed this often; a row not refreshed for
    # JOB_STALE_SECONDS is taken over by another worker (its process died).
    "JOB_HEARTBEAT_SECONDS": 10.0,
    "JOB_STALE_SECONDS": 60.0,
    # A worker looks for queued jobs this often even without a notification.
    "JOB_POLL_SECONDS": 5.0,
    # A worker that does not lead tries to take the lead this often (so a
    # dead leader is replaced within about this long), and the leader proves
    # its connection still holds the lock as often.
    "LEADER_CHECK_SECONDS": 5.0,
    # Connections each process keeps to PostgreSQL (plus one for listening).
    "DATABASE_POOL_SIZE": 10,
    "DATABASE_MAX_OVERFLOW": 20,
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
    # Image work (covers made, pages resized) requests may have running or
    # waiting at once; past that a request is answered 503 with Retry-After
    # at once rather than joining a queue that only grows the tail.
    "IMAGE_QUEUE": 16,
    # Disk budget of the cache of expensive page results (0 turns it off).
    "RENDER_CACHE_MB": 1024,
    # Seconds a checked API key, client token or JWT is remembered by a
    # process (0: check every request); a change is seen at once anyway.
    "PRINCIPAL_CACHE_SECONDS": 5.0,
    # Cache directories default to sub-folders of the data directory.
    "CACHE_DIR": None,
    # Folders libraries may be added from through the APIs and the web UI
    # (comma-separated), while the admin setting filesystem.allowed_roots is
    # empty. Set by whoever runs the server, never through the web; empty:
    # the Docker volumes /comics and /downloads where they exist.
    "LIBRARY_ROOTS": "",
    # The largest request body (JSON, forms): bigger ones get 413 unread.
    "MAX_REQUEST_BYTES": 2 * 1024 * 1024,
    # The largest archive upload (LANraragi's PUT /api/archives/upload, streamed
    # to disk); 0 for no limit.
    "MAX_UPLOAD_BYTES": 4 * 1024 ** 3,
    # Log files: <LOG_DIR>/comicsrv.log, rotated at LOG_FILE_MAX_MB into
    # LOG_FILE_COUNT older files (comicsrv.log.1 ...); 0 files: no log file.
    "LOG_DIR": None,
    "LOG_FILE_MAX_MB": 10.0,
    "LOG_FILE_COUNT": 5,
    # Where backups are written and looked for (another disk is a good idea).
    "BACKUP_DIR": None,
    # Library watching: a change is indexed once its path has been quiet this
    # long; libraries on network shares are polled this often.
    "WATCH_DEBOUNCE_SECONDS": 2.0,
    "WATCH_POLL_SECONDS": 30.0,
    # Where the update check (admin setting system.check_updates, off by
    # default) reads the released versions: the package index's JSON API.
    "UPDATE_CHECK_URL": "https://pypi.org/pypi/comicsrv/json",
    # Passkeys: the relying party id (the site's host name) and the origin
    # the browser shows; empty: from the URL each request reached. Set both
    # behind a reverse proxy that rewrites the host.
    "WEBAUTHN_RP_ID": "",
    "WEBAUTHN_ORIGIN": "",
    # Base URLs of metadata providers by plugin name, for a mirror or caching
    # proxy of ComicVine or Metron (and the tests' recorded replays):
    # ``{metron: http://host/api}`` in config.yml, ``metron=http://host/api``
    # (comma-separated) in the environment.
    "METADATA_URLS": {},
}
# Human words for the types of the defaults, for error messages.
_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}


class ConfigError(ValueError):
    """A setting has a value comicsrv cannot use."""


class DataDirError(OSError):
    """The data directory cannot be created or written: nothing can run."""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/comicsrv``, i.e. ``~/.local/share/comicsrv`` on Linux."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "comicsrv"


def _coerce(name: str, value: Any, default: Any, origin: str) -> Any:
    if value is None:
        return value
    if isinstance(default, dict):
        return _mapping_of_texts(value, origin)
    if default is None:  # paths, URLs and keys that default to something derived
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{origin} must be a text, got {value!r}")
        return str(value)
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
        kind = _KINDS.get(type(default), type(default).__name__)
        raise ConfigError(f"{origin} must be {kind}, got {value!r}") from None
    return value


def _mapping_of_texts(value: Any, origin: str) -> dict[str, str]:
    """A name -> text mapping from YAML, or from ``a=x,b=y`` in the environment."""
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ConfigError(f"{origin} must be name=value pairs separated by commas, got {value!r}")
        value = {name.strip(): text.strip() for name, text in pairs}
    if not isinstance(value, Mapping) or not all(
            isinstance(text, str) for text in value.values()):
        raise ConfigError(f"{origin} must be a mapping of names to texts, got {value!r}")
    return {str(name).lower(): text for name, text in value.items()}


def closest_setting(name: str) -> str | None:
    """The known setting (lower-case, as ``config.yml`` spells it) closest to ``name``."""
    known = [key.lower() for key in DEFAULTS]
    found = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    return found[0] if found else None


def _read_file(path: Path) -> dict[str, Any]:
    """The settings of ``config.yml``, upper-cased; unknown keys are errors."""
    if not path.exists():
        return {}
    import yaml  # only for a server that has the file: ~1 MB otherwise unused

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML ({detail})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    settings = {}
    for key, value in loaded.items():
        name = str(key).upper()
        if name not in DEFAULTS:
            suggestion = closest_setting(str(key))
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            raise ConfigError(f"{path}: unknown setting {str(key)!r}{hint}")
        settings[name] = _coerce(name, value, DEFAULTS[name], f"{path}: {str(key)}")
    return settings


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
    check_data_dir(data_dir)

    settings = dict(DEFAULTS)
    settings.update(_read_file(data_dir / CONFIG_FILENAME))
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "DATA_DIR":
            key = name[len(ENV_PREFIX):]
            settings[key] = _coerce(key, value, DEFAULTS.get(key), name)
    settings.update(overrides)

    settings["DATA_DIR"] = str(data_dir)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{data_dir / 'comicsrv.db'}"
    for key, folder in (("CACHE_DIR", "cache"), ("LOG_DIR", "logs"), ("BACKUP_DIR", "backups")):
        if not settings[key]:
            settings[key] = str(data_dir / folder)
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _secret_key(data_dir)
    settings["URL_BASE"] = normalize_url_base(settings["URL_BASE"])
    settings["ROLE"] = str(settings["ROLE"]).strip().lower()
    if settings["ROLE"] not in ("all", "web", "worker"):
        raise ConfigError(f"ROLE must be all, web or worker, got {settings['ROLE']!r}")
    for name in ("JOB_HEARTBEAT_SECONDS", "JOB_STALE_SECONDS", "JOB_POLL_SECONDS",
                 "LEADER_CHECK_SECONDS"):
        if float(settings[name]) <= 0:
            raise ConfigError(f"{name} must be more than 0, got {settings[name]}")
    if float(settings["JOB_STALE_SECONDS"]) < 2 * float(settings["JOB_HEARTBEAT_SECONDS"]):
        raise ConfigError("JOB_STALE_SECONDS must be at least twice JOB_HEARTBEAT_SECONDS, "
                          "or a live job could be taken for dead between two heartbeats")
    if int(settings["JOB_WORKERS"]) < 1:
        raise ConfigError(f"JOB_WORKERS must be at least 1, got {settings['JOB_WORKERS']}")
    if not 0 < int(settings["PORT"]) < 65536:
        raise ConfigError(f"PORT must be between 1 and 65535, got {settings['PORT']}")
    return settings


def peek_settings(data_dir: str | os.PathLike | None, names: tuple[str, ...],
                  environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``names`` as ``load_config`` would resolve them, without creating or
    writing anything (the health check runs as whoever Docker runs it as)."""
    environ = os.environ if environ is None else environ
    folder = Path(data_dir or environ.get(ENV_PREFIX + "DATA_DIR") or default_data_dir())
    settings = {name: DEFAULTS[name] for name in names}
    from_file = _read_file(folder.expanduser() / CONFIG_FILENAME)
    for name in names:
        if name in from_file:
            settings[name] = from_file[name]
        if ENV_PREFIX + name in environ:
            settings[name] = _coerce(name, environ[ENV_PREFIX + name], DEFAULTS[name],
                                     ENV_PREFIX + name)
    return settings


def check_data_dir(data_dir: Path) -> None:
    """Create the data directory if needed; ``DataDirError`` naming it when
    it cannot be created or written (a volume mounted read-only, a folder
    owned by another user after a PUID change)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"cannot create the data directory {data_dir}: "
                           f"{exc.strerror or exc}") from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DataDirError(f"the data directory {data_dir} is not writable by user "
                           f"{os.geteuid()} (group {os.getegid()}); fix its owner or "
                           "permissions, or choose another with --data-dir")


def normalize_url_base(value: str | None) -> str:
    """``comics/`` → ``/comics``; empty stays empty."""
    value = (value or "").strip().strip("/")
    return f"/{value}" if value else ""
