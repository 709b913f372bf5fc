"""The ``comicsrv`` command line.

    comicsrv [--data-dir DIR] serve [--host H] [--port P] [--role all|web|worker]
    comicsrv [--data-dir DIR] library add NAME PATH [--watch MODE] | library list
    comicsrv [--data-dir DIR] library rename NAME NEW_NAME | library remove NAME [--yes]
    comicsrv [--data-dir DIR] scan [--library NAME] [--deep]
    comicsrv [--data-dir DIR] user create USERNAME [--password P] [--admin]
    comicsrv [--data-dir DIR] user passwd USERNAME [--password P] | user list
    comicsrv [--data-dir DIR] apikey create --user USERNAME [--name N]
    comicsrv [--data-dir DIR] apikey list [--user USERNAME] | apikey revoke ID
    comicsrv [--data-dir DIR] backup create | backup list | backup restore FILE [--yes]
    comicsrv [--data-dir DIR] openapi [--output F] [--format json|yaml]
    comicsrv [--data-dir DIR] db upgrade
    comicsrv [--data-dir DIR] healthcheck

Scripts and docs depend on these forms. Errors are one line on stderr with
exit code 2 (bad arguments or input) or 1 (the operation failed); never a
traceback (an unexpected one goes to the log file, named in the line).
A password left out is asked for at the terminal (twice, hidden), or read
as one line from standard input when that is not a terminal
(``printf '%s\\n' "$PW" | comicsrv user passwd alice``). Commands other than
``serve`` show only errors of the log on the console; the log file
(``<data dir>/logs/comicsrv.log``) gets every record.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click


# The database the command works on, for error messages (set by AppHolder).
_database_url: str | None = None


class AppHolder:
    """Creates the app on first use, so ``--help`` and bad arguments never
    touch the data directory."""

    def __init__(self, data_dir: str | None):
        self.data_dir = data_dir
        self._app = None

    def app(self, **overrides: Any):
        global _database_url
        if self._app is None:
            from .app import create_app
            from .config import load_config

            _database_url = load_config(self.data_dir, overrides or None)["DATABASE_URL"]
            self._app = create_app(overrides or None, data_dir=self.data_dir)
        return self._app


def read_password(given: str | None, *, confirm: bool = True) -> str:
    """``--password`` when given; else asked at the terminal (hidden, twice),
    or one line of standard input when that is not a terminal."""
    if given is not None:
        return given
    if sys.stdin is not None and sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    password = line.rstrip("\r\n")
    if not password:
        raise click.UsageError("no password: give --password, type it at the prompt, or "
                               "send it as one line on standard input")
    return password


def _confirm(question: str, yes: bool) -> None:
    """Go on with ``--yes`` or a "y" at the terminal; refuse otherwise."""
    if yes:
        return
    if sys.stdin is None or not sys.stdin.isatty():
        raise click.UsageError(f"{question} Add --yes to confirm")
    if not click.confirm(question, default=False):
        raise click.exceptions.Abort()


pass_holder = click.make_pass_decorator(AppHolder)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data directory (database, config.yml, caches). "
                   "Default: $COMICSRV_DATA_DIR or ~/.local/share/comicsrv.")
@click.version_option(package_name="comicsrv", prog_name="comicsrv")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """comicsrv: a self-hosted comic server and *arr."""
    ctx.obj = AppHolder(data_dir)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to listen on (default 8090).")
@click.option("--role", type=click.Choice(["all", "web", "worker"]), default=None,
              help="all: HTTP, jobs and the scheduler in one process (the default, and the "
                   "only choice on SQLite); web: HTTP only; worker: jobs and the scheduler, "
                   "HTTP only for /ping and /api/v1/health. Default: $COMICSRV_ROLE or all.")
@pass_holder
def serve(holder: AppHolder, host: str | None, port: int | None, role: str | None) -> None:
    """Run the server (gevent WSGI) with the scheduler."""
    from .server import serve as run_server

    overrides = {k: v for k, v in (("HOST", host), ("PORT", port), ("ROLE", role))
                 if v is not None}
    run_server(holder.app(**overrides))


# --- library ------------------------------------------------------------------

@cli.group()
def library() -> None:
    """Manage libraries."""


WATCH_CHOICES = ("auto", "native", "poll", "off")


@library.command("add")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, file_okay=False, resolve_path=True))
@click.option("--watch", "watch_mode", type=click.Choice(WATCH_CHOICES), default="auto",
              show_default=True, help="Watch the folder for changes: auto polls network "
                                      "shares and uses inotify elsewhere; off: only scans.")
@pass_holder
def library_add(holder: AppHolder, name: str, path: str, watch_mode: str) -> None:
    """Add a library NAME at the folder PATH."""
    from .library.libraries import create_library

    with holder.app().app_context():
        lib = create_library(name, path, watch_mode=watch_mode)
        click.echo(f"{lib.id}\t{lib.name}\t{lib.path}")


@library.command("list")
@pass_holder
def library_list(holder: AppHolder) -> None:
    """List libraries: id, name, path, enabled, watch mode."""
    from .extensions import db
    from .models import Library

    with holder.app().app_context():
        for lib in db.session.execute(db.select(Library).order_by(Library.name)).scalars():
            click.echo(f"{lib.id}\t{lib.name}\t{lib.path}\t"
                       f"{'enabled' if lib.enabled else 'disabled'}\twatch:{lib.watch_mode}")


def _library_named(name: str):
    from .errors import NotFound
    from .extensions import db
    from .models import Library

    library = db.session.execute(db.select(Library).where(Library.name == name)).scalar()
    if library is None:
        raise NotFound(f"No library named {name!r}")
    return library


@library.command("rename")
@click.argument("name")
@click.argument("new_name")
@pass_holder
def library_rename(holder: AppHolder, name: str, new_name: str) -> None:
    """Rename the library NAME to NEW_NAME (its folder stays where it is)."""
    from .library.libraries import update_library

    with holder.app().app_context():
        library = update_library(_library_named(name), {"name": new_name})
        click.echo(f"{library.id}\t{library.name}\t{library.path}")


@library.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@pass_holder
def library_remove(holder: AppHolder, name: str, yes: bool) -> None:
    """Remove the library NAME from comicsrv, with its books' rows and
    everyone's reading progress in it. Its files are not touched."""
    from sqlalchemy import func, select

    from .extensions import db
    from .library.libraries import delete_library
    from .models import Book

    with holder.app().app_context():
        library = _library_named(name)
        books = db.session.execute(select(func.count(Book.id)).where(
            Book.library_id == library.id)).scalar_one()
        _confirm(f"Remove library {library.name!r} ({books} books) and everyone's reading "
                 "progress in it? The files stay.", yes)
        delete_library(library)
        click.echo(f"removed library {name} ({books} books; the files are untouched)", err=True)


