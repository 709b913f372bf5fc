"""``/api/v1``: CLU's client contract plus the Codex and AutoBangumi resources.

Every module of this package that defines a flask-smorest ``blp`` is
registered: adding a resource means adding a module, nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil


def blueprints() -> list:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "blp"):
            found.append(module.blp)
    return found
