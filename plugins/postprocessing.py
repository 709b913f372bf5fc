"""The built-in post-processing steps, registered like any third-party plugin.

Success (a completed download), in order: find the comic files, verify
them, convert to CBZ, write ComicInfo.xml, choose the destination, transfer
into the library, index it, record the import, remove it from the client,
clean up. Failure: blocklist the release, want the issue again, announce
the failure, search for the next candidate.

Each step reads and writes the job's ``context`` (saved after every step, so
it holds only JSON) and reaches comicsrv through the host
(``hookspecs.PostProcessHost``). Each is idempotent: after a crash the step
that was running runs again from its start. No step changes or deletes a
file of the download until a verified copy of it is in the library.
"""
from __future__ import annotations

import os
import re
import shutil
from typing import Any

from comicsrv.hookspecs import PostProcessError, PostProcessHost, PostProcessStep, hookimpl

EXTENSIONS = {"cbz": ".cbz", "cbr": ".cbr", "cb7": ".cb7", "cbt": ".cbt", "pdf": ".pdf"}
CONVERTIBLE = ("cbr", "cb7", "cbt")
WORK_DIRS = ("extracted", "converted", "tagged")


def _note(context: dict[str, Any], step: str, message: str) -> None:
    context.setdefault("messages", {})[step] = message


def _number_pattern(number: str | None) -> re.Pattern[str] | None:
    """The issue number as a token of a file name: "7" matches "007" and
    "#7" but not "17" or "7.5"."""
    if not number:
        return None
    text = number.strip().lstrip("0") or "0"
    return re.compile(rf"(?<![\d.])0*{re.escape(text)}(?![\d]|\.\d)", re.I)


class FindComics(PostProcessStep):
    name, order = "find_files", 100

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        source = context.get("source") or host.download.get("save_path")
        if not source:
            raise PostProcessError("the download has no path to import from")
        context["source"] = source
        found = host.find_comics(source)
        if not found["files"]:
            detail = "; ".join(found["skipped"][:5])
            raise PostProcessError(f"no comic files in {source}" + (f" ({detail})" if detail else ""),
                                   blocklist=True)
        context["files"], context["skipped"] = found["files"], found["skipped"]
        _note(context, self.name, f"{len(found['files'])} comic file(s) found")


class VerifyComics(PostProcessStep):
    name, order = "verify", 200

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        readable, rejected = [], []
        for found in context["files"]:
            try:
                facts = host.inspect_comic(found["path"])
            except PostProcessError as exc:
                rejected.append(exc.reason)
                continue
            readable.append({**found, **facts, "size": os.path.getsize(found["path"])})
        context["rejected"] = rejected
        if not readable:
            raise PostProcessError("no readable comic in the download: " + "; ".join(rejected[:5]),
                                   blocklist=True)
        chosen = self._choose(readable, (host.issue or {}).get("number"))
        chosen["sha256"] = host.file_digest(chosen["path"])
        context["chosen"] = chosen
        context["current"] = {"path": chosen["path"], "format": chosen["format"],
                              "sha256": chosen["sha256"], "size": chosen["size"], "staged": False}
        _note(context, self.name, f"{os.path.basename(chosen['path'])}: {chosen['format']}, "
                                  f"{chosen['pages']} pages")

    @staticmethod
    def _choose(files: list[dict[str, Any]], number: str | None) -> dict[str, Any]:
        """The file for this issue: one whose name carries its number, else the biggest."""
        pattern = _number_pattern(number)
        matching = [f for f in files if pattern and pattern.search(os.path.basename(f["path"]))]
        return dict(max(matching or files, key=lambda f: f["size"]))


def _stage(context: dict[str, Any], host: PostProcessHost, path: str, fmt: str) -> None:
    context["current"] = {"path": path, "format": fmt, "sha256": host.file_digest(path),
                          "size": os.path.getsize(path), "staged": True}


class ConvertToCbz(PostProcessStep):
    name, order = "convert", 300

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        current = context["current"]
        if not host.setting("postprocess.convert_to_cbz") or current["format"] not in CONVERTIBLE:
            _note(context, self.name, "skipped")
            return
        stem = os.path.splitext(os.path.basename(context["chosen"]["path"]))[0]
        target = os.path.join(host.work_dir("converted"), stem + ".cbz")
        host.convert_to_cbz(current["path"], target)
        _stage(context, host, target, "cbz")
        _note(context, self.name, f"converted {current['format']} to cbz")


