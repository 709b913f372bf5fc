"""What the metadata provider plugins share: a sliding-window rate limiter,
a JSON client that spends quota only on cache misses, and credit roles.

Not a plugin itself (it has no hooks and no entry point); the ComicVine and
Metron plugins import it from their own package, as a third-party plugin
package would keep its helpers beside its plugins.
"""
from __future__ import annotations

import html
import os
import re
import threading
import time
from collections import deque
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from comicsrv.hookspecs import (
    IntegrationContext, IntegrationError, IntegrationRateLimited, RateLimits, RateWindow,
)

if TYPE_CHECKING:
    import requests


class RateLimiter:
    """A service's quota as sliding windows of (limit, seconds).

    ``windows`` count per key (ComicVine's 200 requests an hour *per
    resource*); ``service_windows`` across every key of the service
    (ComicVine's one request a second). ``acquire(key)`` returns at once
    while every window has room; when one is full it waits until the oldest
    request in it leaves the window, unless that wait exceeds ``max_wait``:
    then it raises IntegrationRateLimited rather than stall a job for an
    hour.

    Inside comicsrv, ``acquire`` is given the host's ``shared`` quota keeper
    (``IntegrationContext.rate_limits``): the windows are then counted in the
    database, so every process of a deployment, on every machine, keeps one
    limit together. Without it (the plugin used on its own) they are counted
    in this process, shared by every user of this instance; ``clock`` and
    ``sleep`` are injectable so tests can run hours of quota on a fake clock.
    """

    def __init__(self, service: str, windows: Iterable[tuple[int, float]], *,
                 service_windows: Iterable[tuple[int, float]] = (),
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.service = service
        self.windows = [(int(limit), float(seconds)) for limit, seconds in windows]
        self.service_windows = [(int(limit), float(seconds)) for limit, seconds in service_windows]
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        # (window key, window seconds) -> request times in the window
        self._sent: dict[tuple[str, float], deque[float]] = {}

    def with_limit(self, seconds: float, limit: int) -> RateLimiter:
        """This limiter with the window of ``seconds`` allowing ``limit``
        (an account's own quota), counting into the same requests."""
        derived = RateLimiter(self.service, [
            (limit if window_seconds == seconds else window_limit, window_seconds)
            for window_limit, window_seconds in self.windows],
            service_windows=self.service_windows, clock=self.clock, sleep=self.sleep)
        derived._lock, derived._sent = self._lock, self._sent
        return derived

    def rate_windows(self, key: str = "") -> list[RateWindow]:
        """The windows one request under ``key`` counts against."""
        service = self.service.lower()
        keyed = f"{service}:{key}" if key else service
        return ([RateWindow(keyed, limit, seconds) for limit, seconds in self.windows]
                + [RateWindow(service, limit, seconds) for limit, seconds in self.service_windows])

    def _wait_for(self, windows: list[RateWindow], now: float) -> float:
        wait = 0.0
        for window in windows:
            sent = self._sent.setdefault((window.key, window.seconds), deque())
            while sent and sent[0] <= now - window.seconds:
                sent.popleft()
            if len(sent) >= window.limit:
                wait = max(wait, sent[len(sent) - window.limit] + window.seconds - now)
        if wait <= 0:
            for window in windows:
                self._sent[(window.key, window.seconds)].append(now)
        return wait

    def acquire(self, key: str = "", max_wait: float = 60.0, *,
                shared: RateLimits | None = None) -> float:
        """Take one request from ``key``'s quota; returns the seconds waited."""
        windows = self.rate_windows(key)
        if shared is not None:
            return shared.acquire(windows, max_wait=max_wait, service=self.service)
        waited = 0.0
        while True:
            with self._lock:
                wait = self._wait_for(windows, self.clock())
            if wait <= 0:
                return waited
            if wait > max_wait:
                what = f" for {key!r}" if key else ""
                raise IntegrationRateLimited(
                    f"{self.service} request quota{what} is spent; the next request is "
                    f"possible in {wait:.0f} s (more than the {max_wait:.0f} s this "
                    f"call may wait)", retry_after=wait)
            self.sleep(wait)
            waited += wait

    def used(self, key: str = "") -> int:
        """Requests counted in the longest per-key window (status, tests)."""
        if not self.windows:
            return 0
        longest = max(seconds for _, seconds in self.windows)
        service = self.service.lower()
        with self._lock:
            sent = self._sent.get((f"{service}:{key}" if key else service, longest))
            return len(sent) if sent else 0


class JsonClient:
    """GET JSON from one service through a response cache.

    A cached answer costs no quota: the cache is asked first
    (``only_if_cached``), and only a miss takes a request from the limiter
    and goes to the network. ``secret_params`` are left out of the cache key
    and redacted from what is stored on disk.
    """

    def __init__(self, name: str, base_url: str, context: IntegrationContext,
                 limiter: RateLimiter, *, cache_hours: float = 24.0,
                 secret_params: Iterable[str] = (),
                 cache_filter: Callable[[requests.Response], bool] | None = None,
                 auth: Any = None, headers: Mapping[str, str] | None = None):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.context = context
        self.limiter = limiter
        self.auth = auth
        self.headers = {"User-Agent": context.user_agent, "Accept": "application/json",
                        **(headers or {})}
        backend: dict[str, Any] = {"backend": "memory"}
        if context.cache_dir and cache_hours > 0:
            os.makedirs(context.cache_dir, exist_ok=True)
            backend = {"cache_name": os.path.join(context.cache_dir, "responses"),
                       "backend": "sqlite"}
        # Imported here: requests-cache (and cattrs under it) is ~4 MB that a
        # server with no metadata provider in use would carry all its life.
        import requests_cache

        self.http = requests_cache.CachedSession(
            **backend,
            expire_after=timedelta(hours=cache_hours) if cache_hours > 0 else 0,
            allowable_codes=(200,),
            ignored_parameters=list(secret_params),
            match_headers=False,
            filter_fn=cache_filter or (lambda response: True),
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.strip('/')}/"

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            resource: str = "", max_wait: float = 60.0) -> requests.Response:
        """The response for ``path``; raises IntegrationError when unreachable."""
        import requests

        url = self.url(path)
        params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            cached = self.http.get(url, params=params, headers=self.headers, auth=self.auth,
                                   only_if_cached=True, timeout=self.context.timeout)
            if getattr(cached, "from_cache", False) and cached.status_code != 504:
                return cached
            self.limiter.acquire(resource, max_wait, shared=self.context.rate_limits)
            return self.http.get(url, params=params, headers=self.headers, auth=self.auth,
                                 timeout=self.context.timeout)
        except requests.RequestException as exc:
            raise IntegrationError(f"{self.name} could not be reached at {self.base_url}: "
                                   f"{exc.__class__.__name__}: {exc}") from exc

    def close(self) -> None:
        self.http.close()


