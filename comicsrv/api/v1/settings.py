"""``/api/v1/admin/settings``: server-wide settings with their change history
(SystemAdmin). Keys, types, defaults and validation live in
``comicsrv.settings_store.SETTINGS``."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ... import settings_store
from ...auth import current_principal, require
from ...automation.schedule import apply_setting_changes
from ..pagination import PageArgs, envelope, page_of_list, page_query
from .preferences import OptionListSchema, OptionSchema, ValueSchema
from .security import SECURITY

blp = Blueprint("v1_settings", __name__, url_prefix="/api/v1",
                description="Admin settings and their history")


class SettingSchema(OptionSchema):
    updated_by = fields.String(allow_none=True, metadata={"description": "username"})


class SettingListSchema(OptionListSchema):
    items = fields.List(fields.Nested(SettingSchema))


class BulkSchema(Schema):
    settings = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                           required=True, metadata={"description": "{key: value}"})


class ChangeSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    old_value = fields.Raw(allow_none=True)
    new_value = fields.Raw(allow_none=True)
    changed_at = fields.DateTime()
    changed_by = fields.String(allow_none=True, metadata={"description": "username"})
    changed_by_id = fields.Integer(allow_none=True)


class ChangeListSchema(Schema):
    items = fields.List(fields.Nested(ChangeSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


def _user_id() -> int:
    return current_principal().user.id


@blp.route("/admin/settings")
class Settings(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, SettingListSchema)
    @require("SystemAdmin")
    def get(self, args):
        """Every setting with its value, default, type, limits and last change."""
        return page_of_list(settings_store.settings_state(), args)


@blp.route("/admin/settings/bulk")
class SettingsBulk(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(BulkSchema)
    @blp.response(200, SettingListSchema)
    @require("SystemAdmin")
    def post(self, body):
        """Change several settings at once: all valid, or nothing is changed
        (400 naming every bad key in `details`). Answers the changed settings."""
        items = settings_store.set_settings(body["settings"], _user_id())
        apply_setting_changes(body["settings"])
        return envelope(items, len(items), 1, max(1, len(items)))


@blp.route("/admin/settings/<key>")
class SettingDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, SettingSchema)
    @require("SystemAdmin")
    def get(self, key):
        """One setting (404 for a key comicsrv does not know)."""
        return settings_store.setting_state(key)

    @blp.doc(security=SECURITY)
    @blp.arguments(ValueSchema)
    @blp.response(200, SettingSchema)
    @require("SystemAdmin")
    def put(self, body, key):
        """Change one setting; a value of the wrong type or out of range is a 400."""
        state = settings_store.set_setting(key, body["value"], _user_id())
        apply_setting_changes([key])
        return state


@blp.route("/admin/settings/<key>/reset")
class SettingReset(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, SettingSchema)
    @require("SystemAdmin")
    def post(self, key):
        """Back to the default (recorded in the history when the value changes)."""
        state = settings_store.reset_setting(key, _user_id())
        apply_setting_changes([key])
        return state


@blp.route("/admin/settings/<key>/history")
class SettingHistory(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ChangeListSchema)
    @require("SystemAdmin")
    def get(self, args, key):
        """Changes of one setting, newest first: old and new value, when, by whom."""
        changes, total = page_query(settings_store.history_query(key), args)
        return envelope(settings_store.describe_changes(changes), total, args["page"],
                        args["page_size"])
