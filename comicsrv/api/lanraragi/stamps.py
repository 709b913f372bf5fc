"""LANraragi's stamps: ``/api/archives/:id/stamps*`` and ``/api/stamps/:id``
(``comicsrv.lrr.stamps``). Reading is public like the archive; adding,
changing and removing need MetadataWrite."""
from __future__ import annotations

from flask.views import MethodView

from ...lrr import stamps as service
from ...lrr.search import archive_scope
from .auth import SECURITY, archive_or_error, lrr_user, reader, writer
from .common import (
    LrrBlueprint,
    current_operation,
    json_response,
    operation_body,
    operation_error,
    validation_error,
)
from .schemas import LrrOperationSchema, StampArgs

blp = LrrBlueprint("lrr_stamps", __name__, url_prefix="/api",
                   description="LANraragi archive API: stamps")


def _page(index: str) -> int:
    try:
        return int(index)
    except ValueError:
        raise validation_error("Expected integer - got string.", "/index") from None


def _stamp(stamp_id: str):
    stamp = service.find_stamp(stamp_id, archive_scope(lrr_user()))
    if stamp is None:
        raise operation_error(current_operation() or "stamp", f"No stamp with the ID {stamp_id}.")
    return stamp


@blp.route("/archives/<arcid>/stamps")
class StampedPages(MethodView):
    @blp.doc(security=SECURITY)
    @reader("get_stamped_pages")
    def get(self, arcid):
        """The pages of the archive that carry at least one stamp."""
        return json_response({"result": service.stamped_pages(archive_or_error(arcid))})


@blp.route("/archives/<arcid>/stamps/<index>")
class PageStamps(MethodView):
    @blp.doc(security=SECURITY)
    @reader("get_stamps_by_page")
    def get(self, arcid, index):
        """The stamps on one page."""
        return json_response({"result": service.stamps_on(archive_or_error(arcid), _page(index))})

    @blp.doc(security=SECURITY)
    @blp.arguments(StampArgs, location="query")
    @writer("add_stamp")
    def put(self, args, arcid, index):
        """Pin a stamp (``content`` at ``position``) on a page."""
        stamp = service.add_stamp(archive_or_error(arcid), _page(index), args.get("content"),
                                  args.get("position"))
        return json_response({"operation": "add_stamp", "stamp_id": stamp.id, "success": 1})


@blp.route("/stamps/<stamp_id>")
class StampItem(MethodView):
    @blp.doc(security=SECURITY)
    @reader("get_stamp")
    def get(self, stamp_id):
        """One stamp."""
        return json_response(service.stamp_object(_stamp(stamp_id)))

    @blp.doc(security=SECURITY)
    @blp.arguments(StampArgs, location="query")
    @blp.response(200, LrrOperationSchema)
    @writer("update_stamp")
    def put(self, args, stamp_id):
        """Change a stamp's content and/or position."""
        service.update_stamp(_stamp(stamp_id), args.get("content"), args.get("position"))
        return operation_body("update_stamp")

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("delete_stamp")
    def delete(self, stamp_id):
        """Remove a stamp."""
        service.delete_stamp(_stamp(stamp_id))
        return operation_body("delete_stamp")
