"""The ``comicsrv`` command line.

    comicsrv [--data-dir DIR] serve [--host H] [--port P] [--role all|web|worker]
    comicsrv [--data-dir DIR] library add NAME PATH | library list
    comicsrv [--data-dir DIR] scan [--library NAME] [--deep]
    comicsrv [--data-dir DIR] user create USERNAME --password P [--admin]
    comicsrv [--data-dir DIR] apikey create --user USERNAME [--name N]
    comicsrv [--data-dir DIR] openapi [--output F] [--format json|yaml]
    comicsrv [--data-dir DIR] db upgrade

Scripts and docs depend on these forms. Errors are one line on stderr with
exit code 2 (bad arguments or input) or 1 (the operation failed); never a
traceback.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click


class AppHolder:
    """Creates the app on first use, so ``--help`` and bad arguments never
    touch the data directory."""

    def __init__(self, data_dir: str | None):
        self.data_dir = data_dir
        self._app = None

    def app(self, **overrides: Any):
        if self._app is None:
            from .app import create_app

            self._app = create_app(overrides or None, data_dir=self.data_dir)
        return self._app


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


@library.command("add")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, file_okay=False, resolve_path=True))
@pass_holder
def library_add(holder: AppHolder, name: str, path: str) -> None:
    """Add a library NAME at the folder PATH."""
    from .library.libraries import create_library

    with holder.app().app_context():
        lib = create_library(name, path)
        click.echo(f"{lib.id}\t{lib.name}\t{lib.path}")


@library.command("list")
@pass_holder
def library_list(holder: AppHolder) -> None:
    """List libraries: id, name, path, enabled."""
    from .extensions import db
    from .models import Library

    with holder.app().app_context():
        for lib in db.session.execute(db.select(Library).order_by(Library.name)).scalars():
            click.echo(f"{lib.id}\t{lib.name}\t{lib.path}\t{'enabled' if lib.enabled else 'disabled'}")


# --- scan ---------------------------------------------------------------------

@cli.command()
@click.option("--library", "library_name", default=None, help="Only this library (by name).")
@click.option("--deep", is_flag=True, help="Re-read every file, changed or not.")
@pass_holder
def scan(holder: AppHolder, library_name: str | None, deep: bool) -> None:
    """Scan libraries now and print what changed."""
    from .library.libraries import libraries_to_scan
    from .library.scanner import SCAN_JOB

    app = holder.app()
    with app.app_context():
        runner = app.extensions["comicsrv.jobs"]
        failed = False
        for lib in libraries_to_scan(library_name):
            job = runner.run_now(SCAN_JOB, {"library_id": lib.id, "deep": deep},
                                 target=f"library:{lib.id}")
            summary = ", ".join(f"{k} {v}" for k, v in (job.result or {}).items()
                                if isinstance(v, (int, float)))
            click.echo(f"{lib.name}: {job.state}" + (f" ({summary})" if summary else "")
                       + (f": {job.error}" if job.error else ""))
            failed |= job.state != "finished"
        if failed:
            sys.exit(1)


# --- users and keys -----------------------------------------------------------

@cli.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("username")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--admin", is_flag=True, help="Give the user every permission.")
@pass_holder
def user_create(holder: AppHolder, username: str, password: str, admin: bool) -> None:
    """Create a user."""
    from .auth.users import create_user

    with holder.app().app_context():
        created = create_user(username, password, is_admin=admin)
        click.echo(f"created user {created.username}" + (" (admin)" if admin else ""), err=True)


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
        sys.exit(2)
    except OSError as exc:
        click.echo(f"comicsrv: error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
