"""The command line, run as a real process, as users and scripts run it."""
import json
import subprocess
import sys

import pytest
import yaml


def run(data_dir, *args, env=None):
    return subprocess.run([sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def test_user_and_apikey_create_print_only_the_key(data_dir, make_app):
    created = run(data_dir, "user", "create", "alice", "--password", "s3cret-pass", "--admin")
    assert created.returncode == 0, created.stderr
    key = run(data_dir, "apikey", "create", "--user", "alice", "--name", "script")
    assert key.returncode == 0, key.stderr
    lines = key.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("csrv_")
    # The key works against an app on that data directory.
    app = make_app(DATA_DIR=str(data_dir), DATABASE_URL=f"sqlite:///{data_dir / 'comicsrv.db'}")
    response = app.test_client().get("/api/v1/plugins", headers={"X-API-Key": lines[0]})
    assert response.status_code == 200


def test_duplicate_user_is_a_one_line_error(data_dir):
    assert run(data_dir, "user", "create", "bob", "--password", "long-enough").returncode == 0
    again = run(data_dir, "user", "create", "bob", "--password", "long-enough")
    assert again.returncode == 2
    assert again.stderr.strip() == "comicsrv: error: A user named 'bob' already exists"


@pytest.mark.parametrize("args, message", [
    (("user", "create", "carol"), "no password: give --password"),
    (("user", "create", "carol", "--password", "short"), "at least 8 characters"),
    (("apikey", "create", "--user", "nobody"), "No user named 'nobody'"),
    (("library", "add", "Comics", "/definitely/not/here"), "does not exist"),
    (("serve", "--port", "notaport"), "'notaport' is not a valid integer"),
    (("serve", "--role", "boss"), "'boss' is not one of 'all', 'web', 'worker'"),
    (("openapi", "--format", "xml"), "'xml' is not one of"),
    (("frobnicate",), "No such command 'frobnicate'"),
])
def test_bad_arguments_exit_2_with_one_line_and_no_traceback(data_dir, args, message):
    result = run(data_dir, *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("comicsrv: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_environment_setting_is_a_one_line_error(data_dir):
    import os

    result = run(data_dir, "library", "list", env={**os.environ, "COMICSRV_PORT": "many"})
    assert result.returncode == 2
    assert result.stderr.strip() == "comicsrv: error: COMICSRV_PORT must be a whole number, got 'many'"


@pytest.mark.parametrize("role", ["web", "worker"])
def test_serve_refuses_a_multi_process_role_on_sqlite(data_dir, free_port, role):
    """A web process with SQLite would queue jobs that nothing runs: the
    roles need PostgreSQL, and serve says so instead of starting."""
    result = run(data_dir, "serve", "--role", role, "--port", str(free_port))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"comicsrv: error: --role {role} needs PostgreSQL")
    assert "Traceback" not in result.stderr


def test_library_add_and_list(data_dir, tmp_path):
    folder = tmp_path / "comics"
    folder.mkdir()
    added = run(data_dir, "library", "add", "Comics", str(folder))
    assert added.returncode == 0, added.stderr
    assert added.stdout.split("\t")[1:] == ["Comics", f"{folder}\n"]
    overlap = run(data_dir, "library", "add", "Inner", str(tmp_path))
    assert overlap.returncode == 2 and "overlaps library 'Comics'" in overlap.stderr
    listed = run(data_dir, "library", "list")
    assert listed.stdout == f"1\tComics\t{folder}\tenabled\twatch:auto\n"


def test_openapi_json_and_yaml_are_valid_openapi_3(data_dir, tmp_path):
    from openapi_spec_validator import validate

    as_json = run(data_dir, "openapi")
    assert as_json.returncode == 0, as_json.stderr
    spec = json.loads(as_json.stdout)
    validate(spec)
    assert spec["openapi"].startswith("3.")
    out = tmp_path / "openapi.yaml"
    assert run(data_dir, "openapi", "--format", "yaml", "--output", str(out)).returncode == 0
    assert yaml.safe_load(out.read_text()) == spec


def test_db_upgrade_on_an_empty_data_dir(data_dir):
    result = run(data_dir, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    import sqlite3

    with sqlite3.connect(data_dir / "comicsrv.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert {"books", "users", "jobs", "settings"} <= tables
    from alembic.script import ScriptDirectory

    from comicsrv.database import migrations_dir

    assert version == ScriptDirectory(migrations_dir()).get_current_head()


def test_version_and_help(data_dir):
    assert "comicsrv, version" in run(data_dir, "--version").stdout
    assert "serve" in run(data_dir, "--help").stdout


# --- passwords, users, keys, libraries ---------------------------------------------

def run_in_terminal(data_dir, *args, typed: list[str]) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its controlling terminal,
    typing ``typed`` line by line at each prompt; returns the exit code and
    everything the terminal showed."""
    import os
    import pty
    import select
    import signal
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its terminal
        os.execv(sys.executable, [sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir),
                                  *args])
    shown = b""
    answered = 0  # where the text after the last answer starts
    lines = list(typed)
    deadline = time.monotonic() + 60
    exited = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
            # A new prompt, not the newline the last answer left after the
            # old one (answering that early echoes the line and loses it).
            if lines and shown[answered:].strip().endswith(b":"):
                os.write(fd, lines.pop(0).encode() + b"\n")
                answered = len(shown)
        else:
            exited = os.waitpid(pid, os.WNOHANG)
            if exited != (0, 0):
                break
    grace = time.monotonic() + 10  # the terminal closed: let the command end
    while exited in (None, (0, 0)) and time.monotonic() < grace:
        exited = os.waitpid(pid, os.WNOHANG)
        if exited == (0, 0):
            time.sleep(0.05)
    if exited == (0, 0):  # still waiting at a prompt: kill it, never hang
        os.kill(pid, signal.SIGKILL)
        exited = os.waitpid(pid, 0)
    status = exited[1]
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_user_create_asks_for_the_password_twice_without_echo(data_dir):
    code, shown = run_in_terminal(data_dir, "user", "create", "dora", "--admin",
                                  typed=["hidden-pass-1", "hidden-pass-1"])
    assert code == 0, shown
    assert "Password:" in shown and "Repeat for confirmation:" in shown
    assert "hidden-pass-1" not in shown  # never echoed
    assert "dora\tadmin\tactive" in run(data_dir, "user", "list").stdout


def test_passwords_from_standard_input_and_passwd(data_dir, make_app):
    created = subprocess.run([sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir),
                              "user", "create", "erin"], input="first-password\n",
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    changed = subprocess.run([sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir),
                              "user", "passwd", "erin"], input="second-password\n",
                             capture_output=True, text=True, timeout=120)
    assert changed.returncode == 0 and changed.stderr.strip() == "password of erin changed"
    from comicsrv.auth.login import password_login

    app = make_app(DATA_DIR=str(data_dir), DATABASE_URL=f"sqlite:///{data_dir / 'comicsrv.db'}")
    with app.test_request_context():
        assert password_login("erin", "second-password").username == "erin"
    unknown = run(data_dir, "user", "passwd", "nobody", "--password", "whatever-long")
    assert unknown.returncode == 2 and unknown.stderr.strip() == (
        "comicsrv: error: No user named 'nobody'")


def test_apikey_list_shows_no_key_and_revoke_takes_it_away(data_dir, make_app):
    assert run(data_dir, "user", "create", "fay", "--password", "long-enough").returncode == 0
    key = run(data_dir, "apikey", "create", "--user", "fay", "--name", "tablet").stdout.strip()
    listed = run(data_dir, "apikey", "list").stdout
    key_id, prefix, owner, name = listed.split("\t")[:4]
    assert (owner, name) == ("fay", "tablet") and key.startswith(prefix.rstrip("."))
    assert key not in listed
    app = make_app(DATA_DIR=str(data_dir), DATABASE_URL=f"sqlite:///{data_dir / 'comicsrv.db'}")
    assert app.test_client().get("/api/v1/libraries", headers={"X-API-Key": key}).status_code == 200
    revoked = run(data_dir, "apikey", "revoke", prefix.split("_")[1])
    assert revoked.returncode == 0, revoked.stderr
    assert run(data_dir, "apikey", "list").stdout == ""
    # On SQLite nothing carries another process's revocation to this app's
    # principal cache but the entries' lifetime (PRINCIPAL_CACHE_SECONDS):
    # let them expire now rather than count on the two runs above being slow.
    app.extensions["comicsrv.principals"].clear()
    assert app.test_client().get("/api/v1/libraries", headers={"X-API-Key": key}).status_code == 401
    assert run(data_dir, "apikey", "revoke", key_id).returncode == 2


def test_library_rename_and_remove(data_dir, tmp_path):
    folder = tmp_path / "comics"
    folder.mkdir()
    (folder / "keep.cbz").write_bytes(b"not even a comic")
    assert run(data_dir, "library", "add", "Comics", str(folder), "--watch", "poll").returncode == 0
    renamed = run(data_dir, "library", "rename", "Comics", "Funnies")
    assert renamed.returncode == 0 and renamed.stdout.split("\t")[1] == "Funnies"
    assert run(data_dir, "library", "list").stdout.endswith("\tenabled\twatch:poll\n")
    unconfirmed = run(data_dir, "library", "remove", "Funnies")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    removed = run(data_dir, "library", "remove", "Funnies", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert run(data_dir, "library", "list").stdout == ""
    assert (folder / "keep.cbz").exists()
    missing = run(data_dir, "library", "remove", "Funnies", "--yes")
    assert missing.returncode == 2 and "No library named 'Funnies'" in missing.stderr


# --- one-line errors from a real process -------------------------------------------

def _one_line(result, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("comicsrv: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_unknown_key_in_config_yml_names_it_and_suggests_the_closest(data_dir):
    data_dir.mkdir()
    (data_dir / "config.yml").write_text("prot: 8091\n")
    result = run(data_dir, "library", "list")
    _one_line(result, 2, str(data_dir / "config.yml"), "unknown setting 'prot'",
              "did you mean 'port'?")


def test_invalid_value_in_config_yml_names_the_key(data_dir):
    data_dir.mkdir()
    (data_dir / "config.yml").write_text("port: 80a\nlog_level: INFO\n")
    result = run(data_dir, "serve")
    _one_line(result, 2, "config.yml: port must be a whole number, got '80a'")


def test_an_unwritable_data_dir_is_one_line():
    import os
    import shutil
    import tempfile
    from pathlib import Path

    top = Path(tempfile.mkdtemp(prefix="comicsrv-ro-"))  # reachable by any user
    try:
        top.chmod(0o755)
        data_dir = top / "readonly"
        data_dir.mkdir()
        data_dir.chmod(0o555)
        args = [sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir), "library", "list"]
        if os.geteuid() == 0:  # root writes anywhere: run as nobody, as a NAS user would
            args = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args]
        result = subprocess.run(args, capture_output=True, text=True, timeout=120,
                                env={**os.environ, "HOME": str(top)})
        _one_line(result, 1, f"the data directory {data_dir} is not writable by user")
        assert sorted(p.name for p in data_dir.iterdir()) == []
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_port_in_use_is_one_line(data_dir):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(data_dir, "serve", "--port", str(port))
    _one_line(result, 1, f"cannot listen on 127.0.0.1:{port}: the port is already in use")


def test_a_vanished_library_folder_is_one_line(data_dir, tmp_path):
    folder = tmp_path / "share"
    folder.mkdir()
    assert run(data_dir, "library", "add", "NAS", str(folder)).returncode == 0
    folder.rmdir()
    result = run(data_dir, "scan")
    _one_line(result, 1, f"library NAS: library folder {folder} is missing or unreadable",
              "nothing was marked missing")
    log = (data_dir / "logs" / "comicsrv.log").read_text()
    assert "WARNING comicsrv.jobs.runner: job 1 library.scan failed" in log
    assert "Traceback" not in log


def test_a_database_that_cannot_be_reached_is_one_line(data_dir):
    import os

    env = {**os.environ, "COMICSRV_DATABASE_URL": "postgresql://comicsrv:pw@127.0.0.1:9/nowhere"}
    result = run(data_dir, "user", "list", env=env)
    _one_line(result, 1, "cannot connect to the database postgresql://comicsrv:********@127.0.0.1:9")
    assert ":pw@" not in result.stderr


def test_healthcheck_follows_the_configured_port(data_dir, free_port):
    import os
    import signal

    data_dir.mkdir()
    (data_dir / "config.yml").write_text(f"port: {free_port}\n")
    assert run(data_dir, "healthcheck").returncode == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
    server = subprocess.Popen([sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir),
                               "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        from tests.processes import wait_until

        assert wait_until(lambda: run(data_dir, "healthcheck", env=env).returncode == 0, 60)
        assert run(data_dir, "healthcheck", env=env).stdout == "ok\n"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    before = sorted(p.name for p in data_dir.iterdir())
    stopped = run(data_dir, "healthcheck", env=env)
    assert stopped.returncode == 1 and f"127.0.0.1:{free_port}/ping" in stopped.stderr
    assert sorted(p.name for p in data_dir.iterdir()) == before  # it wrote nothing
