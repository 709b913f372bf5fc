"""The multi-process Compose example (docker/scaling) stays consistent with
comicsrv: Docker does not run on the test machines, so the files are read
and checked against the settings and roles they name."""
import re
from pathlib import Path

import yaml

from comicsrv.config import DEFAULTS, ENV_PREFIX

EXAMPLE = Path(__file__).parents[2] / "docker" / "scaling"


def _compose() -> dict:
    return yaml.safe_load((EXAMPLE / "docker-compose.yml").read_text())


def test_two_web_processes_one_worker_and_postgres():
    services = _compose()["services"]
    roles = {name: service["command"][-1] for name, service in services.items()
             if service.get("command", [None])[0] == "comicsrv"}
    assert roles == {"web1": "web", "web2": "web", "worker": "worker"}
    assert all(services[name]["command"][:3] == ["comicsrv", "serve", "--role"] for name in roles)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["proxy"]["ports"] == ["8090:8090"]  # the one published port
    assert not any("ports" in services[name] for name in roles)


def test_every_process_shares_database_and_secret_key_and_trusts_only_the_proxy():
    compose = _compose()
    services = compose["services"]
    environments = [services[name]["environment"] for name in ("web1", "web2", "worker")]
    assert all(env == environments[0] for env in environments)
    names = {key[len(ENV_PREFIX):] for key in environments[0] if key.startswith(ENV_PREFIX)}
    assert names <= set(DEFAULTS), names - set(DEFAULTS)  # only real settings
    assert {"DATABASE_URL", "SECRET_KEY", "TRUSTED_PROXIES"} <= names
    proxy = services["proxy"]["networks"]["comicsrv"]["ipv4_address"]
    assert environments[0]["COMICSRV_TRUSTED_PROXIES"] == proxy
    subnet = compose["networks"]["comicsrv"]["ipam"]["config"][0]["subnet"]
    assert proxy.rsplit(".", 1)[0] == subnet.split("/")[0].rsplit(".", 1)[0]


def test_the_proxy_balances_the_web_containers_and_never_buffers_event_streams():
    conf = (EXAMPLE / "nginx.conf").read_text()
    upstream = re.search(r"upstream comicsrv_web \{(.*?)\}", conf, re.S).group(1)
    assert re.findall(r"server (\w+):8090", upstream) == ["web1", "web2"]
    assert "proxy_buffering off;" in conf and "proxy_read_timeout 1h;" in conf
    assert "listen 8090;" in conf
