"""The container entrypoint drops root for PUID:PGID with UMASK.

Docker itself does not run on the test machines; the entrypoint is a plain
shell script, so it is run here directly, as root, the way the container
runs it.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).parents[2] / "docker" / "entrypoint.sh"
NOBODY = 65534  # exists on Debian: no user is created on the test machine


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv, as inside the container")
def test_entrypoint_runs_the_command_as_puid_pgid_with_umask(tmp_path):
    data = tmp_path / "config"
    data.mkdir()
    (data / "secret_key").write_text("x")
    env = {**os.environ, "PUID": str(NOBODY), "PGID": str(NOBODY), "UMASK": "027",
           "COMICSRV_DATA_DIR": str(data)}
    tmp_path.chmod(0o755)
    result = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", "id -u; id -g; umask"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(NOBODY), str(NOBODY), "0027"]
    assert data.stat().st_uid == NOBODY and (data / "secret_key").stat().st_uid == NOBODY


def test_entrypoint_without_root_just_runs_the_command(tmp_path):
    if os.geteuid() == 0:
        # As root the script would switch users; prove the plain path with
        # an unprivileged user instead.
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               "sh", str(ENTRYPOINT), "sh", "-c", "umask"]
    else:
        cmd = ["sh", str(ENTRYPOINT), "sh", "-c", "umask"]
    result = subprocess.run(cmd, env={**os.environ, "UMASK": "002"}, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0002"
