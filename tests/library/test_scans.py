"""One request-a-scan service (comicsrv.library.scans) for the CLI, the API,
the web UI, the scheduler and a new library: the same job, target and mode."""
from comicsrv.extensions import db
from comicsrv.library.libraries import update_library
from comicsrv.library.scans import active_scan, request_scan, run_scan
from comicsrv.library.schedule import schedule_library_scans
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Job


def _deep(library) -> None:
    library.default_scan_mode = "deep"
    db.session.commit()


def test_a_request_takes_the_librarys_default_mode_unless_one_is_asked(app, scanned_library):
    runner = app.extensions["comicsrv.jobs"]
    _deep(scanned_library)
    job_id = request_scan(scanned_library)
    assert active_scan(scanned_library.id).id == job_id
    assert request_scan(scanned_library, "normal") == job_id  # one scan of a library at a time
    job = db.session.get(Job, job_id)
    assert (job.type, job.target) == (SCAN_JOB, f"library:{scanned_library.id}")
    assert job.params == {"library_id": scanned_library.id, "deep": True}
    assert runner.wait(job_id, timeout=60)
    normal = db.session.get(Job, request_scan(scanned_library, "normal"))
    assert normal.params["deep"] is False
    assert runner.wait(normal.id, timeout=60)


def test_the_scan_on_start_is_in_the_librarys_default_mode(app, scanned_library):
    """It was always a normal scan, whatever the library's default (the bug)."""
    _deep(scanned_library)
    schedule_library_scans(app, on_start=True)
    job = active_scan(scanned_library.id)
    assert job is not None and job.params["deep"] is True
    assert app.extensions["comicsrv.jobs"].wait(job.id, timeout=60)


def test_a_scheduled_scan_takes_the_mode_the_library_has_when_it_fires(app, scanned_library):
    update_library(scanned_library, {"scan_cron": "0 3 * * *"})
    # The default changes after the schedule was made (in another process,
    # say, before this one rebuilt its schedules): the scan still follows it.
    _deep(scanned_library)
    scheduler = app.extensions["comicsrv.scheduler"]
    job_type, params, target = scheduler._scheduler.get_job(f"scan:{scanned_library.id}").args
    assert (job_type, params, target) == (SCAN_JOB, {"library_id": scanned_library.id},
                                          f"library:{scanned_library.id}")
    job = app.extensions["comicsrv.jobs"].run_now(job_type, params, target=target)
    assert job.state == "finished", job.error
    assert job.result["unchanged"] == 0  # deep: every file read again


def test_the_cli_scan_runs_in_the_default_mode_or_the_one_asked(app, scanned_library):
    _deep(scanned_library)
    assert run_scan(scanned_library).result["unchanged"] == 0
    assert run_scan(scanned_library, "normal").result["unchanged"] > 0
