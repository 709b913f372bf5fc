"""Package discovery that setup.cfg cannot express.

The built-in plugins live in the top-level ``plugins/`` folder, the Alembic
scripts in ``migrations/`` and the web UI in ``web/`` (where contributors look
for them), but an installed wheel must carry all three: they are mapped to
the packages ``comicsrv_plugins``, ``comicsrv.migrations`` and
``comicsrv.web`` here. Everything else is in
setup.cfg.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["comicsrv", "comicsrv.*"])
    + ["comicsrv.migrations", "comicsrv.web"]
    + ["comicsrv_plugins"]
    + ["comicsrv_plugins." + name for name in find_packages("plugins")],
)
