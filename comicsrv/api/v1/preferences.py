"""``/api/v1/user/preferences``: the caller's own settings (theme, language,
reader options, CLU's browse mode), defaults filled in. The known keys, their
defaults and validation live in ``comicsrv.settings_store.PREFERENCES``."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ... import settings_store
from ...auth import current_principal, require
from ..pagination import PageArgs, page_of_list
from .security import SECURITY

blp = Blueprint("v1_preferences", __name__, url_prefix="/api/v1",
                description="Per-user preferences")


class OptionSchema(Schema):
    """A typed key: what the web UI needs to draw an input for it."""

    key = fields.String()
    value = fields.Raw(allow_none=True)
    default = fields.Raw(allow_none=True)
    is_default = fields.Boolean(metadata={"description": "never set: follows the default"})
    type = fields.String(metadata={"enum": ["boolean", "integer", "string", "path_list"]})
    description = fields.String()
    choices = fields.List(fields.String(), allow_none=True)
    minimum = fields.Integer(allow_none=True)
    maximum = fields.Integer(allow_none=True)
    nullable = fields.Boolean(metadata={"description": "null is an accepted value"})
    updated_at = fields.DateTime(allow_none=True)


class OptionListSchema(Schema):
    items = fields.List(fields.Nested(OptionSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class ValueSchema(Schema):
    value = fields.Raw(required=True, allow_none=True,
                       metadata={"description": "a JSON value of the key's type"})


@blp.route("/user/preferences")
class Preferences(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, OptionListSchema)
    @require()
    def get(self, args):
        """Every preference of the caller, with defaults for those never set."""
        return page_of_list(settings_store.user_preferences(current_principal().user.id), args)


@blp.route("/user/preferences/<key>")
class Preference(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ValueSchema)
    @blp.response(200, OptionSchema)
    @require()
    def put(self, body, key):
        """Set a preference: 400 for an unknown key or a value it does not accept."""
        return settings_store.set_preference(current_principal().user.id, key, body["value"])

    @blp.doc(security=SECURITY)
    @blp.response(204)
    @require()
    def delete(self, key):
        """Reset a preference to its default."""
        settings_store.reset_preference(current_principal().user.id, key)