# --- scan ---------------------------------------------------------------------

@cli.command()
@click.option("--library", "library_name", default=None, help="Only this library (by name).")
@click.option("--deep", is_flag=True,
              help="Re-read every file, changed or not (default: each library's scan mode).")
@pass_holder
def scan(holder: AppHolder, library_name: str | None, deep: bool) -> None:
    """Scan libraries now and print what changed."""
    from . import services
    from .library.libraries import libraries_to_scan
    from .lifecycle import freeze_startup_objects
    from .library.scans import run_scan

    app = holder.app()
    freeze_startup_objects()  # as the server does: a scan's writing collects less
    with app.app_context():
        failed = False
        for lib in libraries_to_scan(library_name):
            job = run_scan(lib, "deep" if deep else None)
            ids_job = (job.result or {}).get("archive_ids_job")
            if ids_job is not None:  # this process may end before it runs otherwise
                click.echo(f"{lib.name}: computing archive ids ...", err=True)
                services.jobs().wait(ids_job)
            summary = ", ".join(f"{k} {v}" for k, v in (job.result or {}).items()
                                if isinstance(v, (int, float)))
            if job.state == "finished":
                click.echo(f"{lib.name}: {job.state}" + (f" ({summary})" if summary else ""))
                continue
            failed = True
            reason = (job.error or job.state).partition(": ")[2] or job.error or job.state
            click.echo(f"comicsrv: error: library {lib.name}: {reason}", err=True)
        if failed:
            sys.exit(1)


