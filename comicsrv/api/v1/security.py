"""The OpenAPI security of ``/api/v1``: every credential a protected route
accepts (the session cookie too, which the web UI sends by itself), and
none for a public one. Declared once; routes name it in ``@blp.doc``."""
from __future__ import annotations

from typing import Any

SECURITY: list[dict[str, list[Any]]] = [{"ApiKeyHeader": []}, {"Bearer": []}, {"Basic": []}]
PUBLIC: list[dict[str, list[Any]]] = []
