"""Walk LANraragi's own OpenAPI description (shared/contracts/lanraragi):
every path+method answers one of its documented statuses, with a JSON body
that validates against the schema the description gives for that status.

One app and one scanned fixture library serve the whole module; the
operations run in the description's order, the destructive ones (delete an
archive, drop the database) last.
"""
from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from jsonschema import Draft202012Validator

from comicsrv.app import create_app
from comicsrv.extensions import db
from tests.conftest import COMIC_TREE, FIXTURE_ARCHIVES, _empty_tables

SPEC_PATH = Path(__file__).resolve().parents[3] / ".." / "shared" / "contracts" / "lanraragi" / "openapi.yaml"
if not SPEC_PATH.exists():  # the worktree sits elsewhere: the shared folder beside /work/main
    SPEC_PATH = Path("/work/shared/contracts/lanraragi/openapi.yaml")
SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")) if SPEC_PATH.exists() else None
METHODS = ("get", "put", "post", "delete")

# Run after every other operation: they remove what the others use.
LAST = [("delete", "/categories/{id}"), ("delete", "/tankoubons/{id}"), ("delete", "/stamps/{id}"),
        ("delete", "/archives/{id}"),
        ("post", "/database/restore"), ("post", "/database/drop")]

# Operations not served yet (each is an xfail until it is).
MISSING: set[tuple[str, str]] = set()


def _resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations() -> list[tuple[str, str]]:
    if SPEC is None:
        return []
    found = [(method, path) for path, item in SPEC["paths"].items()
             for method in METHODS if method in item]
    return [op for op in found if op not in LAST] + LAST


def response_validator(method: str, path: str, status: int):
    """The JSON schema documented for this status, or None (no JSON body)."""
    responses = SPEC["paths"][path][method].get("responses", {})
    documented = responses.get(str(status)) or responses.get("default")
    if documented is None:
        return None
    content = _resolve(documented).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return None
    # Refs inside are "#/components/...": give the schema the description's components.
    return Draft202012Validator({**_resolve(schema), "components": SPEC["components"]})


@pytest.fixture(scope="module")
def served(database_url, tmp_path_factory):
    """A scanned library of every fixture format, an admin's key, and ids
    for the path parameters."""
    root = tmp_path_factory.mktemp("walk")
    comics = root / "comics"
    for target, source in COMIC_TREE.items():
        dest = comics / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIXTURE_ARCHIVES / source, dest)
    app = create_app({"DATA_DIR": str(root / "data"), "DATABASE_URL": database_url,
                      "AUTO_MIGRATE": False, "SCHEDULER_ENABLED": False, "TESTING": True})
    with app.app_context():
        from comicsrv.library.libraries import create_library
        from comicsrv.library.scanner import SCAN_JOB
        from tests.factories import AdminFactory, CategoryFactory, api_key_for

        library = create_library("Comics", str(comics))
        job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
        assert job.state == "finished", job.error
        admin = AdminFactory(username="admin")
        key = api_key_for(admin, ["SystemAdmin"])
        headers = {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}
        client = app.test_client()
        archives = client.get("/api/archives", headers=headers).json
        arcid = next(a["arcid"] for a in archives if a["filename"] == "Captain Science #001")
        files = client.get(f"/api/archives/{arcid}/files", headers=headers).json
        category = CategoryFactory(name="Walk")
        ids = {"arcid": arcid, "archives": [a["arcid"] for a in archives],
               "page_path": unquote(files["pages"][0].split("path=", 1)[1]), "category": category.id}
        tank = client.put("/api/tankoubons", data={"name": "Walk tank"}, headers=headers)
        ids["tank"] = tank.json.get("tankoubon_id", "TANK_1700000000") if tank.is_json else \
            "TANK_1700000000"
        if tank.status_code == 200:
            client.put(f"/api/tankoubons/{ids['tank']}/{arcid}", headers=headers)
        job = client.post(f"/api/archives/{arcid}/files/thumbnails?force=true", headers=headers)
        ids["job"] = (job.json or {}).get("job", 1)
        stamp = client.put(f"/api/archives/{arcid}/stamps/1?content=Hi&position=1,2",
                           headers=headers)
        ids["stamp"] = stamp.json["stamp_id"] if stamp.status_code == 200 else "STAMP_0000000000"
        backup = client.post("/api/database/backup", headers=headers)
        ids["backup_job"] = (backup.json or {}).get("job", ids["job"]) if backup.is_json else ids["job"]
        ids["backup"] = client.get("/api/database/backup", headers=headers).get_data()
        yield app, client, headers, ids
        from comicsrv.library.watcher import stop_watcher

        from .conftest import drain_jobs
        stop_watcher(app)  # /shinobu/restart started one
        drain_jobs(app)
        _empty_tables()
        db.engine.dispose()