def decode_json(name: str, response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise IntegrationError(
            f"{name} answered HTTP {response.status_code} with something that is not JSON "
            f"({response.headers.get('Content-Type', 'no content type')})") from None


# --- credits --------------------------------------------------------------------

# Provider role names -> ComicInfo.xml credit fields. "Artist" means pencils
# and inks both, as ComicTagger reads it.
_ROLE_FIELDS: dict[str, tuple[str, ...]] = {
    "writer": ("Writer",), "script": ("Writer",), "story": ("Writer",), "plot": ("Writer",),
    "artist": ("Penciller", "Inker"), "penciler": ("Penciller",), "penciller": ("Penciller",),
    "pencils": ("Penciller",), "breakdowns": ("Penciller",), "inker": ("Inker",),
    "inks": ("Inker",), "finishes": ("Inker",), "painter": ("Penciller", "Inker", "Colorist"),
    "colorist": ("Colorist",), "colors": ("Colorist",), "colourist": ("Colorist",),
    "letterer": ("Letterer",), "letters": ("Letterer",), "cover": ("CoverArtist",),
    "covers": ("CoverArtist",), "cover artist": ("CoverArtist",), "editor": ("Editor",),
    "editor in chief": ("Editor",), "translator": ("Translator",),
}


def add_credit(credits: dict[str, list[str]], person: str, role: str) -> None:
    """Add ``person`` under the ComicInfo field(s) for ``role``; unknown
    roles are kept under their own title-cased name."""
    person = (person or "").strip()
    if not person:
        return
    key = role.strip().lower()
    for field in _ROLE_FIELDS.get(key, (role.strip().title(),) if key else ()):
        names = credits.setdefault(field, [])
        if person not in names:
            names.append(person)


# --- text -----------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"[ \t]+")


def plain_text(value: str | None) -> str | None:
    """Provider descriptions are HTML (ComicVine) or text with CRLFs (Metron)."""
    if not value:
        return None
    text = html.unescape(_TAG.sub(" ", value)).replace("\r\n", "\n")
    text = "\n".join(_BLANKS.sub(" ", line).strip() for line in text.split("\n")).strip()
    return text or None


def iso_date(value: Any) -> str | None:
    """The date part of a provider date ("2007-10-01", "2007-10-01 00:00:00")."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()[:10]
    return text if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text) else None


def to_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
