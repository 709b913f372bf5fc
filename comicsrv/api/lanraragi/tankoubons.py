"""``/api/tankoubons``: LANraragi's tankoubons (``comicsrv.lrr.tankoubons``).

Reading them is public, like archives; changing them needs MetadataWrite,
as they are the server's.
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from ... import images, services
from ...library.media import MediaUnavailable
from ...library.reading import ProgressUpdate, save_progress
from ...lrr import settings, thumbnails
from ...lrr import tankoubons as service
from ...lrr.tags import epoch
from .archives import THUMBNAIL_MAX_AGE, _media_response, _placeholder
from .auth import SECURITY, lrr_user, progress_writer, reader, writer
from .common import (
    LrrBlueprint,
    current_operation,
    json_response,
    operation_body,
    operation_error,
    validation_error,
)
from .schemas import (
    LrrOperationSchema,
    TankListArgs,
    TankNameArgs,
    TankPageArgs,
    TankThumbnailArgs,
)

blp = LrrBlueprint("lrr_tankoubons", __name__, url_prefix="/api/tankoubons",
                   description="LANraragi archive API: tankoubons")


def _tank(tank_id: str):
    if len(tank_id) != 15:
        word = "short" if len(tank_id) < 15 else "long"
        raise validation_error(f"String is too {word}: {len(tank_id)}/15.", "/id")
    tank = service.find_tank(tank_id)
    if tank is None:
        raise operation_error(current_operation() or "tankoubon",
                              f"The given tankoubon does not exist: {tank_id}")
    return tank


@blp.route("")
class TankoubonList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(TankListArgs, location="query")
    @reader("get_tankoubon_list")
    def get(self, args):
        """Every tankoubon, a page (``archives_per_page``) at a time."""
        result, total = service.list_tanks(lrr_user(), args.get("page"),
                                           settings.archives_per_page())
        return json_response({"result": result, "total": total, "filtered": total})

    @blp.doc(security=SECURITY)
    @blp.arguments(TankNameArgs, location="query")
    @blp.alt_response(400, schema=LrrOperationSchema, description="No name")
    @writer("create_tankoubon")
    def put(self, args):
        """Create a tankoubon (or rename the one ``tankid`` names)."""
        tank = service.create_tank(args.get("name"), args.get("tankid"))
        return json_response({"operation": "create_tankoubon", "tankoubon_id": tank.id,
                              "success": 1})


@blp.route("/<tank_id>")
class TankoubonItem(MethodView):
    @blp.doc(security=SECURITY)
    @reader("get_tankoubon")
    def get(self, tank_id):
        """One tankoubon: metadata, archive ids, the caller's progress."""
        return json_response(service.tank_object(_tank(tank_id), lrr_user()))

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("update_tankoubon")
    def put(self, tank_id):
        """Change metadata (``{"metadata": {name, summary, tags, append}}``)
        and/or the archives in order (``{"archives": [...]}``)."""
        tank = _tank(tank_id)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise operation_error("update_tankoubon", "Send a JSON object.")
        service.update_tank(tank, lrr_user(), body.get("archives"), body.get("metadata"))
        return operation_body("update_tankoubon",
                              success_message=f"Updated tankoubon \"{tank.name}\"!")

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("delete_tankoubon")
    def delete(self, tank_id):
        """Delete a tankoubon (its archives stay)."""
        service.delete_tank(_tank(tank_id))
        return operation_body("delete_tankoubon")


@blp.route("/<tank_id>/full")
class TankoubonFull(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(TankPageArgs, location="query")
    @reader("get_tankoubon")
    def get(self, args, tank_id):
        """The tankoubon with its archives' metadata (a page of them, or all)."""
        tank = _tank(tank_id)
        total = len(service.book_ids(tank, lrr_user()))
        return json_response({"result": service.full_tank(tank, lrr_user(), args["page"],
                                                          settings.archives_per_page()),
                              "total": total, "filtered": total})


@blp.route("/<tank_id>/thumbnail")
class TankoubonThumbnail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(TankThumbnailArgs, location="query")
    @reader("serve_tank_thumbnail")
    def get(self, args, tank_id):
        """The cover: the chosen page, else its first archive's cover."""
        tank = _tank(tank_id)
        found = service.cover(tank, lrr_user())
        if found is None or not found[0].page_count:
            return Response(images.placeholder(thumbnails.EDGE, tank.name), mimetype="image/jpeg")
        book, page = found
        if not thumbnails.has_thumbnail(book, page) and args["no_fallback"]:
            runner = services.jobs()
            target = thumbnails.thumbnail_target(book, page)
            job = runner.active_job(thumbnails.THUMBNAIL_JOB, target)
            job_id = job.id if job else runner.submit(
                thumbnails.THUMBNAIL_JOB, {"book_id": book.id, "page": page}, target=target,
                user_id=lrr_user().id if lrr_user() else None)
            return json_response({"operation": "serve_tank_thumbnail", "success": 1,
                                  "job": job_id}, 202)
        try:
            return _media_response(thumbnails.thumbnail(book, page), THUMBNAIL_MAX_AGE)
        except MediaUnavailable:
            return _placeholder(book)

    @blp.doc(security=SECURITY)
    @blp.arguments(TankThumbnailArgs, location="query")
    @writer("update_tankoubon_thumbnail")
    def put(self, args, tank_id):
        """Make global page ``page`` (across the archives) the cover."""
        tank = _tank(tank_id)
        if not args.get("page"):
            raise operation_error("update_tankoubon_thumbnail", "Page number is required.")
        book, page = service.set_cover(tank, lrr_user(), args["page"])
        try:
            thumbnails.thumbnail(book, page)
        except MediaUnavailable as exc:
            raise operation_error("update_tankoubon_thumbnail",
                                  f"Thumbnail not generated: {exc}") from None
        return json_response({"operation": "update_tankoubon_thumbnail", "success": 1,
                              "new_thumbnail": str(thumbnails.page_thumbnail_path(book, page))})


@blp.route("/<tank_id>/progress/<page>")
class TankoubonProgress(MethodView):
    @blp.doc(security=SECURITY)
    @progress_writer("update_tank_progress")
    def put(self, tank_id, page):
        """Save the caller's global page: the progress of the archive it falls in."""
        tank = _tank(tank_id)
        try:
            number = int(page)
        except ValueError:
            raise validation_error("Expected integer - got string.", "/page") from None
        book, local = service.locate_page(tank, lrr_user(), number)
        progress = save_progress(lrr_user().id, book, ProgressUpdate(page=local))
        return json_response({"operation": "update_tank_progress", "id": tank.id, "page": number,
                              "lastreadtime": epoch(progress.updated_at), "success": 1})


@blp.route("/<tank_id>/<arcid>")
class TankoubonArchive(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("add_to_tankoubon")
    def put(self, tank_id, arcid):
        """Add an archive at the end of the tankoubon."""
        tank = _tank(tank_id)
        service.add_archive(tank, arcid, lrr_user())
        return operation_body("add_to_tankoubon",
                              success_message=f"Added {arcid} to tankoubon {tank.id}!")

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("remove_from_tankoubon")
    def delete(self, tank_id, arcid):
        """Remove an archive from the tankoubon."""
        tank = _tank(tank_id)
        service.remove_archive(tank, arcid, lrr_user())
        return operation_body("remove_from_tankoubon",
                              success_message=f"Removed {arcid} from tankoubon {tank.id}!")
