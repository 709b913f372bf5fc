"""``logs/comicsrv.log``: rotated by size, shared by processes, the same
records as the log API, never a secret."""
from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

from comicsrv.redact import MASK
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.factories import IndexerConfigFactory
from tests.processes import wait_until
from tests.serving import live_server  # noqa: F401

WRITER = textwrap.dedent("""
    import logging, sys
    from comicsrv.logfiles import SharedRotatingFileHandler
    handler = SharedRotatingFileHandler(sys.argv[1], max_bytes=4000, backup_count=50)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("w")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    for number in range(int(sys.argv[3])):
        log.info("%s line %05d %s", sys.argv[2], number, "x" * 40)
""")


def test_two_processes_share_one_rotating_file_without_losing_a_line(tmp_path):
    """Both write 600 lines into a file rotated every 4 kB: every line is in
    exactly one file, none past the size, and nothing goes to a file that
    was rotated away under a process."""
    path = tmp_path / "comicsrv.log"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "600"])
               for name in ("alpha", "beta")]
    for writer in writers:
        assert writer.wait(120) == 0
    files = sorted(tmp_path.glob("comicsrv.log*"))
    lines = [line for f in files for line in f.read_text().splitlines()]
    for name in ("alpha", "beta"):
        mine = sorted(line for line in lines if line.startswith(name))
        assert mine == [f"{name} line {n:05d} {'x' * 40}" for n in range(600)]
    assert len(lines) == 1200
    assert len(files) > 10
    # Rotation happens before a write would pass the size (a line may start a file).
    assert all(f.stat().st_size <= 4000 for f in files)


def test_rotation_keeps_the_configured_number_of_files(make_app, tmp_path):
    app = make_app(LOG_DIR=str(tmp_path / "logs"), LOG_FILE_MAX_MB=0.002, LOG_FILE_COUNT=2)
    log = logging.getLogger("comicsrv.test")
    for number in range(200):
        log.warning("record %d %s", number, "y" * 50)
    names = sorted(p.name for p in (tmp_path / "logs").glob("comicsrv.log*"))
    assert names == ["comicsrv.log", "comicsrv.log.1", "comicsrv.log.2"]
    assert "record 199" in (tmp_path / "logs" / "comicsrv.log").read_text()
    assert app.config["LOG_DIR"] == str(tmp_path / "logs")


def test_no_log_file_with_zero_files(make_app, tmp_path):
    from comicsrv.logfiles import file_handler

    make_app(LOG_DIR=str(tmp_path / "off"), LOG_FILE_COUNT=0)
    logging.getLogger("comicsrv.test").warning("nowhere")
    assert file_handler() is None and not (tmp_path / "off").exists()


def test_the_file_has_the_records_of_the_log_api_and_no_secret(app, admin_headers,
                                                              live_server):  # noqa: F811
    secret = "filesecret0123456789"
    with ReplayServer() as feed_server:
        feed_server.add("GET", "/feed", Recorded.text("down", status=500))
        feed = IndexerConfigFactory(
            name="Tracker", kind="rss", protocol="torrent", enable_rss=True, enable_search=False,
            settings={"url": f"{feed_server.url}/feed?t=rss&apikey={secret}",
                      "protocol": "torrent"})
        server = live_server()
        refreshed = server.post(f"/api/v1/rss/{feed.id}/refresh", headers=admin_headers)
        assert refreshed.status_code == 200
        # A key in the query string of a request, as OPDS apps and Mylar tools send it.
        assert server.get("/opds/v1.2/catalog", params={"apikey": secret}).status_code == 401
        assert server.get("/api", params={"cmd": "getIndex", "apikey": secret}).status_code
    log_file = server.data_dir / "logs" / "comicsrv.log"
    assert wait_until(lambda: "apikey=" in log_file.read_text(), 10)
    text = log_file.read_text()
    assert secret not in text and f"apikey={MASK}" in text
    # What the log API shows is in the file too, line for line.
    records = server.get("/api/v1/logs", headers=admin_headers, params={"limit": 2000}).json()
    for record in records["items"]:
        if "\n" not in record["message"]:
            assert f"{record['level']} {record['logger']}: {record['message']}" in text


def _start_of_the_log(server) -> str:
    """The log file up to the start's last line: on PostgreSQL the server
    may answer its readiness probe while it is still starting."""
    log_file = server.data_dir / "logs" / "comicsrv.log"
    assert wait_until(lambda: log_file.exists() and "comicsrv listening" in log_file.read_text(),
                      30)
    return log_file.read_text()


def test_the_first_start_says_how_to_make_the_admin_and_a_library(app, live_server):  # noqa: F811
    server = live_server()
    text = _start_of_the_log(server)
    assert "no admin yet: open http://127.0.0.1:" in text
    assert "comicsrv user create NAME --admin" in text
    assert "no library yet:" in text and "comicsrv library add NAME /path/to/comics" in text


def test_no_first_steps_once_there_is_an_admin_and_a_library(app, admin, live_server,
                                                             tmp_path):  # noqa: F811
    from comicsrv.library.libraries import create_library

    create_library("Comics", str(tmp_path))
    server = live_server()
    text = _start_of_the_log(server)
    assert "no admin yet" not in text and "no library yet" not in text


def test_scans_and_jobs_log_one_line_with_their_outcome(app, comic_tree, caplog):
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB

    caplog.set_level(logging.INFO, logger="comicsrv")
    library = create_library("Comics", str(comic_tree))
    app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    lines = [r.getMessage() for r in caplog.records if r.name == "comicsrv.jobs.runner"]
    assert len(lines) == 1
    assert lines[0].startswith("job 1 library.scan finished in ")
    assert lines[0].endswith(": library 'Comics': 8 files, 8 new, 2 unreadable")
    caplog.clear()
    app.extensions["comicsrv.jobs"].run_now("jobs.prune", {})
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records
            if r.name == "comicsrv.jobs.runner"] == ["deleted 0"]
