"""comicsrv-example-plugin: the worked example of docs/plugins.md.

Two integrations, each of which the user configures as often as they like
in comicsrv's settings (nothing happens until they do):

- ``jsonlines``: a notifier that appends every notification as one JSON
  object per line to a file, for ``tail -f``, jq, or a log shipper.
- ``localfeed``: an indexer over a Torznab/Newznab RSS file on disk, for
  releases a script or another tool writes out.

The module registered under the ``comicsrv.plugins`` entry point is this
one; comicsrv calls the ``@hookimpl`` functions below.
"""
from comicsrv.hookspecs import hookimpl

from .jsonlines import JsonLinesNotifier
from .localfeed import LocalFeedIndexer

__all__ = ["JsonLinesNotifier", "LocalFeedIndexer"]


@hookimpl
def comicsrv_notifiers():
    return [JsonLinesNotifier]


@hookimpl
def comicsrv_indexers():
    return [LocalFeedIndexer]
