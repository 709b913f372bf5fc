"""Marshmallow schemas of the archive API: LANraragi's names and JSON types.

Note the strings where JSON booleans would be natural: ``isnew`` is "true"
or "false" (LANraragi sends it so and the Mihon extension declares a
string); ``pinned`` is the integer 0 or 1 its OpenAPI description documents
(both Python clients and Mihon's current model read it so). Minion job
details carry their numbers as strings, as Minion's database rows come out.
"""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate

from .common import MAX_INT, flag

ISNEW = ("true", "false")


class Flag(fields.Boolean):
    """A LANraragi boolean parameter: "true" (or "1") is true, anything
    else false — never a validation error."""

    def _deserialize(self, value, attr, data, **kwargs):
        return flag(value)


# -- objects --------------------------------------------------------------------


class LrrTocEntrySchema(Schema):
    name = fields.String()
    page = fields.Integer()


class LrrArchiveSchema(Schema):
    """LANraragi's ``ArchiveMetadataJson``."""

    arcid = fields.String(metadata={"description": "40-hex archive id"})
    title = fields.String()
    filename = fields.String(metadata={"description": "file name without extension"})
    extension = fields.String(metadata={"description": "lower-case, without the dot"})
    tags = fields.String(metadata={"description": "comma-separated, namespace:value"})
    summary = fields.String(metadata={"description": "\"\" when there is none"})
    isnew = fields.String(metadata={"enum": list(ISNEW)})
    pagecount = fields.Integer()
    progress = fields.Integer(metadata={"description": "last page read (1-based), 0 if none"})
    lastreadtime = fields.Integer(metadata={"description": "unix seconds, 0 if never read"})
    size = fields.Integer()
    toc = fields.List(fields.Nested(LrrTocEntrySchema))


class LrrOperationSchema(Schema):
    """LANraragi's ``OperationResponse``."""

    operation = fields.String()
    error = fields.String()
    success = fields.Integer(metadata={"enum": [0, 1]})
    successMessage = fields.String()  # noqa: N815  (LANraragi's name)


class LrrMinionJobResponseSchema(Schema):
    operation = fields.String()
    success = fields.Integer()
    job = fields.Integer()


class LrrValidationErrorItemSchema(Schema):
    message = fields.String()
    path = fields.String()


class LrrValidationErrorSchema(Schema):
    """The OpenAPI validator's error, for malformed ids and parameters."""

    errors = fields.List(fields.Nested(LrrValidationErrorItemSchema))
    status = fields.Integer()


class LrrUploadResultSchema(Schema):
    operation = fields.String()
    success = fields.Integer()
    id = fields.String()
    filename = fields.String()


class LrrDuplicateUploadSchema(Schema):
    operation = fields.String()
    success = fields.Integer()
    error = fields.String()
    id = fields.String(metadata={"description": "the archive already there"})


class LrrDeleteResultSchema(Schema):
    operation = fields.String()
    id = fields.String()
    filename = fields.String(metadata={"description": "deleted file name, \"0\" if none"})
    success = fields.Integer()


class LrrThumbnailUpdateSchema(Schema):
    operation = fields.String()
    new_thumbnail = fields.String()
    success = fields.Integer()


class LrrFilesSchema(Schema):
    job = fields.Integer(metadata={"description": "always 0: pages need no extraction job"})
    pages = fields.List(fields.String(), metadata={"description": "root-relative page URLs"})


class LrrPageThumbnailsDoneSchema(Schema):
    operation = fields.String()
    success = fields.Integer()
    message = fields.String()


class LrrProgressResultSchema(Schema):
    operation = fields.String()
    id = fields.String()
    page = fields.Integer()
    lastreadtime = fields.Integer()
    success = fields.Integer()


class LrrClearNewSchema(Schema):
    operation = fields.String()
    id = fields.String()
    success = fields.Integer()


