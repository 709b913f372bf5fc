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
from typing import Any, ClassVar, Mapping

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


@dataclass
class IntegrationContext:
    """What the host gives every configured integration besides its settings."""

    # A folder this instance may keep files in (response caches, torrents).
    cache_dir: str | None = None
    user_agent: str = "comicsrv"
    # Seconds for one HTTP request.
    timeout: float = 30.0


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


class PostProcessStep(ABC):
    """One small, retryable step of post-processing a finished download.

    ``outcome`` is "success" or "failure": the list of steps that runs for a
    completed or a failed download. Steps run in ascending ``order``; each
    receives a mutable ``context`` mapping (the job's state, saved between
    steps so a restart resumes where it stopped) and must be idempotent.
    """

    name: ClassVar[str]
    outcome: ClassVar[str] = "success"
    order: ClassVar[int] = 500

    @abstractmethod
    def run(self, context: dict[str, Any]) -> None: ...


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
    def comicsrv_postprocess_steps(self) -> list[PostProcessStep]:
        """Return post-processing step instances to add to the pipeline."""

    @hookspec
    def comicsrv_blueprints(self) -> list[Any]:
        """Return Flask blueprints with extra routes, registered at start-up.

        Routes live under the URL base like every built-in route; a
        blueprint should use a url_prefix of its own (``/plugins/<name>``).
        """

    @hookspec
    def comicsrv_event(self, event: Any) -> None:
        """Called for every event published on the bus (see
        ``comicsrv.events``): observe library changes, job progress and
        pipeline steps. Runs in the publisher's thread: return quickly."""