class WriteComicInfo(PostProcessStep):
    name, order = "comicinfo", 400

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        current = context["current"]
        if not host.setting("postprocess.write_comicinfo"):
            _note(context, self.name, "skipped: turned off")
            return
        if current["format"] != "cbz":
            _note(context, self.name, f"skipped: a {current['format']} cannot hold ComicInfo.xml")
            return
        comicinfo = host.comicinfo()
        if comicinfo is None:
            _note(context, self.name, "skipped: no metadata for this download")
            return
        target = os.path.join(host.work_dir("tagged"), os.path.basename(current["path"]))
        host.embed_comicinfo(current["path"], target, comicinfo)
        _stage(context, host, target, "cbz")
        _note(context, self.name, "ComicInfo.xml written")


class ChooseDestination(PostProcessStep):
    name, order = "rename", 500

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        current = context["current"]
        extension = EXTENSIONS.get(current["format"]) or os.path.splitext(current["path"])[1].lower()
        context["destination"] = host.destination(extension)
        _note(context, self.name, context["destination"]["path"])


class TransferToLibrary(PostProcessStep):
    name, order = "transfer", 600

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        current, chosen = context["current"], context["chosen"]
        destination = context["destination"]["path"]
        # Hard link or copy for a torrent (its client seeds from the files),
        # move for usenet, unless the admin chose otherwise.
        mode = host.transfer_mode()
        if mode == "move":
            # A torrent client lets go of the files before they move (a
            # no-op for usenet); if it cannot be told, nothing moves.
            context["release"] = host.release_from_client()
        # A converted or tagged file is ours: it is always moved.
        result = host.transfer(current["path"], destination,
                               mode="move" if current["staged"] else mode,
                               sha256=current["sha256"], size=current["size"])
        context["transfer"] = result
        context["imported_path"] = result["path"]
        original = chosen["path"]
        if (current["staged"] and mode == "move" and not chosen.get("extracted")
                and os.path.exists(original) and os.path.getsize(result["path"]) == current["size"]):
            # The library holds a verified derivative of the original: the
            # move is complete only once the original is gone too.
            os.remove(original)
        released = context.get("release", {}).get("released")
        _note(context, self.name, (f"{context['release']['message']}; " if released else "")
              + f"{result['method']} to {result['path']}")


class IndexInLibrary(PostProcessStep):
    name, order = "index", 700

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        library_id = context["destination"]["library_id"]
        context["book_id"] = host.index_file(library_id, context["imported_path"])
        _note(context, self.name, f"book {context['book_id']}")


class RecordImport(PostProcessStep):
    name, order = "update_state", 800

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        host.mark_imported(context["book_id"], context["imported_path"])


class RemoveFromClient(PostProcessStep):
    name, order = "remove_from_client", 900

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        if context.get("release", {}).get("released"):
            _note(context, self.name, "done before the move: " + context["release"]["message"])
            return
        _note(context, self.name, host.remove_from_client())


class CleanUp(PostProcessStep):
    name, order = "cleanup", 950

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        for name in WORK_DIRS:
            shutil.rmtree(host.work_dir(name), ignore_errors=True)


# --- failure ---------------------------------------------------------------------

def _reason(context: dict[str, Any], host: PostProcessHost) -> str:
    return context.get("reason") or host.download.get("error") or "the download failed"


class BlocklistRelease(PostProcessStep):
    name, outcome, order = "blocklist", "failure", 100

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        host.blocklist(_reason(context, host))


class WantAgain(PostProcessStep):
    name, outcome, order = "want_again", "failure", 200

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        host.set_issue_wanted()


class AnnounceFailure(PostProcessStep):
    name, outcome, order = "announce_failure", "failure", 300

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        host.announce_failure(_reason(context, host))


class SearchNextCandidate(PostProcessStep):
    name, outcome, order = "search_next", "failure", 400

    def run(self, context: dict[str, Any], host: PostProcessHost) -> None:
        _note(context, self.name, host.search_next())


STEPS = (FindComics, VerifyComics, ConvertToCbz, WriteComicInfo, ChooseDestination,
         TransferToLibrary, IndexInLibrary, RecordImport, RemoveFromClient, CleanUp,
         BlocklistRelease, WantAgain, AnnounceFailure, SearchNextCandidate)


@hookimpl
def comicsrv_postprocess_steps():
    return [step() for step in STEPS]
