"""The typed accessors of ``comicsrv.services`` read what ``create_app``
stores under the string keys, of the app given or of the current app."""
from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry

from comicsrv import services
from comicsrv.cluster import Cluster
from comicsrv.events import EventBus
from comicsrv.jobs import JobRunner, Scheduler
from comicsrv.library.media import MediaService
from comicsrv.plugins import PluginRegistry

ACCESSORS = [
    (services.jobs, "comicsrv.jobs", JobRunner),
    (services.events, "comicsrv.events", EventBus),
    (services.scheduler, "comicsrv.scheduler", Scheduler),
    (services.media, "comicsrv.media", MediaService),
    (services.plugins, "comicsrv.plugins", PluginRegistry),
    (services.cluster, "comicsrv.cluster", Cluster),
    (services.metrics, "comicsrv.metrics", CollectorRegistry),
]


@pytest.mark.parametrize(("accessor", "key", "kind"), ACCESSORS,
                         ids=[key for _, key, _ in ACCESSORS])
def test_accessor_returns_the_stored_service(app, make_app, accessor, key, kind):
    other = make_app()
    assert isinstance(accessor(), kind)
    assert accessor() is app.extensions[key]  # the current app's
    assert accessor(other) is other.extensions[key]  # the app given, in another app's context
    assert accessor(other) is not accessor()


def test_accessors_need_an_app_outside_a_context(make_app):
    app = make_app()
    assert services.jobs(app) is app.extensions["comicsrv.jobs"]
    with pytest.raises(RuntimeError, match="application context"):
        services.jobs()


def test_importing_the_accessors_imports_no_service():
    """Only Flask at run time: the return types are for the type checker."""
    code = ("import sys, comicsrv.services; "
            "print(sorted(m for m in sys.modules if m.startswith('comicsrv')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['comicsrv', 'comicsrv.services']"
