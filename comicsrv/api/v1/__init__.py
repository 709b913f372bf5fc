"""``/api/v1``: CLU's client contract plus the Codex and AutoBangumi resources."""
from . import system

BLUEPRINTS = (system.blp,)
