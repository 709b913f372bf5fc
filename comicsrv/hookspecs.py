"""The public plugin API of comicsrv: every hook, and the types they exchange.

A plugin is a module or object registered under the entry-point group
``comicsrv.plugins``::

    # setup.cfg of a third-party plugin
    [options.entry_points]
    comicsrv.plugins =
        myindexer = myindexer_plugin

    # myindexer_plugin.py
    from comicsrv.hookspecs import Indexer, Release, hookimpl

    class MyIndexer(Indexer):
        kind = "myindexer"
        ...

    @hookimpl
    def comicsrv_indexers():
        return [MyIndexer]

The built-in integrations under ``plugins/`` use exactly these hooks. Plugins
import only this module; what they need at run time comes through hook
arguments and their constructor's ``settings``. Every hook is optional, and a
plugin that raises is logged and skipped without affecting the others.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Mapping, Sequence

import pluggy

PROJECT = "comicsrv"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- What integrations exchange ------------------------------------------------

@dataclass
class SeriesResult:
    """A series (a ComicVine "volume") as a metadata provider describes it."""

    provider: str
    provider_id: str
    name: str
    year: int | None = None
    publisher: str | None = None
    issue_count: int | None = None
    description: str | None = None
    image_url: str | None = None
    url: str | None = None


@dataclass
class IssueResult:
    provider: str
    provider_id: str
    series_id: str
    number: str
    title: str | None = None
    cover_date: str | None = None
    store_date: str | None = None
    description: str | None = None
    image_url: str | None = None
    credits: dict[str, list[str]] = field(default_factory=dict)
    # The series' name, for issues listed outside their series (story arcs).
    series_name: str | None = None


@dataclass
class ArcResult:
    provider: str
    provider_id: str
    name: str
    issues: list[IssueResult] = field(default_factory=list)


@dataclass
class SearchQuery:
    """What to look for on an indexer. ``text`` is the free-text query."""

    text: str
    series: str | None = None
    number: str | None = None
    year: int | None = None
    categories: list[int] = field(default_factory=list)


@dataclass
class Release:
    """One result from an indexer or feed."""

    title: str
    download_url: str
    indexer: str
    protocol: str  # "usenet" | "torrent"
    guid: str | None = None
    size: int | None = None
    published: datetime | None = None
    seeders: int | None = None
    peers: int | None = None
    categories: list[int] = field(default_factory=list)
    info_url: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class DownloadStatus:
    id: str
    name: str
    # queued | downloading | paused | completed | failed
    state: str
    progress: float = 0.0
    size: int | None = None
    save_path: str | None = None
    category: str | None = None
    error: str | None = None


@dataclass
class Notification:
    event: str  # grabbed | downloaded | failed | new_issue | test
    title: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RateWindow:
    """At most ``limit`` requests under ``key`` within any ``seconds``.

    The key names what the service counts: ``"comicvine:volume"`` for
    ComicVine's hourly quota of one resource, ``"comicvine"`` for its
    one-request-a-second pacing across all of them, ``"metron"`` for both of
    Metron's windows.
    """

    key: str
    limit: int
    seconds: float


class RateLimits(ABC):
    """Request quotas kept by the host for every process of the deployment.

    comicsrv may run as several processes on several machines; a limiter
    inside a plugin would give each its own quota, and four processes would
    send four times the requests a service allows. The host passes an
    instance in ``IntegrationContext.rate_limits`` that counts in the
    database, so all processes together keep one limit.
    """

    @abstractmethod
    def acquire(self, windows: Sequence[RateWindow], *, max_wait: float,
                service: str = "") -> float:
        """Take one request from every window at once and return the seconds
        waited. While a window is full this waits until it has room; when
        that wait would exceed ``max_wait`` seconds it raises
        :class:`IntegrationRateLimited` (named after ``service``) instead."""


@dataclass
class IntegrationContext:
    """What the host gives every configured integration besides its settings."""

    # A folder this instance may keep files in (response caches, torrents).
    cache_dir: str | None = None
    user_agent: str = "comicsrv"
    # Seconds for one HTTP request.
    timeout: float = 30.0
    # Quotas shared by every process (see RateLimits); None outside a host,
    # where a plugin falls back to counting in its own process.
    rate_limits: RateLimits | None = None


@dataclass
class TestResult:
    ok: bool
    message: str = ""


class IntegrationError(Exception):
    """A configured integration could not do what was asked: the service
    answered with an error, or could not be reached. The message says why,
    in words a user can act on."""


class IntegrationAuthError(IntegrationError):
    """The service refused the configured credentials (API key, password)."""


class IntegrationNotFound(IntegrationError, LookupError):
    """The service has no such object (series, issue, arc)."""


class IntegrationRateLimited(IntegrationError):
    """The service's request quota is spent; ``retry_after`` seconds until
    it may be asked again, when known."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# --- Integration base classes ---------------------------------------------------

