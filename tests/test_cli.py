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
    (("user", "create", "carol"), "Missing option '--password'"),
    (("user", "create", "carol", "--password", "short"), "at least 8 characters"),
    (("apikey", "create", "--user", "nobody"), "No user named 'nobody'"),
    (("library", "add", "Comics", "/definitely/not/here"), "does not exist"),
    (("serve", "--port", "notaport"), "'notaport' is not a valid integer"),
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


def test_library_add_and_list(data_dir, tmp_path):
    folder = tmp_path / "comics"
    folder.mkdir()
    added = run(data_dir, "library", "add", "Comics", str(folder))
    assert added.returncode == 0, added.stderr
    assert added.stdout.split("\t")[1:] == ["Comics", f"{folder}\n"]
    overlap = run(data_dir, "library", "add", "Inner", str(tmp_path))
    assert overlap.returncode == 2 and "overlaps library 'Comics'" in overlap.stderr
    listed = run(data_dir, "library", "list")
    assert listed.stdout == f"1\tComics\t{folder}\tenabled\n"


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
