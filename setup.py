"""Package discovery that setup.cfg cannot express.

The built-in plugins live in the top-level ``plugins/`` folder, the Alembic
scripts in ``migrations/`` and the web UI in ``web/`` (where contributors look
for them), but an installed wheel must carry all three: they are mapped to
the packages ``comicsrv_plugins``, ``comicsrv.migrations`` and
``comicsrv.web`` here. Their data folders (``migrations/versions``,
``web/static``...) are listed as namespace packages too: setuptools warns
about every importable folder missing from ``packages`` on each install, and
would one day leave them out. Everything else is in setup.cfg.
"""
from setuptools import find_namespace_packages, find_packages, setup

_NOT_PACKAGES = ["*__pycache__*", "__pycache__"]


def _data_packages(folder: str, package: str) -> list[str]:
    return [package] + [f"{package}.{name}" for name in
                        find_namespace_packages(folder, exclude=_NOT_PACKAGES)]


setup(
    packages=find_packages(include=["comicsrv", "comicsrv.*"])
    + _data_packages("migrations", "comicsrv.migrations")
    + _data_packages("web", "comicsrv.web")
    + ["comicsrv_plugins"]
    + ["comicsrv_plugins." + name for name in find_packages("plugins")],
)