# --- users and keys -----------------------------------------------------------

@cli.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("username")
@click.option("--password", default=None,
              help="At least 8 characters. Left out: asked for (or read from standard input).")
@click.option("--admin", is_flag=True, help="Give the user every permission.")
@pass_holder
def user_create(holder: AppHolder, username: str, password: str | None, admin: bool) -> None:
    """Create a user."""
    from .auth.users import create_user

    app = holder.app()
    password = read_password(password)
    with app.app_context():
        created = create_user(username, password, is_admin=admin)
        click.echo(f"created user {created.username}" + (" (admin)" if admin else ""), err=True)


@user.command("passwd")
@click.argument("username")
@click.option("--password", default=None,
              help="The new password. Left out: asked for (or read from standard input).")
@pass_holder
def user_passwd(holder: AppHolder, username: str, password: str | None) -> None:
    """Set a user's password; their logins elsewhere end (API keys stay valid)."""
    from sqlalchemy import select

    from .auth.users import update_user
    from .errors import NotFound
    from .extensions import db
    from .models import User

    app = holder.app()
    with app.app_context():
        found = db.session.execute(select(User).where(User.username == username)).scalar()
        if found is None:
            raise NotFound(f"No user named {username!r}")
        update_user(found, {"password": read_password(password)})
        click.echo(f"password of {username} changed", err=True)


@user.command("list")
@pass_holder
def user_list(holder: AppHolder) -> None:
    """List users: id, name, admin or user, active or disabled, last login."""
    from sqlalchemy import select

    from .extensions import db
    from .models import User

    with holder.app().app_context():
        for row in db.session.execute(select(User).order_by(User.username)).scalars():
            last = row.last_login_at.strftime("%Y-%m-%d %H:%M") if row.last_login_at else "never"
            click.echo(f"{row.id}\t{row.username}\t{'admin' if row.is_admin else 'user'}\t"
                       f"{'active' if row.is_active else 'disabled'}\t{last}")


@cli.group()
def apikey() -> None:
    """Manage API keys."""


@apikey.command("create")
@click.option("--user", "username", required=True, help="Owner of the key.")
@click.option("--name", default="cli", show_default=True, help="A label for the key.")
@pass_holder
def apikey_create(holder: AppHolder, username: str, name: str) -> None:
    """Create an API key and print it (only the key, on stdout)."""
    from .auth.users import create_api_key

    with holder.app().app_context():
        _, key = create_api_key(username, name)
        click.echo(key)


@apikey.command("list")
@click.option("--user", "username", default=None, help="Only this user's keys.")
@pass_holder
def apikey_list(holder: AppHolder, username: str | None) -> None:
    """List API keys (never the keys themselves): id, prefix, user, name,
    created, last used, expires."""
    from sqlalchemy import select

    from .extensions import db
    from .models import ApiKey, User

    def when(moment) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"

    with holder.app().app_context():
        query = (select(ApiKey, User.username).join(User, User.id == ApiKey.user_id)
                 .order_by(User.username, ApiKey.id))
        if username is not None:
            query = query.where(User.username == username)
        for key, owner in db.session.execute(query):
            click.echo(f"{key.id}\tcsrv_{key.key_prefix}_...\t{owner}\t{key.name}\t"
                       f"{when(key.created_at)}\t{when(key.last_used_at)}\t"
                       f"{when(key.expires_at)}")


