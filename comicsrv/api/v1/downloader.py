"""``/api/v1/downloader``: the configured download clients and what they
hold, across all of them (SystemAdmin; AutoBangumi's downloader management).

Clients are ``DownloadClientConfig`` rows: list (secrets masked), add,
change, delete, and a connectivity check through the plugin's ``test()``.
Items are what each enabled client holds in its category; pause, resume and
delete take the clients' own ids (torrent hashes, nzo ids): a download
comicsrv tracks goes through the download services (its row and issue follow
along), any other item straight to the client holding it.
"""
from __future__ import annotations


from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation import download_clients
from ...automation.download_clients import (
    CATEGORY, MASK, create_client, delete_client, get_client as _get_client, masked, run_test,
    update_client,
)
from ...extensions import db
from ...models.automation import DownloadClientConfig
from ..pagination import PageArgs, page_of, page_of_list
from .auth import plain_text
from .rss import SECURITY

blp = Blueprint("v1_downloader", __name__, url_prefix="/api/v1",
                description="Download clients and the items they hold")

__all__ = ["blp", "run_test", "masked", "create_client", "update_client", "CATEGORY", "MASK"]


# --- schemas -----------------------------------------------------------------------

class ClientSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    enabled = fields.Boolean()
    protocol = fields.String()
    priority = fields.Integer()
    category = fields.String(allow_none=True)
    remove_completed = fields.Boolean()
    settings = fields.Function(masked, metadata={"description": f"secrets shown as {MASK}"})
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ClientListSchema(Schema):
    items = fields.List(fields.Nested(ClientSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


def _settings_field(**kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                       values=fields.Raw(allow_none=True),
                       metadata={"description": f"the plugin's settings; send {MASK} to keep a "
                                                "stored secret"}, **kwargs)


class ClientUpdateSchema(Schema):
    name = fields.String(validate=[validate.Length(min=1, max=200), plain_text])
    enabled = fields.Boolean()
    protocol = fields.String(validate=validate.OneOf(("torrent", "usenet")))
    priority = fields.Integer(validate=validate.Range(min=1, max=50))
    category = fields.String(allow_none=True, validate=[validate.Length(max=200), plain_text])
    remove_completed = fields.Boolean()
    settings = _settings_field()


class ClientCreateSchema(ClientUpdateSchema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), plain_text])
    kind = fields.String(required=True, validate=validate.Length(min=1, max=64))
    settings = _settings_field(load_default=dict)


class TestResultSchema(Schema):
    ok = fields.Boolean()
    message = fields.String()


class ItemSchema(Schema):
    id = fields.String(metadata={"description": "the client's id: torrent hash, nzo id ..."})
    client_id = fields.Integer()
    client = fields.String()
    name = fields.String()
    state = fields.String()
    progress = fields.Float()
    size = fields.Integer(allow_none=True)
    category = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    remote_path = fields.String(allow_none=True)
    save_path = fields.String(allow_none=True)
    download_id = fields.Integer(allow_none=True,
                                 metadata={"description": "comicsrv's download, if it added it"})


class ItemListSchema(ClientListSchema):
    items = fields.List(fields.Nested(ItemSchema))
    errors = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"description": "clients that could not be asked, and why"})


class ItemIdsSchema(Schema):
    ids = fields.List(fields.String(validate=[validate.Length(min=1, max=200), plain_text]),
                      required=True, validate=validate.Length(min=1, max=500))


class ItemDeleteSchema(ItemIdsSchema):
    delete_files = fields.Boolean(load_default=False)


class ActionResultSchema(Schema):
    done = fields.List(fields.String())
    not_found = fields.List(fields.String())
    errors = fields.Dict(keys=fields.String(), values=fields.String())


# --- views -------------------------------------------------------------------------

@blp.route("/downloader/clients")
class Clients(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ClientListSchema)
    def get(self, args):
        """Configured download clients by priority; secrets masked."""
        return page_of(db.select(DownloadClientConfig).order_by(
            DownloadClientConfig.priority, DownloadClientConfig.id), args)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ClientCreateSchema)
    @blp.response(201, ClientSchema)
    def post(self, data):
        """Add a download client of a kind a plugin provides."""
        return create_client(data)


@blp.route("/downloader/clients/<int:client_id>")
class Client(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, ClientSchema)
    def get(self, client_id):
        """One download client; secrets masked."""
        return _get_client(client_id)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ClientUpdateSchema)
    @blp.response(200, ClientSchema)
    def patch(self, data, client_id):
        """Change a client; settings are replaced whole, masked secrets kept."""
        return update_client(client_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    def delete(self, client_id):
        """Remove the client; its downloads stay in the history."""
        delete_client(client_id)


@blp.route("/downloader/clients/<int:client_id>/test")
class ClientTest(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, TestResultSchema)
    def post(self, client_id):
        """Connectivity check with the stored settings (ok false says why)."""
        row = _get_client(client_id)
        return run_test(CATEGORY, row.kind, row.settings or {}, row.name)


@blp.route("/downloader/items")
class Items(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ItemListSchema)
    def get(self, args):
        """Everything the enabled clients hold in their categories."""
        items, errors = download_clients.all_items()
        return page_of_list(items, args, errors=errors)


def _item_action(action: str, schema: type[Schema], doc: str) -> None:
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(schema)
    @blp.response(200, ActionResultSchema)
    @blp.alt_response(404, description="No client holds any of the ids")
    def post(self, body):
        return download_clients.act(action, body["ids"], body.get("delete_files", False))

    post.__doc__ = doc
    blp.route(f"/downloader/items/{action}")(
        type(f"Items{action.title()}", (MethodView,), {"post": post}))


_item_action("pause", ItemIdsSchema, "Pause items by the clients' ids.")
_item_action("resume", ItemIdsSchema, "Resume paused items.")
_item_action("delete", ItemDeleteSchema,
             "Remove items from their clients, with their files when delete_files is true; "
             "a tracked download's issue is wanted again.")

