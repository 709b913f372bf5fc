"""``/api/v1/user/integrations`` and ``/api/v1/admin/integrations``:
Codex's integrations, services a user's reading is synced to (reading
trackers), provided by plugins.

The admin adds an integration (a plugin's kind with the server's settings),
tests it and may sync it for every connected user; each user lists what
they connected and what they may connect, connects with their own
settings, tests, syncs and disconnects, by the integration's name.
Secrets read as ``********`` and are kept when sent back.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ...auth import current_principal, require
from ...library import sync
from ...redact import MASK
from ..errors_doc import protected_errors
from ..pagination import PageArgs, page_of
from .downloader import TestResultSchema
from .indexers import kind_field, name_field, settings_field
from .rss import SECURITY, MaskedString

blp = Blueprint("v1_integrations", __name__, url_prefix="/api/v1",
                description="Integrations: services reading is synced to")


class SettingsFieldSchema(Schema):
    name = fields.String()
    label = fields.String()
    type = fields.String()
    required = fields.Boolean()


class IntegrationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "the plugin's kind: reading_webhook, ..."})
    enabled = fields.Boolean()
    settings = fields.Function(sync.masked, metadata={
        "type": "object", "description": f"secrets shown as {MASK}"})
    last_error = MaskedString(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class IntegrationListSchema(Schema):
    items = fields.List(fields.Nested(IntegrationSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class IntegrationUpdateSchema(Schema):
    name = name_field()
    enabled = fields.Boolean()
    settings = settings_field()


class IntegrationCreateSchema(IntegrationUpdateSchema):
    name = name_field(required=True)
    kind = kind_field(required=True)
    settings = settings_field(required=True)


class AdminSyncSchema(Schema):
    users = fields.Integer(metadata={"description": "users whose reading was sent"})
    failed = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"description": "user name: why not"})


class ConnectionSchema(Schema):
    name = fields.String()
    kind = fields.String()
    label = fields.String()
    enabled = fields.Boolean()
    settings = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                           metadata={"description": f"your settings; secrets shown as {MASK}"})
    synced_until = fields.DateTime(allow_none=True, metadata={
        "description": "reading changed up to here has been sent"})
    last_sync_at = fields.DateTime(allow_none=True)
    last_result = fields.Dict(keys=fields.String(), values=fields.Raw(), allow_none=True)
    last_error = fields.String(allow_none=True)
    connected_at = fields.DateTime()


class AvailableSchema(Schema):
    name = fields.String()
    kind = fields.String()
    label = fields.String()
    user_settings_fields = fields.List(fields.Nested(SettingsFieldSchema))


class UserIntegrationsSchema(Schema):
    connected = fields.List(fields.Nested(ConnectionSchema))
    available = fields.List(fields.Nested(AvailableSchema))


class ConnectSchema(Schema):
    name = name_field(required=True, metadata={"description": "the integration to connect"})
    settings = settings_field(load_default=dict)


class SyncedSchema(Schema):
    name = fields.String()
    sent = fields.Integer()
    message = fields.String()
    synced_until = fields.DateTime(allow_none=True)
    more = fields.Boolean(metadata={"description": "more changes wait for the next sync"})


# --- admin ----------------------------------------------------------------------------

@blp.route("/admin/integrations")
class AdminIntegrations(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, IntegrationListSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """Every integration, by name; secrets masked."""
        return page_of(sync.integrations_query(), args)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IntegrationCreateSchema)
    @blp.response(201, IntegrationSchema)
    @protected_errors(blp, 400, 409)
    def post(self, data):
        """Add an integration of a kind a plugin provides; users can then
        connect to it by its name."""
        return sync.create_integration(data)


@blp.route("/admin/integrations/<int:integration_id>")
class AdminIntegration(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, IntegrationSchema)
    @protected_errors(blp, 404)
    def get(self, integration_id):
        """One integration; secrets masked."""
        return sync.get_integration(integration_id)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IntegrationUpdateSchema)
    @blp.response(200, IntegrationSchema)
    @protected_errors(blp, 400, 404, 409)
    def patch(self, data, integration_id):
        """Change an integration (disabled: users cannot sync to it)."""
        return sync.update_integration(integration_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @protected_errors(blp, 404)
    def delete(self, integration_id):
        """Remove an integration and every user's connection to it."""
        sync.delete_integration(integration_id)


@blp.route("/admin/integrations/<int:integration_id>/test")
class AdminIntegrationTest(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, TestResultSchema)
    @protected_errors(blp, 404)
    def post(self, integration_id):
        """Check the integration against its service (``ok`` false says why)."""
        return sync.test_integration(integration_id)


@blp.route("/admin/integrations/<int:integration_id>/sync")
class AdminIntegrationSync(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, AdminSyncSchema)
    @protected_errors(blp, 404)
    def post(self, integration_id):
        """Sync every connected user now; one failing does not stop the others."""
        return sync.sync_everyone(integration_id)


# --- users ------------------------------------------------------------------------------

@blp.route("/user/integrations")
class UserIntegrations(MethodView):
    @require("BooksRead")
    @blp.doc(security=SECURITY)
    @blp.response(200, UserIntegrationsSchema)
    @protected_errors(blp)
    def get(self):
        """What you connected, and the integrations you may connect."""
        return sync.user_integrations(current_principal().user)

    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.arguments(ConnectSchema)
    @blp.response(201, ConnectionSchema)
    @protected_errors(blp, 400, 404)
    def post(self, data):
        """Connect an integration by name with your settings (connecting again
        replaces them)."""
        row = sync.connect(current_principal().user, data["name"], data["settings"])
        return sync.shown_connection(row)


@blp.route("/user/integrations/<name>")
class UserIntegration(MethodView):
    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @protected_errors(blp, 404)
    def delete(self, name):
        """Disconnect (nothing more is sent)."""
        sync.disconnect(current_principal().user, name)


@blp.route("/user/integrations/<name>/sync")
class UserIntegrationSync(MethodView):
    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.response(200, SyncedSchema)
    @protected_errors(blp, 404, 409, 503)
    def post(self, name):
        """Send your reading changed since the last sync now."""
        return sync.sync(current_principal().user, name)


@blp.route("/user/integrations/<name>/test")
class UserIntegrationTest(MethodView):
    @require("BooksWrite")
    @blp.doc(security=SECURITY)
    @blp.response(200, TestResultSchema)
    @protected_errors(blp, 404, 409)
    def post(self, name):
        """Check your settings against the service."""
        return sync.test_connection(current_principal().user, name)
