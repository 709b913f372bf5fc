"""The app factory: the one place that wires extensions, plugins, blueprints,
jobs and the scheduler together."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from . import __version__, services
from .cluster import JOBS_CHANNEL, Cluster
from .config import load_config
from .database import bundled_dir, engine_options, upgrade
from .events import EventBus
from .extensions import db
from .jobs import JobRunner, Scheduler, pool
from .library.media import MediaLimits, MediaService
from .middleware import HealthOnly, TrustedProxyFix, UrlBase
from .plugins import PluginRegistry
from .sessions import LazyCookieSessions

log = logging.getLogger(__name__)

def create_app(config: Mapping[str, Any] | None = None, *, data_dir: str | None = None,
               plugins: PluginRegistry | None = None) -> Flask:
    """Build an app. Nothing runs in the background until ``start_services``.

    ``config`` overrides every other source of settings (see
    ``comicsrv.config``); ``plugins`` replaces entry-point discovery (tests).
    """
    settings = load_config(data_dir, config)
    web = bundled_dir("web")
    app = Flask(__name__, static_folder=str(web / "static"), static_url_path="/static",
                template_folder=str(web / "templates"))
    app.config.update(settings)
    app.json.sort_keys = False  # keep documented field order
    app.session_interface = LazyCookieSessions()
    app.config.update(
        SQLALCHEMY_DATABASE_URI=_sqlalchemy_url(settings["DATABASE_URL"]),
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings["DATABASE_URL"],
                                                 settings["SQLITE_BUSY_TIMEOUT_MS"],
                                                 int(settings["DATABASE_POOL_SIZE"]),
                                                 int(settings["DATABASE_MAX_OVERFLOW"])),
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        # Uploads raise it per request (comicsrv.api.request_limits).
        MAX_CONTENT_LENGTH=settings["MAX_REQUEST_BYTES"],
        API_TITLE="comicsrv",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/" if settings["API_DOCS_ENABLED"] else None,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH=settings["API_DOCS_PATH"].lstrip("/") or "docs",
        # Vendored swagger-ui-dist (web/static/vendor/README.md): /docs works offline.
        OPENAPI_SWAGGER_UI_URL=_swagger_ui_url(settings["API_DOCS_PATH"]),
    )
    from . import logfiles
    from .logbuffer import install as install_log_buffer
    from .redact import install_log_filter

    # The console and logs/comicsrv.log; recent records for /api/system/logs;
    # every record masks secrets in URLs before any of them sees it.
    log_file = logfiles.configure(settings)
    install_log_filter(install_log_buffer(app), *([log_file] if log_file else []))
    Path(settings["CACHE_DIR"]).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    from . import models  # noqa: F401  (registers every table)

    registry = plugins or PluginRegistry()
    if plugins is None:
        registry.load_entry_points()
    bus = EventBus()
    bus.add_listener(lambda event: event.internal
                     or registry.call("comicsrv_event", event=event))
    runner = JobRunner(app, bus)
    app.extensions.update({
        "comicsrv.plugins": registry,
        "comicsrv.events": bus,
        "comicsrv.jobs": runner,
        "comicsrv.scheduler": Scheduler(app),
        "comicsrv.cluster": Cluster(app, owner=runner.owner),
        "comicsrv.started": time.monotonic(),
        "comicsrv.media": MediaService(settings["CACHE_DIR"], MediaLimits.from_config(settings)),
    })
    _register_job_types(runner)
    for plugin_name, job_types in registry.call("comicsrv_job_types"):
        for job_type in job_types:
            if job_type.name in runner.types:
                log.warning("plugin %s: job type %r already registered; ignored",
                            plugin_name, job_type.name)
                continue
            runner.register(job_type.name, job_type.run, resumable=job_type.resumable)
    from .auth.principal_cache import install as install_principal_cache

    install_principal_cache(app)
    from .automation.notify import install as install_notifications
    from .automation.reactions import install as install_reactions

    install_notifications(app)
    install_reactions(app)

    from .api import register_api
    from .metrics import init_metrics

    from .webui import blp as web_blueprint

    register_api(app)
    app.register_blueprint(web_blueprint)
    init_metrics(app)
    for plugin_name, blueprints in registry.call("comicsrv_blueprints"):
        for blueprint in blueprints:
            try:
                app.register_blueprint(blueprint)
            except Exception:
                log.exception("plugin %s: blueprint %r not registered", plugin_name, blueprint)

    from .api.hotpath import install as install_hot_path

    install_hot_path(app)
    wsgi = app.wsgi_app
    if settings["ROLE"] == "worker":
        wsgi = HealthOnly(wsgi)
    if settings["URL_BASE"]:
        wsgi = UrlBase(wsgi, settings["URL_BASE"])
    app.wsgi_app = TrustedProxyFix(wsgi, settings["TRUSTED_PROXIES"])

    if settings["AUTO_MIGRATE"]:
        upgrade(app)
    return app


def start_services(app: Flask) -> None:
    """Start what runs beside the request handlers, as the process's role
    (``ROLE``) says: its part in the deployment (``comicsrv.cluster``), the
    job queue, the scheduler, scans on start. Called by ``comicsrv serve``
    and the WSGI entry point; never by tests."""
    from .archives import preload

    preload()  # first (serve did it already): gevent's worker threads must not import readers
    pool.configure(app.config["CPU_WORKERS"])
    cluster = services.cluster(app)
    runner = services.jobs(app)
    scheduler = services.scheduler(app)
    cluster.on_notice(JOBS_CHANNEL, runner.notice)
    cluster.on_reconnect(runner.wake)
    if cluster.runs_scheduler:
        cluster.on_leadership(lambda: _lead(app))
    if cluster.runs_jobs:
        # Before the cluster starts: the first leadership spawns the scans on
        # start, which skip a library whose scan still looks running. A scan
        # of this host's dead process must be marked failed by then.
        with app.app_context():
            runner.recover_interrupted()
    cluster.start()
    if not cluster.runs_jobs:
        log.info("role %s: serving HTTP; jobs run in the worker processes", cluster.role)
        return
    runner.start()
    if not cluster.runs_scheduler:
        return
    scheduler.add_source(lambda app: scheduler.every("jobs.prune", 24 * 3600, "jobs.prune"))
    from .automation.schedule import schedule_automation
    from .backup import schedule_backups
    from .library.schedule import schedule_library_scans

    scheduler.add_source(lambda app: schedule_library_scans(app, on_start=False))
    scheduler.add_source(schedule_automation)
    scheduler.add_source(schedule_backups)
    scheduler.follow_changes()
    scheduler.start()


def _lead(app: Flask) -> None:
    """This process became the scheduler's leader. The first leader of a
    process's life also runs the scans on start (``SCAN_ON_START``) and a
    backup missed while the server was off, and watches the libraries'
    folders: with several workers that is once per deployment, not once per
    worker."""
    if app.extensions.get("comicsrv.led"):
        return
    app.extensions["comicsrv.led"] = True

    from .backup import schedule_backups
    from .library.watcher import start_watcher

    def scan_on_start() -> None:
        from .library.schedule import schedule_library_scans

        # SCAN_ON_START (config.yml) switches it for the process; each
        # library's own scan_on_start (database) for that library.
        if app.config["SCAN_ON_START"]:
            schedule_library_scans(app, on_start=True)
        schedule_backups(app, on_start=True)

    pool.spawn(scan_on_start, name="scan-on-start")
    start_watcher(app)


def stop_services(app: Flask) -> None:
    """A clean stop: no new jobs claimed, the scheduler stopped, the
    leadership handed on at once and the process's row removed."""
    from .library.watcher import stop_watcher

    stop_watcher(app)
    services.jobs(app).stop()
    services.scheduler(app).shutdown()
    services.cluster(app).stop()


