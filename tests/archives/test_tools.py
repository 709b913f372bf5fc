"""Starting the RAR tools from any thread of a gevent-patched process, and
processes that end with the one that started them.

The gevent cases run in a child Python process: monkey-patching is for a whole
process and would change every other test of the session.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from comicsrv.archives import CorruptArchiveError, ToolMissingError, tools
from tests.processes import alive, children, cmdline, wait_until

from .conftest import fixture

ROOT = Path(__file__).resolve().parents[2]


def _python(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_tools_and_lazy_readers_work_from_gevent_worker_threads_after_preload():
    """What ``comicsrv serve`` does: archive work on gevent's native threads.

    Before ``preload``, a worker thread cannot start a tool and says so (it
    used to die in gevent with "child watchers are only available on the
    default loop"); after it, RAR4 (unar), RAR5 (bsdtar) and CB7 pages read
    there, and the hub keeps running other greenlets while a tool runs for a
    worker thread. py7zr is imported on the first CB7, not by ``preload``:
    here without cffi, so that pycryptodome's import runs ``file`` (through
    ``platform.architecture()``), from two worker threads at once.
    """
    script = """
        import sys
        sys.modules["cffi"] = None  # pycryptodome falls back to ctypes and runs `file`
        from gevent import monkey
        monkey.patch_all()
        import gevent
        from pathlib import Path
        from comicsrv.archives import ToolMissingError, open_archive, preload, tools

        def pages(path):
            with open_archive(path) as archive:
                return [len(archive.read_page(i)) for i in range(len(archive.pages()))]

        pool = gevent.get_hub().threadpool
        rar4, rar5, cb7, pdf = sys.argv[1:5]
        try:
            pool.apply(pages, (rar5,))
            print("unbound: read")
        except ToolMissingError as error:
            print("unbound: refused:", "preload" in str(error))
        preload()
        print("rar4", pool.apply(pages, (rar4,)))
        print("rar5", pool.apply(pages, (rar5,)))
        print("py7zr", "py7zr" in sys.modules)
        first = [pool.spawn(pages, cb7) for _ in range(2)]
        gevent.joinall(first, raise_error=True)
        print("cb7", first[0].get(), first[1].get() == first[0].get())
        print("pdf", "pypdfium2" in sys.modules, len(pool.apply(pages, (pdf,))))
        ticks = []
        ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.02)) for _ in range(1000)])
        code, out, err = pool.apply(tools.run, (["sleep", "0.6"], Path(rar4)),
                                    {"stdout_limit": 10, "timeout": 10})
        ticker.kill()
        print("sleep", code, "ticks", len(ticks) >= 10)
    """
    proc = _python(script, str(fixture("komga", "rar4-solid.rar")),
                   str(fixture("komga", "rar5-solid.rar")),
                   str(fixture("comicbox", "Captain Science #001.cb7")),
                   str(fixture("komga", "komga.pdf")))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "unbound: refused: True", out
    assert lines[1].startswith("rar4 [") and lines[2].startswith("rar5 ["), out
    assert lines[3] == "py7zr False", out  # left to the first CB7
    assert lines[4] == "cb7 [4542, 4065, 4081, 4157, 4108] True", out
    assert lines[5].startswith("pdf False ") and lines[5] != "pdf False 0", out  # imported there
    assert lines[6] == "sleep 0 ticks True", out
    assert "child watchers" not in err


def test_tool_output_and_time_limits_hold_through_the_hub():
    script = """
        from gevent import monkey
        monkey.patch_all()
        import gevent
        from pathlib import Path
        from comicsrv.archives import CorruptArchiveError, preload, tools

        preload()
        pool = gevent.get_hub().threadpool
        code, out, _ = pool.apply(tools.run, (["yes"], Path("any.cbr")),
                                  {"stdout_limit": 1000, "timeout": 10})
        print(len(out), code != 0)
        try:
            pool.apply(tools.run, (["sleep", "30"], Path("any.cbr")),
                       {"stdout_limit": 10, "timeout": 0.5})
        except CorruptArchiveError as error:
            print("timeout:", "did not finish" in str(error))
    """
    proc = _python(script)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["1001 True", "timeout: True"], (out, err)


def test_a_tool_dies_with_the_process_that_started_it():
    """A server killed with SIGKILL (the OOM killer) must not leave an unar or
    bsdtar running, possibly for minutes on a big solid archive."""
    script = """
        from pathlib import Path
        from comicsrv.archives import tools
        print("ready", flush=True)
        tools.run(["sleep", "60"], Path("any.cbr"), stdout_limit=10, timeout=120)
    """
    proc = _python(script)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert wait_until(lambda: any("sleep 60" in cmdline(child)
                                      for child in children(proc.pid)), 10)
        (tool,) = children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until(lambda: not alive(tool), 5), "the tool outlived its parent"
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("kernel", [True, False], ids=["prctl", "polling"])
def test_die_with_parent_ends_the_process_when_its_parent_dies(kernel):
    """``PR_SET_PDEATHSIG`` on Linux; elsewhere the portable fallback polls
    ``os.getppid()`` (forced here by hiding prctl)."""
    middle = """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], str(os.getpid())])
        print(child.pid, flush=True)
        time.sleep(60)
    """
    child = """
        import sys, time
        from comicsrv.archives import tools
        if sys.argv[1] == "polling":
            tools._arm_death_signal = lambda: False
        tools.die_with_parent(int(sys.argv[2]))
        print("armed", flush=True)
        time.sleep(60)
    """
    proc = _python(middle, textwrap.dedent(child), "prctl" if kernel else "polling")
    grandchild = None
    try:
        grandchild = int(proc.stdout.readline())
        assert proc.stdout.readline().strip() == "armed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert wait_until(lambda: not alive(grandchild),
                          2 + 2 * tools.PARENT_POLL_SECONDS), "outlived its parent"
    finally:
        proc.kill()
        if grandchild is not None and alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)
        proc.communicate()


def test_die_with_parent_ends_at_once_when_the_parent_is_already_gone():
    child = """
        import os, sys
        from comicsrv.archives import tools
        tools.die_with_parent(os.getppid() + 1)  # not our parent: as if it had died
        print("still running")
    """
    proc = _python(child)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL and "still running" not in out


def test_a_tool_that_cannot_start_is_a_missing_tool(tmp_path):
    with pytest.raises(ToolMissingError, match="cannot run"):
        tools.run([str(tmp_path / "no-such-tool")], tmp_path / "any.cbr", stdout_limit=1,
                  timeout=5)


def test_a_timed_out_tool_is_killed_not_left_behind(tmp_path):
    before = set(children(os.getpid()))
    with pytest.raises(CorruptArchiveError, match="did not finish"):
        tools.run(["sleep", "30"], tmp_path / "any.cbr", stdout_limit=10, timeout=0.3)
    assert set(children(os.getpid())) <= before
