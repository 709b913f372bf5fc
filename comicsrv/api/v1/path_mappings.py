"""``/api/v1/path-mappings``: where comicsrv finds the folders download
clients report (SystemAdmin): list, add, change, remove, and resolve a
path through them.

A client in another container or machine reports ``/downloads/x`` or
``D:\\Downloads\\x``; a mapping names the local folder that is. A mapping
may belong to one download client or apply to all; the longest matching
remote prefix wins (``comicsrv.automation.paths``).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation import path_mappings
from ..errors_doc import protected_errors
from ..pagination import PageArgs, page_of
from .auth import id_field, plain_text
from .rss import SECURITY

blp = Blueprint("v1_path_mappings", __name__, url_prefix="/api/v1",
                description="Remote path mappings: download clients' folders as seen here")


def _path_field(description: str, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=4096), plain_text],
                         metadata={"description": description}, **kwargs)


class MappingSchema(Schema):
    id = fields.Integer()
    download_client_id = fields.Integer(allow_none=True, metadata={
        "description": "the client it applies to; null: every client"})
    remote_path = fields.String(metadata={"description": "as the download client reports it"})
    local_path = fields.String(metadata={"description": "the same folder on this machine"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class MappingListSchema(Schema):
    items = fields.List(fields.Nested(MappingSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class MappingListArgs(PageArgs):
    download_client_id = id_field()


class MappingUpdateSchema(Schema):
    remote_path = _path_field("absolute, POSIX or Windows, as the client reports it")
    local_path = _path_field("absolute path on this machine")
    download_client_id = id_field(strict=True, allow_none=True)


class MappingCreateSchema(MappingUpdateSchema):
    remote_path = _path_field("absolute, POSIX or Windows, as the client reports it",
                              required=True)
    local_path = _path_field("absolute path on this machine", required=True)
    download_client_id = id_field(strict=True, allow_none=True, load_default=None)


class ResolveArgs(Schema):
    path = _path_field("a path as a download client reports it", required=True)
    download_client_id = id_field()


class ResolvedSchema(Schema):
    remote_path = fields.String()
    local_path = fields.String()
    mapped = fields.Boolean(metadata={"description": "a mapping applied"})
    exists = fields.Boolean(metadata={"description": "the local path exists here"})


@blp.route("/path-mappings")
class Mappings(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(MappingListArgs, location="query")
    @blp.response(200, MappingListSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """Mappings by remote path; filter by ``download_client_id``."""
        return page_of(path_mappings.mappings_query(args.get("download_client_id")), args)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(MappingCreateSchema)
    @blp.response(201, MappingSchema)
    @protected_errors(blp, 400, 409)
    def post(self, data):
        """Add a mapping; 409 when the same remote folder is mapped already
        for the same client (or for all)."""
        return path_mappings.create_mapping(data)


@blp.route("/path-mappings/resolve")
class MappingResolve(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ResolveArgs, location="query")
    @blp.response(200, ResolvedSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """Where a path a client reports is found here, and whether it exists."""
        return path_mappings.try_path(args["path"], args.get("download_client_id"))


@blp.route("/path-mappings/<int:mapping_id>")
class Mapping(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, MappingSchema)
    @protected_errors(blp, 404)
    def get(self, mapping_id):
        """One mapping."""
        return path_mappings.get_mapping(mapping_id)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(MappingUpdateSchema)
    @blp.response(200, MappingSchema)
    @protected_errors(blp, 400, 404, 409)
    def patch(self, data, mapping_id):
        """Change a mapping."""
        return path_mappings.update_mapping(mapping_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @protected_errors(blp, 404)
    def delete(self, mapping_id):
        """Remove a mapping."""
        path_mappings.delete_mapping(mapping_id)