@apikey.command("revoke")
@click.argument("key")
@pass_holder
def apikey_revoke(holder: AppHolder, key: str) -> None:
    """Revoke an API key, named by its id or its prefix (as listed)."""
    from sqlalchemy import select

    from .errors import BadRequest, NotFound
    from .extensions import db
    from .models import ApiKey

    prefix = key.removeprefix("csrv_").split("_")[0]
    with holder.app().app_context():
        if key.isdigit():
            rows = [db.session.get(ApiKey, int(key))] if db.session.get(ApiKey, int(key)) else []
        else:
            rows = list(db.session.execute(
                select(ApiKey).where(ApiKey.key_prefix == prefix)).scalars())
        if not rows:
            raise NotFound(f"No API key {key!r}")
        if len(rows) > 1:
            raise BadRequest(f"{len(rows)} keys have the prefix {prefix!r}; name one by its id")
        db.session.delete(rows[0])
        db.session.commit()
        click.echo(f"revoked API key {rows[0].id} ({rows[0].name})", err=True)


# --- backups ------------------------------------------------------------------

@cli.group()
def backup() -> None:
    """Back up and restore the database and the configuration."""


@backup.command("create")
@pass_holder
def backup_create(holder: AppHolder) -> None:
    """Make a backup now and print its path."""
    from .backup import create_backup

    with holder.app().app_context():
        info = create_backup("manual")
        click.echo(str(info.path))


@backup.command("list")
@pass_holder
def backup_list(holder: AppHolder) -> None:
    """List backups, newest first: name, time (UTC), kind, size, schema, books."""
    from .backup import list_backups

    with holder.app(AUTO_MIGRATE=False).app_context():
        for info in list_backups():
            click.echo(f"{info.name}\t{info.created_at:%Y-%m-%d %H:%M:%S}\t{info.kind}\t"
                       f"{info.size}\t{info.schema_revision}\t"
                       f"{(info.tables or {}).get('books', '-')}")


@backup.command("restore")
@click.argument("file")
@click.option("--yes", is_flag=True, help="Do not ask.")
@pass_holder
def backup_restore(holder: AppHolder, file: str, yes: bool) -> None:
    """Restore FILE (a path, or a name from `backup list`): the database, then
    config.yml and secret_key. The current database is backed up first. The
    server must be stopped (or restore through the web UI or the API)."""
    from pathlib import Path

    from .backup import find_backup, read_manifest, restore_backup
    from .errors import Conflict
    from .lifecycle import server_running

    # No migration on opening: the database may be damaged or newer.
    app = holder.app(AUTO_MIGRATE=False)
    if server_running(app.config["DATA_DIR"]):
        raise Conflict("comicsrv serve is running on this data directory: stop it first, "
                       "or restore through the web UI or the API (which restarts it)")
    with app.app_context():
        path = Path(file)
        if not path.is_file() and "/" not in file:
            path = find_backup(file).path
        if not path.is_file():
            raise click.BadParameter(f"{file} is not a file", param_hint="FILE")
        manifest = read_manifest(path)
        _confirm(f"Replace the database with the backup of {manifest.get('created_at')}?", yes)
        result = restore_backup(path)
    click.echo(f"restored {result.restored} (schema {result.from_revision} -> "
               f"{result.to_revision})"
               + (f"; the database before is in {result.safety_backup}"
                  if result.safety_backup else "")
               + (f"; restored {', '.join(result.config_files)}" if result.config_files else ""),
               err=True)


# --- health -------------------------------------------------------------------

@cli.command()
@click.option("--timeout", type=float, default=4.0, show_default=True)
@click.pass_context
def healthcheck(ctx: click.Context, timeout: float) -> None:
    """Exit 0 when the server of this data directory answers /ping (Docker's
    HEALTHCHECK). Reads HOST and PORT as `serve` does; writes nothing."""
    import urllib.request

    from .config import peek_settings

    settings = peek_settings(ctx.obj.data_dir, ("HOST", "PORT"))
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(settings["HOST"],
                                                                      settings["HOST"])
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{settings['PORT']}/ping"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            ok = answer.status == 200
    except OSError as exc:
        click.echo(f"comicsrv: unhealthy: {url}: {getattr(exc, 'reason', exc)}", err=True)
        sys.exit(1)
    if not ok:
        click.echo(f"comicsrv: unhealthy: {url} answered {answer.status}", err=True)
        sys.exit(1)
    click.echo("ok")