def _request(method: str, path: str, ids: dict) -> dict:
    """URL, query and body for one operation, from its documented parameters."""
    item = SPEC["paths"][path]
    op = item[method]
    values = {"id": ids["arcid"], "archive": ids["arcid"], "page": "1", "jobid": str(ids["job"]),
              "index": "0", "type": "metadata", "jobname": "build_stat_hashes"}
    if path.startswith("/categories/") and "{id}" in path:
        values["id"] = ids["category"]
    if path.startswith("/tankoubons/"):
        values["id"] = ids["tank"]
    if path.startswith("/database/backup/"):
        values["jobid"] = str(ids["backup_job"])
    if path.startswith("/stamps/"):
        values["id"] = ids["stamp"]
    query: dict = {}
    for param in (_resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])):
        if param["in"] == "query" and param.get("required"):
            query[param["name"]] = {"path": ids["page_path"], "page": "1", "title": "Chapter one",
                                    "args": "[]"}.get(param["name"], "1")
    url = "/api" + path
    for name, value in values.items():
        url = url.replace("{" + name + "}", value)
    kwargs: dict = {"query_string": query}
    if (method, path) == ("put", "/archives/upload"):
        data = (FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz").read_bytes()
        kwargs["data"] = {"file": (io.BytesIO(data[:-10] + b"0123456789"), "Walk upload.cbz")}
    elif (method, path) == ("post", "/database/restore"):
        kwargs["data"] = {"file": (io.BytesIO(ids["backup"]), "backup.json")}
    elif (method, path) in {("put", "/categories"), ("put", "/tankoubons")}:
        kwargs["data"] = {"name": "Walked"}
    elif (method, path) == ("put", "/tankoubons/{id}"):
        kwargs["json"] = {"metadata": {"name": "Walked tank", "summary": "", "tags": "a:b"},
                          "archives": [ids["arcid"]]}
    elif path.startswith("/plugins/") and method == "post":
        kwargs["query_string"] = {"plugin": "metron", "id": ids["arcid"], "arg": "1"}
    elif (method, path) == ("post", "/download_url"):
        kwargs["query_string"] = {"url": "http://127.0.0.1:9/comic.cbz"}
    return {"path": url, **kwargs}


@pytest.mark.skipif(SPEC is None, reason="LANraragi's openapi.yaml is not beside the repository")
@pytest.mark.parametrize("method,path", operations(), ids=lambda v: v)
def test_operation_answers_as_documented(served, method, path):
    if (method, path) in MISSING:
        pytest.xfail("not served yet")
    _app, client, headers, ids = served
    request = _request(method, path, ids)
    response = client.open(method=method.upper(), headers=headers, **request)
    documented = SPEC["paths"][path][method].get("responses", {})
    assert str(response.status_code) in documented or "default" in documented, (
        response.status_code, response.get_data(as_text=True)[:500])
    validator = response_validator(method, path, response.status_code)
    if validator is not None and response.status_code != 204:
        assert response.is_json, response.content_type
        errors = sorted(validator.iter_errors(response.json), key=str)
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_unknown_archive_api_path_answers_lanraragi_error_shape(served):
    _app, client, headers, _ids = served
    for url in ("/api/archives/nope/nothing/here", "/api/tankoubons/x/y/z/w",
                "/api/minion/1/nothing", "/api/shinobu/nothing"):
        response = client.get(url, headers=headers)
        assert response.status_code in (400, 404), url
        body = response.json
        assert body["success"] == 0 and isinstance(body["error"], str) and body["error"], body
        assert "operation" in body, body
