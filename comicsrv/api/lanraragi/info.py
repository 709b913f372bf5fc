"""``/api/info`` and ``/api/database``: server facts and the tag cloud."""
from __future__ import annotations

from flask import Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from flask.views import MethodView
from sqlalchemy import and_, select, update

from ... import __version__, services
from ...events import LibraryUpdated
from ...extensions import db
from ...library.access import visible_books
from ...lrr import settings, stats
from ...lrr.search import count_archives
from ...models import Book
from .auth import SECURITY, lrr_user, reader, writer
from .common import LrrBlueprint, json_response, operation_body
from .schemas import (
    LrrOperationSchema,
    LrrServerInfoSchema,
    LrrTagStatSchema,
    StatsArgs,
)

blp = LrrBlueprint("lrr_info", __name__, url_prefix="/api",
                   description="LANraragi archive API: server information")

# The LANraragi API version this server speaks. LRReader refuses servers
# below 0.9.10 or above 0.9.80 and turns on its newer features from 0.9.40.
LANRARAGI_VERSION = "0.9.70"


@blp.route("/info")
class ServerInfo(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrServerInfoSchema)
    @reader("server_info")
    def get(self):
        """What LANraragi clients ask first: version, settings, figures."""
        user = lrr_user()
        return {
            "name": "comicsrv",
            "motd": "Welcome to comicsrv",
            "version": LANRARAGI_VERSION,
            "version_name": f"comicsrv {__version__}",
            "version_desc": "comicsrv speaking the LANraragi archive API",
            "has_password": True,
            "debug_mode": bool(current_app.debug),
            "nofun_mode": not settings.public_reading(),
            "archives_per_page": settings.archives_per_page(),
            "server_resizes_images": False,
            "server_tracks_progress": True,
            "authenticated_progress": True,
            "total_pages_read": stats.total_pages_read(),
            "total_archives": count_archives(user),
            "cache_last_cleared": stats.cache_last_cleared(user),
            "excluded_namespaces": list(stats.EXCLUDED_NAMESPACES),
        }


@blp.route("/info/metrics")
class ServerMetrics(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, content_type=CONTENT_TYPE_LATEST, description="Prometheus text")
    @writer("get_metrics", "SystemHealth")
    def get(self):
        """The server's Prometheus metrics (as ``/api/v1/system/metrics``),
        where LANraragi serves its own."""
        registry = services.metrics()
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@blp.route("/database/stats")
class TagStatistics(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(StatsArgs, location="query")
    @blp.response(200, LrrTagStatSchema(many=True))
    @reader("get_stats")
    def get(self, args):
        """Every tag with how many archives carry it (at least ``minweight``)."""
        return json_response(stats.tag_stats(lrr_user(), args["minweight"],
                                             args["hide_excluded_namespaces"]))


@blp.route("/database/isnew")
class ClearAllNew(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("clear_new_all", "LibrariesWrite")
    def delete(self):
        """Clear the "new" flag of every archive the caller may see."""
        scope = and_(visible_books(lrr_user()), Book.is_new.is_(True))
        libraries = list(db.session.execute(select(Book.library_id).where(scope).distinct()).scalars())
        db.session.execute(update(Book).where(scope).values(is_new=False))
        db.session.commit()
        for library_id in libraries:
            services.events().publish(LibraryUpdated(library_id=library_id))
        return operation_body("clear_new_all")
