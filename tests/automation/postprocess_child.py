"""A server process for the crash test: it starts post-processing one
download and stops dead at a chosen point of the transfer, where the test
kills it with SIGKILL.

    python -m tests.automation.postprocess_child DB_URL DATA_DIR DOWNLOAD_ID copy|delete MARKER

``copy``: inside the verified copy, after its first chunk reached the
temporary file. ``delete``: a move whose destination is complete, before its
source is deleted. The marker file is written when the point is reached.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


def _stop_here(marker: str) -> None:
    Path(marker).write_text("reached")
    time.sleep(600)  # until SIGKILL


def main(db_url: str, data_dir: str, download_id: str, point: str, marker: str) -> None:
    from comicsrv.app import create_app
    from comicsrv.automation import transfer

    if point == "copy":
        copy_verified = transfer.copy_verified

        def paused_copy(source, target, *, file_mode=None, on_progress=None):
            def progress(done, total):
                if done < total:
                    _stop_here(marker)
            return copy_verified(source, target, file_mode=file_mode, on_progress=progress)

        transfer.copy_verified = paused_copy
    elif point == "delete":
        transfer._remove_source = lambda src, target, mode: _stop_here(marker)
    else:
        raise SystemExit(f"unknown point {point}")
    app = create_app({"DATA_DIR": data_dir, "DATABASE_URL": db_url, "AUTO_MIGRATE": False,
                      "SCHEDULER_ENABLED": False})
    with app.app_context():
        from comicsrv.automation.postprocess import submit

        job_id = submit(int(download_id))
        app.extensions["comicsrv.jobs"].wait(job_id, 600)


if __name__ == "__main__":
    main(*sys.argv[1:6])