class LrrCategorySchema(Schema):
    """LANraragi's ``CategoryMetadataJson``."""

    id = fields.String(metadata={"description": "SET_ + 10 digits"})
    name = fields.String()
    search = fields.String(metadata={"description": "filter of a dynamic category, else empty"})
    pinned = fields.Integer(metadata={"enum": [0, 1]})
    last_used = fields.String()
    archives = fields.List(fields.String(), metadata={"description": "static categories only"})


class LrrArchiveCategoriesSchema(Schema):
    operation = fields.String()
    categories = fields.List(fields.Nested(LrrCategorySchema))
    success = fields.Integer()


class LrrArchiveTankoubonsSchema(Schema):
    operation = fields.String()
    tankoubons = fields.List(fields.String())
    success = fields.Integer()


class LrrCategoryIdSchema(Schema):
    operation = fields.String()
    category_id = fields.String()
    success = fields.Integer()


class LrrSearchResultSchema(Schema):
    data = fields.List(fields.Nested(LrrArchiveSchema))
    draw = fields.Integer()
    recordsFiltered = fields.Integer()  # noqa: N815
    recordsTotal = fields.Integer()  # noqa: N815


class LrrSearchIdsSchema(Schema):
    data = fields.List(fields.String())
    draw = fields.Integer()
    recordsFiltered = fields.Integer()  # noqa: N815
    recordsTotal = fields.Integer()  # noqa: N815


class LrrRandomResultSchema(Schema):
    data = fields.List(fields.Nested(LrrArchiveSchema))
    recordsTotal = fields.Integer()  # noqa: N815


class LrrTagStatSchema(Schema):
    namespace = fields.String(metadata={"description": "\"\" for a tag without one"})
    text = fields.String()
    weight = fields.Integer()


class LrrServerInfoSchema(Schema):
    name = fields.String()
    motd = fields.String()
    version = fields.String(metadata={"description": "the LANraragi API version served"})
    version_name = fields.String()
    version_desc = fields.String()
    has_password = fields.Boolean()
    debug_mode = fields.Boolean()
    nofun_mode = fields.Boolean()
    archives_per_page = fields.Integer()
    server_resizes_images = fields.Boolean()
    server_tracks_progress = fields.Boolean()
    authenticated_progress = fields.Boolean()
    total_pages_read = fields.Integer()
    total_archives = fields.Integer()
    cache_last_cleared = fields.Integer()
    excluded_namespaces = fields.List(fields.String())


class LrrMinionStatusSchema(Schema):
    task = fields.String()
    state = fields.String(metadata={"enum": ["inactive", "active", "finished", "failed"]})
    notes = fields.Dict(allow_none=True)
    error = fields.String()


class LrrMinionDetailSchema(Schema):
    id = fields.String()
    task = fields.String()
    state = fields.String()
    queue = fields.String()
    priority = fields.String()
    args = fields.List(fields.String())
    attempts = fields.String()
    children = fields.List(fields.Integer())
    parents = fields.List(fields.Integer())
    created = fields.String(metadata={"description": "unix seconds"})
    delayed = fields.String()
    started = fields.String(allow_none=True)
    finished = fields.String(allow_none=True)
    expires = fields.String(allow_none=True)
    lax = fields.Integer()
    notes = fields.Dict()
    result = fields.Raw(allow_none=True)
    retried = fields.String(allow_none=True)
    retries = fields.String()
    time = fields.String()
    worker = fields.Integer(allow_none=True, metadata={"description": "null until a worker took it"})


# -- parameters -------------------------------------------------------------------