class Integration(ABC):
    """Base of every configurable integration.

    ``kind`` names the implementation ("newznab", "qbittorrent"); the user
    creates any number of configured instances of it, each constructed with
    its own ``settings`` mapping. ``settings_fields`` documents those settings
    for the web UI: ``[{"name": "url", "label": "URL", "type": "url",
    "required": True}, ...]``.
    """

    kind: ClassVar[str]
    label: ClassVar[str] = ""
    settings_fields: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, settings: Mapping[str, Any] | None = None,
                 context: IntegrationContext | None = None):
        self.settings = dict(settings or {})
        self.context = context or IntegrationContext()

    @abstractmethod
    def test(self) -> TestResult:
        """Check the configuration against the real service."""


class MetadataProvider(Integration):
    @abstractmethod
    def search_series(self, query: str, year: int | None = None) -> list[SeriesResult]: ...

    @abstractmethod
    def get_series(self, provider_id: str) -> SeriesResult: ...

    @abstractmethod
    def get_issues(self, series_id: str) -> list[IssueResult]: ...

    def get_arc(self, arc_id: str) -> ArcResult:
        raise NotImplementedError(f"{self.kind} has no story arcs")


class Indexer(Integration):
    protocol: ClassVar[str] = "usenet"

    @abstractmethod
    def capabilities(self) -> dict[str, Any]: ...

    @abstractmethod
    def search(self, query: SearchQuery) -> list[Release]: ...

    def rss(self) -> list[Release]:
        """The newest releases, for the periodic RSS check."""
        return []


class DownloadClient(Integration):
    protocol: ClassVar[str] = "torrent"

    @abstractmethod
    def add(self, release: Release, category: str | None = None) -> str:
        """Hand a release over; return the client's id for it."""

    @abstractmethod
    def status(self, ids: list[str] | None = None) -> list[DownloadStatus]: ...

    @abstractmethod
    def remove(self, download_id: str, delete_files: bool = False) -> None: ...

    def pause(self, download_id: str) -> None:
        raise NotImplementedError(f"{self.kind} cannot pause")

    def resume(self, download_id: str) -> None:
        raise NotImplementedError(f"{self.kind} cannot resume")


class Notifier(Integration):
    @abstractmethod
    def send(self, notification: Notification) -> None: ...


@dataclass
class ReadingRecord:
    """One book's reading state of one user, as a sync target receives it."""

    book_id: int
    title: str | None
    series: str | None
    number: str | None
    volume: int | None
    year: int | None
    page: int
    total_pages: int | None
    completed: bool
    updated_at: datetime
    # The archive id, and database ids from the book's metadata
    # ({"comicvine": "145269", "isbn": ...}).
    arcid: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)


@dataclass
class SyncResult:
    sent: int
    message: str = ""


class SyncTarget(Integration):
    """A service a user's reading is pushed to (a reading tracker): Codex's
    user integrations.

    An admin configures an instance with the server's ``settings`` (the
    service's address, an app's keys); each user who connects gives their
    own ``user_settings`` (their account, their token), described by
    ``user_settings_fields`` as ``settings_fields`` describes the others.
    ``sync`` receives the records changed since the user's last sync, oldest
    first, and raises ``IntegrationError`` when the service refuses them.
    """

    user_settings_fields: ClassVar[list[dict[str, Any]]] = []

    @abstractmethod
    def sync(self, user_settings: Mapping[str, Any], records: list[ReadingRecord]) -> SyncResult: ...

    def test_user(self, user_settings: Mapping[str, Any]) -> TestResult:
        """Check one user's settings against the service (default: the
        service's own check)."""
        return self.test()


