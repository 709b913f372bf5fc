"""Routes outside any API prefix: ``/ping`` for health checks and proxies."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("system", __name__, description="Liveness probe")


class PingSchema(Schema):
    status = fields.String(metadata={"example": "OK"})


@blp.route("/ping")
class Ping(MethodView):
    @blp.response(200, PingSchema)
    def get(self):
        """Liveness: answers as soon as the process serves requests.

        Public, cheap and free of database access, so Docker's HEALTHCHECK
        and reverse proxies can call it every few seconds.
        """
        return {"status": "OK"}
