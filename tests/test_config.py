from pathlib import Path

import pytest

from comicsrv.config import ConfigError, load_config, normalize_url_base


def test_defaults_make_sqlite_in_data_dir(tmp_path):
    settings = load_config(tmp_path / "data", environ={})
    assert settings["PORT"] == 8090
    assert settings["HOST"] == "127.0.0.1"
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'data' / 'comicsrv.db'}"
    assert (tmp_path / "data").is_dir()


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path):
    (tmp_path / "config.yml").write_text("port: 9000\nhost: 0.0.0.0\nlog_level: DEBUG\n")
    settings = load_config(tmp_path, environ={"COMICSRV_PORT": "9100"})
    assert settings["PORT"] == 9100          # environment beats the file
    assert settings["HOST"] == "0.0.0.0"     # file beats the default
    assert settings["LOG_LEVEL"] == "DEBUG"


def test_overrides_beat_everything(tmp_path):
    settings = load_config(tmp_path, {"PORT": 1234}, environ={"COMICSRV_PORT": "9100"})
    assert settings["PORT"] == 1234


def test_data_dir_from_environment(tmp_path):
    settings = load_config(environ={"COMICSRV_DATA_DIR": str(tmp_path / "env-data")})
    assert settings["DATA_DIR"] == str((tmp_path / "env-data").resolve())


@pytest.mark.parametrize("value, expected", [("true", True), ("0", False), ("off", False),
                                             ("YES", True)])
def test_booleans_from_environment(tmp_path, value, expected):
    settings = load_config(tmp_path, environ={"COMICSRV_SCHEDULER_ENABLED": value})
    assert settings["SCHEDULER_ENABLED"] is expected


def test_bad_value_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="COMICSRV_PORT must be a whole number"):
        load_config(tmp_path, environ={"COMICSRV_PORT": "eighty"})
    with pytest.raises(ConfigError, match="PORT must be between"):
        load_config(tmp_path, environ={"COMICSRV_PORT": "70000"})


def test_role_and_job_timings_are_checked(tmp_path):
    assert load_config(tmp_path, environ={})["ROLE"] == "all"
    assert load_config(tmp_path, environ={"COMICSRV_ROLE": " Worker "})["ROLE"] == "worker"
    with pytest.raises(ConfigError, match="ROLE must be all, web or worker, got 'boss'"):
        load_config(tmp_path, environ={"COMICSRV_ROLE": "boss"})
    # A live job must never look dead between two of its heartbeats.
    with pytest.raises(ConfigError, match="at least twice JOB_HEARTBEAT_SECONDS"):
        load_config(tmp_path, environ={"COMICSRV_JOB_HEARTBEAT_SECONDS": "40"})
    with pytest.raises(ConfigError, match="JOB_WORKERS must be at least 1"):
        load_config(tmp_path, environ={"COMICSRV_JOB_WORKERS": "0"})


def test_broken_config_file_is_reported(tmp_path):
    (tmp_path / "config.yml").write_text("port: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path, environ={})


def test_secret_key_is_made_once_and_kept(tmp_path):
    first = load_config(tmp_path, environ={})["SECRET_KEY"]
    second = load_config(tmp_path, environ={})["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (Path(tmp_path) / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("raw, expected", [("", ""), ("/", ""), ("comics", "/comics"),
                                           ("/comics/", "/comics"), (" a/b ", "/a/b")])
def test_url_base_is_normalised(raw, expected):
    assert normalize_url_base(raw) == expected


def test_an_unknown_key_in_the_file_is_named_with_the_closest_one(tmp_path):
    (tmp_path / "config.yml").write_text("port: 8091\nlog_levle: DEBUG\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'log_levle'; did you mean 'log_level'\?"):
        load_config(tmp_path, environ={})
    (tmp_path / "config.yml").write_text("frobnicate: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, environ={})
    assert str(caught.value).endswith("unknown setting 'frobnicate'")


def test_a_bad_value_in_the_file_names_the_key_as_written(tmp_path):
    (tmp_path / "config.yml").write_text("scheduler_enabled: maybe\n")
    with pytest.raises(ConfigError, match=r"config.yml: scheduler_enabled must be true or false, "
                                          r"got 'maybe'"):
        load_config(tmp_path, environ={})
    (tmp_path / "config.yml").write_text("database_url: [1, 2]\n")
    with pytest.raises(ConfigError, match="database_url must be a text"):
        load_config(tmp_path, environ={})


def test_log_and_backup_folders_default_to_the_data_dir(tmp_path):
    settings = load_config(tmp_path, environ={})
    assert settings["LOG_DIR"] == str(tmp_path / "logs")
    assert settings["BACKUP_DIR"] == str(tmp_path / "backups")


def test_peek_settings_writes_nothing(tmp_path):
    from comicsrv.config import peek_settings

    (tmp_path / "config.yml").write_text("port: 9001\n")
    assert peek_settings(tmp_path, ("HOST", "PORT"), environ={}) == {"HOST": "127.0.0.1",
                                                                     "PORT": 9001}
    assert peek_settings(tmp_path, ("PORT",), environ={"COMICSRV_PORT": "9002"}) == {"PORT": 9002}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yml"]


def test_metadata_urls_from_the_file_and_the_environment(tmp_path):
    (tmp_path / "config.yml").write_text("metadata_urls:\n  Metron: http://mirror/api\n")
    assert load_config(tmp_path, environ={})["METADATA_URLS"] == {"metron": "http://mirror/api"}
    environ = {"COMICSRV_METADATA_URLS": "metron=http://a/api, comicvine=http://b/api"}
    assert load_config(tmp_path, environ=environ)["METADATA_URLS"] == {
        "metron": "http://a/api", "comicvine": "http://b/api"}
    with pytest.raises(ConfigError, match="COMICSRV_METADATA_URLS must be name=value pairs"):
        load_config(tmp_path, environ={"COMICSRV_METADATA_URLS": "http://a/api"})
    (tmp_path / "config.yml").write_text("metadata_urls: [http://a/api]\n")
    with pytest.raises(ConfigError, match="metadata_urls must be a mapping"):
        load_config(tmp_path, environ={})
