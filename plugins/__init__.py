"""Built-in comicsrv plugins, installed as the package ``comicsrv_plugins``.

Each module here is registered in setup.cfg under the ``comicsrv.plugins``
entry-point group, exactly as a third-party plugin would be, and uses only
``comicsrv.hookspecs``.
"""
