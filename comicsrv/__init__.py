"""comicsrv: a self-hosted comic server and *arr.

``create_app`` (in ``comicsrv.app``) is imported lazily so that the Flask-free
leaf modules (``comicsrv.archives``, ``comicsrv.images``, ...) stay cheap to
import in worker processes and benchmarks.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