def _register_job_types(runner: JobRunner) -> None:
    from .jobs.housekeeping import prune_jobs
    from .library.analysis import ANALYZE_JOB, analyze_books
    from .library.archive_ids import ARCHIVE_IDS_JOB, archive_ids_job
    from .library.duplicates import DUPLICATES_JOB, run_duplicates_job
    from .library.scanner import SCAN_JOB, scan_library

    runner.register("jobs.prune", prune_jobs)
    runner.register(SCAN_JOB, scan_library)
    # Idempotent: a server stopped mid-way hashes the rest when it starts again.
    runner.register(ARCHIVE_IDS_JOB, archive_ids_job, resumable=True)
    runner.register(DUPLICATES_JOB, run_duplicates_job)
    runner.register(ANALYZE_JOB, analyze_books)
    from .automation.watchlist import REFRESH_JOB, refresh_metadata_job

    runner.register(REFRESH_JOB, refresh_metadata_job, resumable=True)
    from .automation.postprocess import JOB_TYPE as POSTPROCESS_JOB, run_postprocess

    runner.register(POSTPROCESS_JOB, run_postprocess, resumable=True)
    from .automation.downloads import JOB_TYPE as MONITOR_JOB, monitor_downloads_job

    runner.register(MONITOR_JOB, monitor_downloads_job)
    from .automation.search import RSS_JOB, SEARCH_WANTED_JOB, rss_job, search_wanted_job

    runner.register(SEARCH_WANTED_JOB, search_wanted_job)
    runner.register(RSS_JOB, rss_job)
    from .backup import BACKUP_JOB, backup_job
    from .library.watcher import SCAN_PATHS_JOB, scan_paths_job

    runner.register(BACKUP_JOB, backup_job)
    runner.register(SCAN_PATHS_JOB, scan_paths_job)
    from .automation.ddl import JOB_TYPE as DDL_JOB, ddl_job

    runner.register(DDL_JOB, ddl_job, resumable=True)
    from .automation.posters import POSTERS_JOB, refresh_posters_job

    runner.register(POSTERS_JOB, refresh_posters_job)
    from .library.covers import JOB_TYPE as COVERS_JOB, regenerate_job

    runner.register(COVERS_JOB, regenerate_job)


def _swagger_ui_url(docs_path: str) -> str:
    """The vendored Swagger UI, relative to the docs page so that it also
    resolves under a URL base (``/comics/docs`` -> ``/comics/static/...``)."""
    depth = (docs_path.strip("/") or "docs").count("/")
    return "../" * depth + "static/vendor/swagger-ui/"


def _sqlalchemy_url(url: str) -> str:
    """Accept the ``postgres://`` and ``postgresql://`` spellings users paste
    from hosting dashboards; use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url

