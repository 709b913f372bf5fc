"""``/api/archives``: LANraragi's archive endpoints."""
from __future__ import annotations

import json
import os
from urllib.parse import quote

from flask import Response, request, send_file, stream_with_context
from flask.views import MethodView
from sqlalchemy import select

from ... import images, services
from ...events import CoverUpdated
from ...extensions import db
from ...library.media import Media, MediaUnavailable
from ...library.reading import ProgressUpdate, save_progress
from ...lrr import archives as service
from ...lrr import categories, stats, tankoubons, thumbnails
from ...lrr.tags import epoch
from ...lrr.uploads import UploadFields, UploadRejected, receive_upload
from ...models import Page
from ..request_limits import accepts_upload
from .auth import (
    SECURITY,
    archive_or_error,
    lrr_principal,
    lrr_user,
    progress_writer,
    reader,
    writer,
)
from .common import (
    MAX_INT,
    LrrBlueprint,
    json_response,
    operation_body,
    operation_error,
    parse_arcid,
    script_root,
    validation_error,
)
from .schemas import (
    ForceArgs,
    LrrArchiveCategoriesSchema,
    LrrArchiveSchema,
    LrrArchiveTankoubonsSchema,
    LrrClearNewSchema,
    LrrDeleteResultSchema,
    LrrDuplicateUploadSchema,
    LrrFilesSchema,
    LrrMinionJobResponseSchema,
    LrrOperationSchema,
    LrrPageThumbnailsDoneSchema,
    LrrProgressResultSchema,
    LrrThumbnailUpdateSchema,
    LrrUploadFileSchema,
    LrrUploadResultSchema,
    LrrValidationErrorSchema,
    MetadataArgs,
    PageArgs,
    ThumbnailArgs,
    TocArgs,
    UpdateThumbnailArgs,
    UploadArgs,
)

blp = LrrBlueprint("lrr_archives", __name__, url_prefix="/api/archives",
                   description="LANraragi archive API: archives")

PAGE_MAX_AGE = 24 * 3600
THUMBNAIL_MAX_AGE = 3600
BAD_ID = {"schema": LrrValidationErrorSchema, "description": "Malformed id, or unknown (OperationResponse)"}


def _media_response(media: Media, max_age: int) -> Response:
    if media.path and not media.data:
        return send_file(media.path, mimetype=media.mime_type, etag=media.etag or True,
                         conditional=True, max_age=max_age)
    response = Response(media.data, mimetype=media.mime_type)
    if media.etag:
        response.set_etag(media.etag)
    response.cache_control.max_age = max_age
    return response.make_conditional(request)


def _placeholder(book) -> Response:
    response = Response(images.placeholder(thumbnails.EDGE, service.display_title(book)),
                        mimetype="image/jpeg")
    response.cache_control.no_cache = True  # the real one may exist soon
    return response


@blp.route("")
class ArchiveList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrArchiveSchema(many=True))
    @reader("get_archive_list")
    def get(self):
        """Every archive (streamed, a few hundred books per query)."""
        user = lrr_user()

        def generate():
            yield "["
            for index, item in enumerate(service.all_archives(user)):
                yield ("," if index else "") + json.dumps(item, ensure_ascii=False)
            yield "]"

        return Response(stream_with_context(generate()), mimetype="application/json")


@blp.route("/untagged")
class UntaggedList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, {"type": "array", "items": {"type": "string"}}, description="Archive ids")
    @reader("get_untagged_archives")
    def get(self):
        """Ids of archives without tags (the filename parser's don't count)."""
        return json_response(service.untagged_arcids(lrr_user()))