class PostProcessError(Exception):
    """A post-processing step cannot go on; ``reason`` is shown to the user.

    ``blocklist=True`` says the download itself is bad (no comic in it, every
    file corrupt): the release is blocklisted and the next candidate tried,
    as for a failed download. Any other exception fails the import and keeps
    the release, so a retry may succeed (a full disk, a permission).
    """

    def __init__(self, reason: str, *, blocklist: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.blocklist = blocklist


class PostProcessHost(ABC):
    """What comicsrv offers a post-processing step (its ``run(context, host)``).

    Data comes as plain dicts of the rows' columns, so plugins need no models.
    Every method is safe to call again when a step is retried after a crash.
    """

    #: The Download row: id, title, guid, indexer, protocol, save_path, state, ...
    download: dict[str, Any]
    #: The WatchedIssue row (id, number, title, cover_date, ...) or None.
    issue: dict[str, Any] | None
    #: The WatchedSeries row (id, name, year, volume, publisher, folder, ...) or None.
    series: dict[str, Any] | None

    @abstractmethod
    def setting(self, key: str) -> Any:
        """An admin setting (``postprocess.transfer_mode`` ...)."""

    @abstractmethod
    def work_dir(self, name: str) -> str:
        """A private folder in comicsrv's cache for this download (created)."""

    @abstractmethod
    def find_comics(self, path: str) -> dict[str, Any]:
        """Comic files in a download: ``{"files": [{"path", "origin",
        "extracted"}], "skipped": [reasons]}``. Archives of archives are
        unpacked into the work folder, never next to the download."""

    @abstractmethod
    def inspect_comic(self, path: str) -> dict[str, Any]:
        """Open a comic: ``{"format", "pages", "has_comicinfo"}``; raises
        ``PostProcessError`` if it cannot be read or has no pages."""

    @abstractmethod
    def convert_to_cbz(self, path: str, target: str) -> dict[str, Any]:
        """Write ``path`` (any comic) as a new CBZ at ``target``."""

    @abstractmethod
    def comicinfo(self) -> bytes | None:
        """ComicInfo.xml for this download's issue from the provider's
        metadata, or None when the download belongs to no watched issue."""

    @abstractmethod
    def embed_comicinfo(self, path: str, target: str, comicinfo: bytes) -> None:
        """A copy of the CBZ ``path`` at ``target`` with ``comicinfo`` as its
        ComicInfo.xml; pages are copied as they are, never recompressed."""

    @abstractmethod
    def destination(self, extension: str) -> dict[str, Any]:
        """Where the file goes: ``{"library_id", "root", "path"}`` from the
        series' library and folder and the rename template."""

    @abstractmethod
    def transfer_mode(self) -> str:
        """How this download's files reach the library: "move", "copy" or
        "hardlink" (which copies where a link is impossible). A torrent's
        follow ``postprocess.torrent_transfer_mode`` (never moved unless the
        admin chose so), others ``postprocess.transfer_mode``."""

    @abstractmethod
    def release_from_client(self) -> dict[str, Any]:
        """Before a torrent's files are moved: remove the torrent from its
        client, keeping the files, so it does not seed from files that are
        gone. ``{"released": bool, "message"}``; nothing to do for usenet.
        Raises ``PostProcessError`` when the client cannot be told."""

    @abstractmethod
    def transfer(self, source: str, destination: str, *, mode: str | None = None,
                 sha256: str | None = None, size: int | None = None) -> dict[str, Any]:
        """Move/copy/hard-link (``mode``, default ``transfer_mode()``)
        ``source`` to ``destination`` or a free name beside it; verified,
        never overwriting. Returns ``{"path", "method", "size", "sha256",
        "source_removed"}``. Call ``release_from_client`` before moving a
        torrent's own files."""

    @abstractmethod
    def file_digest(self, path: str) -> str:
        """SHA-256 of a file, hex."""

    @abstractmethod
    def index_file(self, library_id: int, path: str) -> int:
        """Index one file into a library now; returns the book id."""

    @abstractmethod
    def mark_imported(self, book_id: int, path: str) -> None:
        """The issue is downloaded and the download imported, as ``book_id``."""

    @abstractmethod
    def remove_from_client(self) -> str:
        """Ask the download client to drop the finished item when its
        configuration says so; returns what happened."""

    @abstractmethod
    def blocklist(self, reason: str) -> None:
        """Never grab this download's release again."""

    @abstractmethod
    def set_issue_wanted(self) -> None:
        """Put the download's issue back to wanted."""

    @abstractmethod
    def announce_failure(self, reason: str) -> None:
        """Publish ``DownloadFailed`` for this download."""

    @abstractmethod
    def search_next(self) -> str:
        """Search for the next candidate release of the issue."""


class PostProcessStep(ABC):
    """One small, retryable step of post-processing a finished download.

    ``outcome`` is "success" or "failure": the list of steps that runs for a
    completed or a failed download. Steps run in ascending ``order``; each
    receives a mutable ``context`` mapping (the job's state, saved between
    steps so a restart resumes where it stopped; keep it JSON) and must be
    idempotent. A ``run`` that takes a second argument gets the
    :class:`PostProcessHost`; ``run(context)`` alone still works.
    """

    name: ClassVar[str]
    outcome: ClassVar[str] = "success"
    order: ClassVar[int] = 500

    @abstractmethod
    def run(self, context: dict[str, Any], host: PostProcessHost | None = None) -> None: ...


@dataclass
class JobType:
    """A kind of background job a plugin adds (``comicsrv_job_types``).

    ``run(ctx, **params)`` runs in whichever worker process claims the job
    (any of them, on any machine) and returns a JSON mapping, its result.
    ``ctx`` offers ``ctx.job_id``, ``ctx.params``, ``ctx.progress(current,
    total, message)`` and ``ctx.check_cancelled()`` (raises once someone
    cancelled the job; call it between steps). A ``resumable`` job whose
    process died is run again by another worker with the same params, so it
    must find where it stopped (from its own records) and go on from there;
    any other job is then marked failed.
    """

    name: str
    run: Callable[..., Any]
    resumable: bool = False


# --- The hooks ------------------------------------------------------------------

class Hooks:
    """Hook specifications. Implement any of them with ``@hookimpl``."""

    @hookspec
    def comicsrv_metadata_providers(self) -> list[type[MetadataProvider]]:
        """Return metadata provider classes (ComicVine, Metron, ...)."""

    @hookspec
    def comicsrv_indexers(self) -> list[type[Indexer]]:
        """Return indexer classes (Newznab, Torznab, RSS, ...)."""

    @hookspec
    def comicsrv_download_clients(self) -> list[type[DownloadClient]]:
        """Return download client classes (qBittorrent, SABnzbd, ...)."""

    @hookspec
    def comicsrv_notifiers(self) -> list[type[Notifier]]:
        """Return notifier classes (Apprise, webhook, ...)."""

    @hookspec
    def comicsrv_sync_targets(self) -> list[type[SyncTarget]]:
        """Return sync target classes: services users push their reading to
        (reading trackers), offered through ``/api/v1/user/integrations``."""

    @hookspec
    def comicsrv_postprocess_steps(self) -> list[PostProcessStep]:
        """Return post-processing step instances to add to the pipeline."""

    @hookspec
    def comicsrv_blueprints(self) -> list[Any]:
        """Return Flask blueprints with extra routes, registered at start-up.

        Routes live under the URL base like every built-in route; a
        blueprint should use a url_prefix of its own (``/plugins/<name>``).
        """

    @hookspec
    def comicsrv_job_types(self) -> list[JobType]:
        """Return background job types (names prefixed with the plugin's own,
        ``"myplugin.refresh"``). Their jobs are rows of the job table, run by
        the shared queue, shown in the task list with their progress."""

    @hookspec
    def comicsrv_event(self, event: Any) -> None:
        """Called for every event published on the bus (see
        ``comicsrv.events``): observe library changes, job progress and
        pipeline steps. Runs in the publisher's thread: return quickly. With
        several processes, each event is seen once, in the process that
        published it."""
