"""The example plugin of docs/plugins.md, really installed.

``scripts/test`` installs ``examples/comicsrv-example-plugin`` (editable)
next to comicsrv; a bare ``pytest`` in a venv without it installs it here,
once, the same way, so these tests always find it through its entry point
as a user's comicsrv would.
"""
from __future__ import annotations

import fcntl
import importlib
import importlib.util
import site
import subprocess
import sys
import sysconfig
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "comicsrv-example-plugin"
DIST = "comicsrv-example-plugin"


def installed_from_here() -> bool:
    """Installed, and importing this worktree's source (not a stale copy)."""
    try:
        distribution(DIST)
    except PackageNotFoundError:
        return False
    spec = importlib.util.find_spec("comicsrv_example")
    return spec is not None and spec.origin is not None and \
        Path(spec.origin).resolve().is_relative_to(EXAMPLE)


@pytest.fixture(scope="session", autouse=True)
def example_plugin_installed():
    if installed_from_here():
        return
    lock = Path(tempfile.gettempdir()) / "comicsrv-example-plugin.install.lock"
    with open(lock, "w") as held:  # xdist workers install it once
        fcntl.flock(held, fcntl.LOCK_EX)
        importlib.invalidate_caches()
        if not installed_from_here():
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "-e", str(EXAMPLE)], check=True)
    # The editable install is a .pth file: site reads those at start-up only.
    purelib = sysconfig.get_paths()["purelib"]
    for pth in Path(purelib).glob("__editable__.comicsrv_example_plugin-*.pth"):
        site.addpackage(purelib, pth.name, None)
    importlib.invalidate_caches()
    assert installed_from_here(), f"{DIST} could not be installed from {EXAMPLE}"