@blp.route("/upload")
class ArchiveUpload(MethodView):
    @accepts_upload  # MAX_UPLOAD_BYTES, not the small JSON limit
    @blp.doc(security=SECURITY)
    @blp.arguments(UploadArgs, location="query")
    @blp.arguments(LrrUploadFileSchema, location="files")
    @blp.response(200, LrrUploadResultSchema)
    @blp.alt_response(400, schema=LrrOperationSchema, description="No file attached")
    @blp.alt_response(409, schema=LrrDuplicateUploadSchema, description="Already in the library")
    @blp.alt_response(415, schema=LrrOperationSchema, description="Not a comic archive")
    @blp.alt_response(417, schema=LrrOperationSchema, description="Checksum mismatch")
    @writer("upload", "LibrariesWrite")
    def put(self, args, files):
        """Upload an archive into the upload library's ``Uploads/`` folder.

        Fields may come as form fields or query parameters; ``file_checksum``
        (SHA-1 of the whole file) is checked when given. The archive is
        indexed before the answer, which carries its id.
        """
        upload = files.get("file")
        if upload is None or not upload.filename:
            raise operation_error("upload", "No file attached")
        fields = UploadFields(checksum=args.get("file_checksum"), title=args.get("title"),
                              tags=args.get("tags"), summary=args.get("summary"),
                              category_id=args.get("category_id"))
        try:
            book = receive_upload(upload.stream, upload.filename, fields, lrr_user(),
                                  curator=lrr_principal().can("MetadataWrite"))
        except UploadRejected as exc:
            extra = {"id": exc.arcid} if exc.arcid else {}
            raise operation_error("upload", exc.message, exc.status, **extra) from None
        stats.clear_search_cache()
        return {"operation": "upload", "success": 1, "id": book.arcid, "filename": book.filename}


@blp.route("/<arcid>")
class Archive(MethodView):
    @blp.doc(security=SECURITY, deprecated=True)
    @blp.response(200, LrrArchiveSchema)
    @blp.alt_response(400, **BAD_ID)
    @reader("metadata")
    def get(self, arcid):
        """An archive's metadata (deprecated path of ``/metadata``)."""
        return service.archive_objects([archive_or_error(arcid)], lrr_user())[0]

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrDeleteResultSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("delete_archive", "BooksDelete")
    def delete(self, arcid):
        """Delete an archive's file and its record.

        An unknown id answers 200 with ``success: 0``, as LANraragi does.
        """
        arcid = parse_arcid(arcid)
        book = service.find_archive(lrr_user(), arcid)
        if book is None:
            return {"operation": "delete_archive", "id": arcid, "filename": "0", "success": 0}
        name = service.delete_archive(book)
        stats.clear_search_cache()
        return {"operation": "delete_archive", "id": arcid, "filename": name, "success": 1}


