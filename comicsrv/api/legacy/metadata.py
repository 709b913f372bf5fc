"""Comicarr's ``/api/metadata``: provider search, a series' metadata with
its issues straight from the provider, an issue's metadata, and tagging a
library book with ComicInfo.xml.

No provider plugin reads a single issue, so ``/metadata/issue/{id}`` answers
from the watched issue of that provider id (what the last refresh stored).
Metatag writes the same ComicInfo.xml post-processing writes (the
post-processing host builds it) into the issue's linked book through
``automation.metatag`` and ``automation.tagging``: into a copy beside it, swapped in atomically and
re-indexed in the same transaction, so the book is never half-written and
reads at once, under its id and under its old and new archive ids.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from ...auth import require
from ...automation import watchlist
from ...automation.metatag import comicinfo_for, metatag
from ...errors import BadRequest
from .common import SECURITY, ok
from .schemas import (
    Envelope, ProviderArgs, SearchBody, clean_id, issue_by_issue_id, provider_id_field,
    provider_issue, series_by_comic_id,
)
from .search import search_providers

blp = Blueprint("legacy_metadata", __name__, url_prefix="/api",
                description="Comicarr: metadata search, lookups and tagging")


class MetatagBody(Schema):
    issue_id = provider_id_field("the watched issue's provider id", required=True)
    comic_id = provider_id_field("its series' provider id (checked if sent)")


@blp.route("/metadata/search")
class MetadataSearch(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(SearchBody)
    @blp.response(200, Envelope)
    def post(self, body):
        """Search the metadata provider for series."""
        return search_providers(body)


@blp.route("/metadata/comic/<comic_id>")
class MetadataComic(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ProviderArgs, location="query")
    @blp.response(200, Envelope)
    def get(self, args, comic_id):
        """A series and its issues as the provider describes them now
        (the default provider, or ``?provider=``)."""
        source = watchlist.provider(args.get("provider"))
        what = f"{source.kind} series {comic_id}"
        series_id = clean_id(comic_id)
        info = watchlist.call(what, source.get_series, series_id)
        issues = watchlist.call(what, source.get_issues, info.provider_id)
        return ok({"ComicID": info.provider_id, "ComicName": info.name, "ComicYear": info.year,
                   "ComicPublisher": info.publisher, "ComicImage": info.image_url,
                   "DetailURL": info.url, "Total": info.issue_count,
                   "ComicDescription": info.description, "MetadataSource": info.provider,
                   "issues": [provider_issue(i) for i in issues]})


@blp.route("/metadata/issue/<issue_id>")
class MetadataIssue(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def get(self, issue_id):
        """A watched issue's metadata, with the ComicInfo.xml metatag would write."""
        issue = issue_by_issue_id(issue_id)
        series = issue.series
        return ok({"IssueID": issue.provider_id, "ComicID": series.provider_id,
                   "ComicName": series.name, "Issue_Number": issue.number,
                   "IssueName": issue.title, "IssueDate": issue.cover_date,
                   "ReleaseDate": issue.store_date, "Description": issue.description,
                   "ImageURL": issue.image_url, "Credits": issue.credits or {},
                   "MetadataSource": series.provider,
                   "ComicInfo": comicinfo_for(issue).decode("utf-8")})


@blp.route("/metadata/metatag")
class Metatag(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(MetatagBody)
    @blp.response(200, Envelope)
    def post(self, body):
        """Write ComicInfo.xml from the watched issue's metadata into its
        library book (CBZ only; 409 when the issue has no book)."""
        issue = issue_by_issue_id(body["issue_id"])
        if body.get("comic_id") and series_by_comic_id(body["comic_id"]).id != issue.watched_series_id:
            raise BadRequest(f"issue {body['issue_id']} is not in comic {body['comic_id']}")
        return ok(metatag(issue))
