"""The *arr automation: watch series from metadata providers, find wanted
issues on indexers and feeds, hand releases to download clients, post-process
finished downloads into the library, and notify.

Every integration is a plugin (see ``comicsrv.hookspecs``); this package owns
the state (``comicsrv.models.automation``) and the decisions.
"""
