"""``/api/v1/filesystem``: the server's folders, for the web UI's "add library"
dialog (SystemAdmin).

Only folders under the browse roots can be listed, judged after symlinks and
``..`` are resolved: a path outside them is a 403 whether or not it exists,
so the endpoint never tells what lies outside. Only folder names and comic
files are listed, never other files or any content.

The roots are the library roots (``comicsrv.library.libraries.library_roots``):
the ``filesystem.allowed_roots`` setting or, while it is empty, the Docker
image's ``/comics`` and ``/downloads`` and the existing libraries' folders.
A library can only be added inside them, so browsing offers nothing it could
not use.
"""
from __future__ import annotations

import os

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...errors import BadRequest, Forbidden, NotFound
from ...jobs.pool import run_cpu
from ...library.libraries import library_roots, within as _within
from ...library.walker import COMIC_EXTENSIONS
from ..pagination import PageArgs, page_of_list
from .security import SECURITY

blp = Blueprint("v1_filesystem", __name__, url_prefix="/api/v1",
                description="Server folders for choosing a library path (admin)")

DIRECTORY, FILE = "directory", "file"


class EntrySchema(Schema):
    name = fields.String()
    path = fields.String()
    type = fields.String(metadata={"enum": [DIRECTORY, FILE]})
    size = fields.Integer(allow_none=True, metadata={"description": "bytes, files only"})


class BrowseSchema(Schema):
    path = fields.String(allow_none=True, metadata={
        "description": "the listed folder, resolved; null for the roots"})
    parent = fields.String(allow_none=True,
                           metadata={"description": "the folder above, null at a root"})
    items = fields.List(fields.Nested(EntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class BrowseArgs(PageArgs):
    path = fields.String(validate=validate.Length(max=4096),
                         metadata={"description": "absolute folder path; omit for the roots"})
    include_files = fields.Boolean(load_default=False,
                                   metadata={"description": "list comic files too"})
    include_hidden = fields.Boolean(load_default=False,
                                    metadata={"description": "list dot-folders too"})


class DrivesSchema(Schema):
    items = fields.List(fields.Nested(EntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


def browse_roots() -> list[str]:
    """The folders an admin may browse: the library roots."""
    return library_roots()


def _entries(folder: str, roots: list[str], include_files: bool,
             include_hidden: bool) -> list[dict]:
    """One folder's sub-folders (and comic files), folders first, by name.

    A symlink leading out of the roots is left out: listing it would only
    offer a 403.
    """
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not include_hidden and entry.name.startswith("."):
                continue
            try:
                if entry.is_symlink() and not _within(os.path.realpath(entry.path), roots):
                    continue
                if entry.is_dir():
                    found.append({"name": entry.name, "path": entry.path, "type": DIRECTORY,
                                  "size": None})
                elif (include_files and entry.is_file()
                      and os.path.splitext(entry.name)[1].lower() in COMIC_EXTENSIONS):
                    found.append({"name": entry.name, "path": entry.path, "type": FILE,
                                  "size": entry.stat().st_size})
            except OSError:  # vanished or unreadable while listing: leave it out
                continue
    found.sort(key=lambda e: (e["type"] != DIRECTORY, e["name"].casefold(), e["name"]))
    return found


def _resolve(path: str, roots: list[str]) -> str:
    if "\x00" in path:
        raise BadRequest("A path cannot contain a NUL character")
    if not os.path.isabs(path):
        raise BadRequest(f"{path!r} is not an absolute path")
    resolved = os.path.realpath(path)
    if not _within(resolved, roots):
        raise Forbidden(f"{path} is outside the folders that may be browsed "
                        "(the filesystem.allowed_roots setting)", code="path_not_allowed")
    return resolved


def _root_entries(roots: list[str]) -> list[dict]:
    return [{"name": root, "path": root, "type": DIRECTORY, "size": None}
            for root in roots if os.path.isdir(root)]


@blp.route("/filesystem/browse")
class Browse(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(BrowseArgs, location="query")
    @blp.response(200, BrowseSchema)
    @require("SystemAdmin")
    def get(self, args):
        """List a folder's sub-folders (and comic files with `include_files`);
        without `path`, the roots. 403 outside the roots, 404 when missing."""
        roots = browse_roots()
        if not args.get("path"):
            return page_of_list(run_cpu(_root_entries, roots), args, path=None, parent=None)
        folder = _resolve(args["path"], roots)
        try:
            items = run_cpu(_entries, folder, roots, args["include_files"],
                            args["include_hidden"])
        except FileNotFoundError:
            raise NotFound(f"{args['path']} does not exist") from None
        except NotADirectoryError:
            raise BadRequest(f"{args['path']} is not a folder") from None
        except PermissionError:
            raise Forbidden(f"{args['path']} is not readable by the server") from None
        except OSError as exc:
            raise BadRequest(f"{args['path']} cannot be listed: {exc.strerror or exc}") from None
        parent = os.path.dirname(folder)
        parent = parent if parent != folder and _within(parent, roots) else None
        return page_of_list(items, args, path=folder, parent=parent)


@blp.route("/filesystem/drives")
class Drives(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DrivesSchema)
    @require("SystemAdmin")
    def get(self, args):
        """Where browsing starts: the roots that exist (Codex lists Windows
        drives here; on Linux and macOS the roots play that part)."""
        return page_of_list(run_cpu(_root_entries, browse_roots()), args)
