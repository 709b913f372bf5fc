"""``/api/v1/config``: the whole server configuration in one object, as
AutoBangumi's config page reads and writes it (SystemAdmin).

It is the admin settings of ``comicsrv.settings_store`` as ``{key: value}``;
a partial update changes only the keys sent, all validated first (400
naming each bad key, nothing changed). Secrets read as ``********``, and a
secret sent back masked keeps its stored value.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ... import settings_store
from ...auth import current_principal, require
from ...automation.schedule import apply_setting_changes
from ...errors import BadRequest
from .rss import SECURITY

blp = Blueprint("v1_config", __name__, url_prefix="/api/v1",
                description="The whole configuration, read and partially updated")


class ConfigSchema(Schema):
    class Meta:
        # Keys are the settings' names ("automation.rss_interval_minutes").
        unknown = "include"


@blp.route("/config")
class Config(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200)
    def get(self):
        """Every setting as ``{key: value}``; secrets masked."""
        return settings_store.settings_values()

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ConfigSchema)
    @blp.response(200)
    def patch(self, body):
        """Change the keys sent, all or none; answers the whole configuration."""
        if not body:
            raise BadRequest("No settings given")
        changes = settings_store.without_masked_secrets(body)
        if changes:
            settings_store.set_settings(changes, current_principal().user.id)
            apply_setting_changes(changes)
        return settings_store.settings_values()