class Text(fields.String):
    """A string parameter: no NUL, which PostgreSQL cannot store or compare."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("NUL characters are not allowed.")
        return text


class SearchFilterArgs(Schema):
    filter = Text(load_default="", metadata={"description": "LANraragi search syntax"})
    category = Text(load_default="", metadata={"description": "SET_ category id"})
    newonly = Flag(load_default=False)
    untaggedonly = Flag(load_default=False)
    hidecompleted = Flag(load_default=False)
    groupby_tanks = Flag(load_default=True, metadata={
        "description": "accepted; this server has no tankoubons to group"})


class SearchArgs(SearchFilterArgs):
    start = fields.Integer(load_default=0, validate=validate.Range(min=-1, max=MAX_INT), metadata={
        "description": "offset in archives; -1 returns every match"})
    sortby = Text(load_default="title", metadata={
        "description": "title, lastread, or a tag namespace (date_added, artist...)"})
    order = Text(load_default="asc", metadata={"enum": ["asc", "desc"]})


class RandomArgs(SearchFilterArgs):
    count = fields.Integer(load_default=5, validate=validate.Range(max=MAX_INT))


class ThumbnailArgs(Schema):
    no_fallback = Flag(load_default=False)
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_INT), metadata={
        "description": "0 (or absent) for the cover, N for page N"})


class UpdateThumbnailArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=-MAX_INT, max=MAX_INT))


class ForceArgs(Schema):
    force = Flag(load_default=False)


class PageArgs(Schema):
    path = Text(required=True, metadata={"description": "entry of the archive"})


class MetadataArgs(Schema):
    title = Text()
    tags = Text()
    summary = Text()


class TocArgs(Schema):
    page = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_INT))
    title = Text()


class BackupFormatArgs(Schema):
    format = Text(load_default="file", validate=validate.OneOf(["json", "file"]))


class QueueArgs(Schema):
    args = Text(load_default="[]", metadata={"description": "a JSON array"})
    priority = fields.Integer(load_default=0, validate=validate.Range(min=-MAX_INT, max=MAX_INT))


class OpdsArgs(Schema):
    category = Text(metadata={"description": "a category's archives only"})


class PseArgs(Schema):
    page = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_INT),
                          metadata={"description": "0-based, as PSE's {pageNumber}"})


class StampArgs(Schema):
    content = Text()
    position = Text(metadata={"description": "where on the page, e.g. \"12,34\""})


class DownloadUrlArgs(Schema):
    url = Text(metadata={"description": "an http(s) URL of a comic archive"})
    catid = Text(metadata={"description": "a category to add the archive to"})


class PluginArgs(Schema):
    id = Text(metadata={"description": "the archive (metadata plugins)"})
    plugin = Text(metadata={"description": "the plugin's namespace: comicvine, metron..."})
    arg = Text(metadata={"description": "one-shot argument: the provider's series id"})
    priority = fields.Integer(validate=validate.Range(min=-MAX_INT, max=MAX_INT))


class TankListArgs(Schema):
    page = fields.Integer(validate=validate.Range(min=-1, max=MAX_INT),
                          metadata={"description": "0-based page; absent: all"})


class TankNameArgs(Schema):
    name = Text()
    tankid = Text(metadata={"description": "rename this tankoubon instead"})


class TankPageArgs(Schema):
    page = fields.Integer(load_default=-1, validate=validate.Range(min=-1, max=MAX_INT))


class TankThumbnailArgs(Schema):
    no_fallback = Flag(load_default=False)
    page = fields.Integer(validate=validate.Range(min=1, max=MAX_INT))


class UploadArgs(Schema):
    file_checksum = Text(validate=validate.Regexp(r"^[a-fA-F0-9]{40}$"))
    category_id = Text()
    tags = Text()
    title = Text()
    summary = Text()


class LrrUploadFileSchema(Schema):
    file = Upload(metadata={"description": "the archive"})


class StatsArgs(Schema):
    minweight = fields.Integer(load_default=1, validate=validate.Range(min=-MAX_INT, max=MAX_INT))
    hide_excluded_namespaces = Flag(load_default=False)


class CategoryArgs(Schema):
    name = Text()
    search = Text()
    pinned = Text(metadata={"description": "present and not \"false\": pinned"})