@blp.route("/<arcid>/metadata")
class ArchiveMetadata(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrArchiveSchema)
    @blp.alt_response(400, **BAD_ID)
    @reader("metadata")
    def get(self, arcid):
        """An archive's metadata."""
        return service.archive_objects([archive_or_error(arcid)], lrr_user())[0]

    @blp.doc(security=SECURITY)
    @blp.arguments(MetadataArgs, location="query")
    @blp.response(200, LrrOperationSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("update_metadata")
    def put(self, args, arcid):
        """Overwrite title, tags and/or summary (a missing one is kept).

        Tags become user tags every surface sees and rescans keep; ``series:``,
        ``source:``, ``timestamp:`` and ``date_added:`` come from the catalogue
        and cannot be edited here. An issue's title is shown as
        "Series #N - Title": a title sent back with that prefix stores the
        part after it.
        """
        book = archive_or_error(arcid)
        service.update_metadata(book, title=args.get("title"), tags=args.get("tags"),
                                summary=args.get("summary"))
        return operation_body("update_metadata", success_message=(
            f'Updated metadata for "{service.display_title(book)}"!'))


@blp.route("/<arcid>/thumbnail")
class ArchiveThumbnail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ThumbnailArgs, location="query")
    @blp.response(200, content_type="image/jpeg", description="The thumbnail (or a placeholder)")
    @blp.alt_response(202, schema=LrrMinionJobResponseSchema,
                      description="Queued (no_fallback=true); poll /api/minion/{job}")
    @blp.alt_response(400, **BAD_ID)
    @reader("serve_thumbnail")
    def get(self, args, arcid):
        """The cover thumbnail, or page ``page``'s.

        Made on the spot when missing, or with ``no_fallback=true`` queued
        as a job (202 with its id). A book whose pages cannot be read gets a
        placeholder image.
        """
        book = archive_or_error(arcid)
        page = args["page"]
        if page > book.page_count and book.page_count:
            raise operation_error("serve_thumbnail",
                                  f"This archive has no page {page} (it has {book.page_count}).")
        if not book.page_count:
            return _placeholder(book)
        if not thumbnails.has_thumbnail(book, page) and args["no_fallback"]:
            runner = services.jobs()
            target = thumbnails.thumbnail_target(book, page)
            job = runner.active_job(thumbnails.THUMBNAIL_JOB, target)
            job_id = job.id if job else runner.submit(
                thumbnails.THUMBNAIL_JOB, {"book_id": book.id, "page": page}, target=target,
                user_id=lrr_user().id if lrr_user() else None)
            return json_response({"operation": "serve_thumbnail", "success": 1, "job": job_id}, 202)
        try:
            return _media_response(thumbnails.thumbnail(book, page), THUMBNAIL_MAX_AGE)
        except MediaUnavailable:
            return _placeholder(book)

    @blp.doc(security=SECURITY)
    @blp.arguments(UpdateThumbnailArgs, location="query")
    @blp.response(200, LrrThumbnailUpdateSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("update_thumbnail")
    def put(self, args, arcid):
        """Make page ``page`` (1-based, default 1) the archive's cover."""
        book = archive_or_error(arcid)
        page = args["page"]
        if not 1 <= page <= book.page_count:
            raise operation_error("update_thumbnail",
                                  f"Invalid page {page}: this archive has {book.page_count} pages.")
        book.cover_page = page - 1
        try:
            services.media().cover(book, thumbnails.EDGE)
        except MediaUnavailable as exc:
            db.session.rollback()
            raise operation_error("update_thumbnail", f"Thumbnail not generated: {exc.message}") from None
        db.session.commit()
        services.events().publish(CoverUpdated(book_id=book.id))
        return {"operation": "update_thumbnail", "success": 1,
                "new_thumbnail": f"{script_root()}/api/archives/{book.arcid}/thumbnail"}


@blp.route("/<arcid>/files")
class ArchiveFiles(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ForceArgs, location="query")
    @blp.response(200, LrrFilesSchema)
    @blp.alt_response(400, **BAD_ID)
    @reader("get_file_list")
    def get(self, args, arcid):
        """URLs of the archive's pages in reading order.

        Pages are read straight from the archive, so nothing is extracted
        and ``job`` is 0; ``force`` is accepted and changes nothing.
        """
        book = archive_or_error(arcid)
        names = list(db.session.execute(select(Page.name).where(Page.book_id == book.id)
                                        .order_by(Page.index)).scalars())
        if not names:
            raise operation_error("get_file_list", book.error or "This archive has no pages.")
        if book.page_count != len(names):
            book.page_count = len(names)
            db.session.commit()
        base = f"{script_root()}/api/archives/{book.arcid}/page?path="
        return {"job": 0, "pages": [base + quote(name, safe="/") for name in names]}


@blp.route("/<arcid>/files/thumbnails")
class ArchivePageThumbnails(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ForceArgs, location="query")
    @blp.response(200, LrrPageThumbnailsDoneSchema, description="Every thumbnail exists already")
    @blp.alt_response(202, schema=LrrMinionJobResponseSchema, description="Queued")
    @blp.alt_response(400, **BAD_ID)
    @reader("generate_page_thumbnails")
    def post(self, args, arcid):
        """Make a thumbnail of every page in the background.

        A job already queued or running for this archive is answered again.
        """
        book = archive_or_error(arcid)
        runner = services.jobs()
        target = thumbnails.page_thumbnails_target(book)
        job = runner.active_job(thumbnails.PAGE_THUMBNAILS_JOB, target)
        if job is None:
            if not args["force"] and not thumbnails.missing_page_thumbnails(book):
                return {"operation": "generate_page_thumbnails", "success": 1,
                        "message": "No job queued, all thumbnails already exist."}
            user = lrr_user()
            job_id = runner.submit(thumbnails.PAGE_THUMBNAILS_JOB,
                                   {"book_id": book.id, "force": args["force"]}, target=target,
                                   user_id=user.id if user else None)
        else:
            job_id = job.id
        return json_response({"operation": "generate_page_thumbnails", "success": 1,
                              "job": job_id}, 202)


@blp.route("/<arcid>/page")
class ArchivePage(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, content_type="application/octet-stream", description="The page image")
    @blp.alt_response(400, **BAD_ID)
    @blp.alt_response(404, schema=LrrOperationSchema, description="No such entry in this archive")
    @reader("serve_page")
    def get(self, args, arcid):
        """One page, as stored in the archive; ``path`` is a name from ``/files``."""
        book = archive_or_error(arcid)
        index = db.session.execute(select(Page.index).where(
            Page.book_id == book.id, Page.name == args["path"])).scalar()
        if index is None:
            raise operation_error("serve_page", "This archive has no such page.", 404)
        media = services.media().page(book, index + 1)
        response = _media_response(media, PAGE_MAX_AGE)
        response.headers["Content-Disposition"] = "inline"
        return response


@blp.route("/<arcid>/download")
class ArchiveDownload(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, content_type="application/octet-stream", description="The archive file")
    @blp.alt_response(400, **BAD_ID)
    @reader("download_archive")
    def get(self, arcid):
        """The archive file itself."""
        book = archive_or_error(arcid)
        if not os.path.isfile(book.path):
            raise operation_error("download_archive", "This archive is not a single file.")
        return send_file(book.path, as_attachment=True, download_name=book.filename,
                         conditional=True)


@blp.route("/<arcid>/progress/<page>")
class ArchiveProgress(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ForceArgs, location="query")
    @blp.response(200, LrrProgressResultSchema)
    @blp.alt_response(400, **BAD_ID)
    @blp.alt_response(401, schema=LrrOperationSchema, description="Anonymous reader")
    @progress_writer("update_progress")
    def put(self, args, arcid, page):
        """Save the caller's page (1-based) in the archive.

        The same record ``/api/v1`` reads; reaching the last page completes
        the book. ``force`` skips the page-count check, as in LANraragi.
        """
        book = archive_or_error(arcid)
        try:
            number = int(page)
        except ValueError:
            raise validation_error("Expected integer - got string.", "/page") from None
        if not args["force"]:
            if not book.page_count:
                raise operation_error("update_progress",
                                      "Archive doesn't have a total page count recorded yet.")
            if not 1 <= number <= book.page_count:
                raise operation_error("update_progress", "Invalid progress value.")
        elif not 0 <= number <= MAX_INT:
            raise operation_error("update_progress", "Invalid progress value.")
        progress = save_progress(lrr_user().id, book, ProgressUpdate(page=number))
        return {"operation": "update_progress", "id": book.arcid, "page": number,
                "lastreadtime": epoch(progress.updated_at), "success": 1}


@blp.route("/<arcid>/isnew")
class ArchiveNewFlag(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("add_new")
    def put(self, arcid):
        """Set the archive's "new" flag again."""
        service.set_new(archive_or_error(arcid), True)
        return operation_body("add_new")

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrClearNewSchema)
    @blp.alt_response(400, **BAD_ID)
    @reader("clear_new")
    def delete(self, arcid):
        """Clear the archive's "new" flag (readers do when they open it)."""
        book = archive_or_error(arcid)
        service.set_new(book, False)
        return {"operation": "clear_new", "id": book.arcid, "success": 1}


@blp.route("/<arcid>/categories")
class ArchiveCategories(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrArchiveCategoriesSchema)
    @blp.alt_response(400, **BAD_ID)
    @reader("find_arc_categories")
    def get(self, arcid):
        """The static categories holding this archive."""
        book = archive_or_error(arcid)
        found = categories.categories_with_book(book, lrr_user())
        return {"operation": "find_arc_categories", "success": 1,
                "categories": categories.category_objects(found, lrr_user())}


@blp.route("/<arcid>/tankoubons")
class ArchiveTankoubons(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrArchiveTankoubonsSchema)
    @blp.alt_response(400, **BAD_ID)
    @reader("find_arc_tankoubons")
    def get(self, arcid):
        """The tankoubons holding this archive."""
        book = archive_or_error(arcid)
        return {"operation": "find_arc_tankoubons", "success": 1,
                "tankoubons": tankoubons.tankoubons_with_book(book)}


@blp.route("/<arcid>/toc")
class ArchiveToc(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(TocArgs, location="query")
    @blp.response(200, LrrOperationSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("update_toc")
    def put(self, args, arcid):
        """Add (or rename) the chapter that starts at page ``page``."""
        book = archive_or_error(arcid)
        if not args.get("title"):
            raise operation_error("update_toc", "Missing title for the ToC entry.")
        service.set_toc_entry(book, args["page"], args["title"])
        return operation_body("update_toc",
                              success_message=f"Added ToC entry for page {args['page']}.")

    @blp.doc(security=SECURITY)
    @blp.arguments(TocArgs, location="query")
    @blp.response(200, LrrOperationSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("remove_toc")
    def delete(self, args, arcid):
        """Remove the chapter that starts at page ``page``."""
        book = archive_or_error(arcid)
        service.remove_toc_entry(book, args["page"])
        return operation_body("remove_toc",
                              success_message=f"Removed ToC entry for page {args['page']}.")