# --- openapi, db --------------------------------------------------------------

@cli.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json",
              show_default=True)
@pass_holder
def openapi(holder: AppHolder, output: str | None, fmt: str) -> None:
    """Print the OpenAPI 3 document of every API surface."""
    app = holder.app(AUTO_MIGRATE=False)
    with app.app_context():
        spec = app.extensions["comicsrv.api"].spec.to_dict()
    if fmt == "json":
        text = json.dumps(spec, indent=2, sort_keys=False) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_holder
def db_upgrade(holder: AppHolder, revision: str) -> None:
    """Apply schema migrations."""
    from .database import upgrade

    app = holder.app(AUTO_MIGRATE=False)
    upgrade(app, revision)
    click.echo(f"database at {revision}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors, exit 2 for bad input."""
    argv = sys.argv[1:] if argv is None else argv
    if "serve" in argv:
        # Before anything imports ssl, socket or threading.
        from gevent import monkey

        monkey.patch_all()
    else:
        from .logfiles import quiet_console

        quiet_console()
    from .config import ConfigError
    from .errors import DomainError

    try:
        cli.main(args=argv, prog_name="comicsrv", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("comicsrv: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        message = exc.format_message().replace("\n", " ")
        click.echo(f"comicsrv: error: {message}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"comicsrv: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (DomainError, ConfigError) as exc:
        click.echo(f"comicsrv: error: {exc}", err=True)
        sys.exit(1 if getattr(exc, "status", 400) >= 500 else 2)
    except OSError as exc:
        click.echo(f"comicsrv: error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        click.echo(f"comicsrv: error: {_describe(exc)}", err=True)
        sys.exit(1)


def _describe(exc: Exception) -> str:
    """One line for an error no command handled: what the database said, or
    the exception with its traceback sent to the log file."""
    import sqlite3

    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from .redact import mask_text

    where = mask_text(_database_url or "the database")
    if where.startswith("sqlite:///"):
        where = where[len("sqlite:///"):]
    if isinstance(exc, (DBAPIError, sqlite3.Error)):
        original = getattr(exc, "orig", None) or exc
        said = " ".join(str(original).split())[:300]
        lowered = said.lower()
        if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
            return (f"the database {where} is damaged or not a database ({said}); restore a "
                    "backup: comicsrv backup list, then comicsrv backup restore FILE")
        if "unable to open" in lowered:
            return (f"cannot open the database {where} ({said}); check that its folder "
                    "exists and is writable")
        if "locked" in lowered:
            return f"the database {where} is locked by another process ({said}); try again"
        if isinstance(exc, DBAPIError) and exc.connection_invalidated or \
                "connect" in lowered or "connection" in lowered:
            return f"cannot connect to the database {where}: {said}"
        return f"database error on {where}: {said}"
    if isinstance(exc, CommandError):
        return (f"the schema of the database {where} cannot be migrated: {exc} (was it "
                "made by a newer comicsrv?)")
    from .logfiles import file_handler

    handler = file_handler()
    if handler is not None:
        import logging

        record = logging.getLogger("comicsrv.cli").makeRecord(
            "comicsrv.cli", logging.ERROR, __file__, 0, "unexpected error", (),
            (type(exc), exc, exc.__traceback__))
        handler.handle(record)
        return f"unexpected {type(exc).__name__}: {exc} (details in {handler.baseFilename})"
    return f"unexpected {type(exc).__name__}: {exc}"


if __name__ == "__main__":  # pragma: no cover
    main()
