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


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv, as inside the container")
def test_a_new_puid_pgid_takes_over_the_whole_data_dir(tmp_path):
    """unRAID runs as 99:100: after a change of PUID/PGID, or a file a
    `docker exec` as root left, everything in /config is the server's."""
    data = tmp_path / "config"
    for folder in ("logs", "backups", "cache/thumbnails/ab"):
        (data / folder).mkdir(parents=True)
    for name in ("comicsrv.db", "logs/comicsrv.log", "backups/b.zip", "cache/thumbnails/ab/c.jpg"):
        (data / name).write_text("x")
    os.symlink("/etc/passwd", data / "link")  # the link is re-owned, never its target
    tmp_path.chmod(0o755)

    def start(uid: int, gid: int) -> None:
        env = {**os.environ, "PUID": str(uid), "PGID": str(gid), "COMICSRV_DATA_DIR": str(data)}
        result = subprocess.run(["sh", str(ENTRYPOINT), "true"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    def owners() -> set[tuple[int, int]]:
        paths = [data, *data.rglob("*")]
        return {(p.lstat().st_uid, p.lstat().st_gid) for p in paths}

    start(NOBODY, NOBODY)
    assert owners() == {(NOBODY, NOBODY)}
    (data / "logs" / "comicsrv.log.1").write_text("by root")  # as a root `docker exec` would
    start(99, 100)
    assert owners() == {(99, 100)}
    assert os.stat("/etc/passwd").st_uid == 0


ROOT = Path(__file__).parents[2]


def test_the_dependency_layer_comes_from_setup_cfg():
    import configparser
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "docker" / "requirements.py"),
                             str(ROOT / "setup.cfg"), "postgres"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    wanted = [line.strip() for line in parser.get("options", "install_requires").splitlines()
              if line.strip() and not line.strip().startswith("#")]
    assert result.stdout.splitlines() == wanted + ["psycopg[binary]>=3.1"]


def test_the_dockerfile_installs_dependencies_before_the_source_and_runs_tini():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    copy_source = lines.index("COPY . /app")
    install_deps = next(i for i, line in enumerate(lines) if "requirements.txt" in line
                        and "pip install" in line)
    assert install_deps < copy_source
    assert any(line.startswith("COPY setup.cfg docker/requirements.py") for line in
               lines[:install_deps])
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/comicsrv-entrypoint"]' in lines
    assert any("tini" in line and "apt-get install" in line or "xargs apt-get install" in line
               and "tini" in line for line in lines)
    healthcheck = lines[lines.index(next(x for x in lines if x.startswith("HEALTHCHECK"))) + 1]
    assert healthcheck == 'CMD ["comicsrv", "healthcheck"]'
    env = " ".join(lines)
    assert "COMICSRV_HOST=0.0.0.0" in env and "COMICSRV_DATA_DIR=/config" in env


def test_compose_and_unraid_template_match_the_image():
    import xml.etree.ElementTree as ElementTree

    import yaml

    dockerfile = (ROOT / "Dockerfile").read_text()
    volumes = {"/config", "/comics", "/downloads"}
    assert all(v in dockerfile for v in volumes) and "EXPOSE 8090" in dockerfile

    compose = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())
    service = compose["services"]["comicsrv"]
    assert {v.split(":")[1] for v in service["volumes"]} == volumes
    assert service["ports"] == ["8090:8090"]
    assert {"PUID", "PGID", "UMASK", "TZ"} <= set(service["environment"])

    template = ElementTree.parse(ROOT / "docker" / "unraid" / "comicsrv.xml").getroot()
    assert template.tag == "Container" and template.get("version") == "2"
    configs = {c.get("Target"): c for c in template.iter("Config")}
    assert {t for t, c in configs.items() if c.get("Type") == "Path"} == volumes
    assert configs["8090"].get("Type") == "Port"
    assert (configs["PUID"].text, configs["PGID"].text) == ("99", "100")  # unRAID's nobody:users
    assert template.findtext("WebUI") == "http://[IP]:[PORT:8090]/"
