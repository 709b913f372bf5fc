"""ComicVine metadata provider (kind "comicvine").

ComicVine allows about 200 requests per resource ("volume", "issues",
"search", ...) per hour, and its velocity detection blocks clients that send
more than about one request a second; it bans clients that go past either.
Every instance shares one limiter with a sliding one-hour window per
resource and a one-second window across resources (counted in the database
by comicsrv, so all of its processes keep the limit together): a call waits
when the window is nearly free again and fails with IntegrationRateLimited
when the wait would be longer than ``max_wait`` seconds. Answers are cached
on disk (requests-cache, SQLite, in the
instance's cache folder; the API key is kept out of the cache key and the
stored copy) so adding a series and refreshing it the same day spends the
quota once.

Settings: ``api_key`` (required), ``url`` (default the real API; tests point
it at a local replay server), ``cache_hours`` (24), ``max_wait`` (60 s),
``page_size`` (100, ComicVine's maximum), ``requests_per_hour`` (200; less
when another tool, such as Mylar or ComicTagger, uses the same API key).

Ids are ComicVine's numbers; the "4050-" (volume), "4000-" (issue) and
"4045-" (story arc) prefixes are accepted too.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

from comicsrv.hookspecs import (
    ArcResult, IntegrationAuthError, IntegrationError, IntegrationNotFound,
    IntegrationRateLimited, IssueResult, MetadataProvider, SeriesResult, TestResult, hookimpl,
)

from .metadata_support import (
    JsonClient, RateLimiter, add_credit, decode_json, iso_date, plain_text, to_int,
)

if TYPE_CHECKING:
    import requests

DEFAULT_URL = "https://comicvine.gamespot.com/api"
HOURLY_LIMIT = 200
# At most one request a second, across resources (velocity detection).
PACING_SECONDS = 1.0

SERIES_FIELDS = ("id,name,start_year,publisher,count_of_issues,deck,description,image,"
                 "site_detail_url")
ISSUE_FIELDS = ("id,issue_number,name,cover_date,store_date,deck,description,image,volume,"
                "person_credits")

# ComicVine's envelope status codes.
OK, INVALID_KEY, NOT_FOUND, RATE_LIMITED = 1, 100, 101, 107

_PREFIXED_ID = re.compile(r"^(?:(\d{4})-)?(\d+)$")


class ComicVine(MetadataProvider):
    kind = "comicvine"
    label = "ComicVine"
    settings_fields = [
        {"name": "api_key", "label": "API key", "type": "password", "required": True},
        {"name": "url", "label": "API URL", "type": "url", "required": False,
         "default": DEFAULT_URL},
        {"name": "cache_hours", "label": "Cache answers for (hours)", "type": "number",
         "required": False, "default": 24},
        {"name": "max_wait", "label": "Longest wait for the rate limit (s)", "type": "number",
         "required": False, "default": 60},
        {"name": "requests_per_hour", "label": "Requests per resource and hour",
         "type": "number", "required": False, "default": HOURLY_LIMIT},
    ]

    # One for all instances: ComicVine counts per API key and resource, not
    # per configured instance.
    limiter: ClassVar[RateLimiter] = RateLimiter(
        "ComicVine", [(HOURLY_LIMIT, 3600.0)], service_windows=[(1, PACING_SECONDS)])

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self.api_key = str(self.settings.get("api_key") or "").strip()
        self.max_wait = float(to_int(self.settings.get("max_wait")) or 60)
        self.page_size = max(1, min(100, to_int(self.settings.get("page_size")) or 100))
        limiter = type(self).limiter
        per_hour = to_int(self.settings.get("requests_per_hour"))
        if per_hour is not None and per_hour > 0:
            limiter = limiter.with_limit(3600.0, per_hour)
        self.client = JsonClient(
            "ComicVine", str(self.settings.get("url") or DEFAULT_URL), self.context,
            limiter, cache_hours=float(_cache_hours(self.settings.get("cache_hours"))),
            secret_params=["api_key"], cache_filter=_is_success)

    # --- HTTP -------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if not self.api_key:
            raise IntegrationAuthError("ComicVine needs an API key (Settings > Metadata)")
        resource = path.strip("/").split("/", 1)[0]
        response = self.client.get(
            path, {**(params or {}), "api_key": self.api_key, "format": "json"},
            resource=resource, max_wait=self.max_wait)
        return _envelope(response)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every result of a list resource, one page (offset) after another."""
        offset = 0
        while True:
            body = self._get(path, {**params, "limit": self.page_size, "offset": offset})
            results = body.get("results") or []
            if isinstance(results, dict):
                results = [results]
            yield from results
            offset += len(results)
            total = to_int(body.get("number_of_total_results")) or 0
            if not results or offset >= total:
                return

    # --- MetadataProvider -----------------------------------------------------

    def search_series(self, query: str, year: int | None = None) -> list[SeriesResult]:
        query = (query or "").strip()
        if not query:
            raise ValueError("a series search needs some words to look for")
        body = self._get("search", {"query": query, "resources": "volume",
                                    "field_list": SERIES_FIELDS, "limit": self.page_size,
                                    "page": 1})
        found = [self._series(v) for v in body.get("results") or [] if isinstance(v, dict)]
        if year is not None:
            found = [s for s in found if s.year == year]
        return found

    def get_series(self, provider_id: str) -> SeriesResult:
        volume = _number(provider_id, "4050", "volume")
        body = self._get(f"volume/4050-{volume}", {"field_list": SERIES_FIELDS})
        return self._series(body.get("results") or {})

    def get_issues(self, series_id: str) -> list[IssueResult]:
        volume = _number(series_id, "4050", "volume")
        return [self._issue(i, str(volume)) for i in self._pages(
            "issues", {"filter": f"volume:{volume}", "field_list": ISSUE_FIELDS,
                       "sort": "cover_date:asc"})]

    def get_arc(self, arc_id: str) -> ArcResult:
        arc_number = _number(arc_id, "4045", "story arc")
        arc = self._get(f"story_arc/4045-{arc_number}",
                        {"field_list": "id,name,deck,description,image,issues"}).get("results") or {}
        # The arc lists its issues in reading order but without their details;
        # fetch those in batches of one filter each, then put them back in order.
        order = [str(i.get("id")) for i in arc.get("issues") or [] if i.get("id") is not None]
        details: dict[str, IssueResult] = {}
        for start in range(0, len(order), self.page_size):
            batch = order[start:start + self.page_size]
            for item in self._pages("issues", {"filter": "id:" + "|".join(batch),
                                               "field_list": ISSUE_FIELDS}):
                issue = self._issue(item, "")
                details[issue.provider_id] = issue
        return ArcResult(self.kind, str(arc.get("id") or arc_number), str(arc.get("name") or ""),
                         [details[i] for i in order if i in details])

    def test(self) -> TestResult:
        try:
            self._get("volumes", {"limit": 1, "field_list": "id"})
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, "ComicVine accepted the API key")

    # --- mapping ----------------------------------------------------------------

    def _series(self, volume: dict[str, Any]) -> SeriesResult:
        publisher = volume.get("publisher") or {}
        return SeriesResult(
            provider=self.kind,
            provider_id=str(volume.get("id")),
            name=str(volume.get("name") or "").strip(),
            year=to_int(volume.get("start_year")),
            publisher=(publisher.get("name") if isinstance(publisher, dict) else None),
            issue_count=to_int(volume.get("count_of_issues")),
            description=plain_text(volume.get("deck")) or plain_text(volume.get("description")),
            image_url=_image(volume.get("image")),
            url=volume.get("site_detail_url"),
        )

    def _issue(self, issue: dict[str, Any], series_id: str) -> IssueResult:
        credits: dict[str, list[str]] = {}
        for person in issue.get("person_credits") or []:
            for role in str(person.get("role") or "").split(","):
                add_credit(credits, str(person.get("name") or ""), role)
        volume = issue.get("volume") or {}
        return IssueResult(
            provider=self.kind,
            provider_id=str(issue.get("id")),
            series_id=str(volume.get("id") or series_id),
            number=str(issue.get("issue_number") or "").strip(),
            title=(str(issue["name"]).strip() or None) if issue.get("name") else None,
            cover_date=iso_date(issue.get("cover_date")),
            store_date=iso_date(issue.get("store_date")),
            description=plain_text(issue.get("description")) or plain_text(issue.get("deck")),
            image_url=_image(issue.get("image")),
            credits=credits,
            series_name=str(volume.get("name") or "").strip() or None,
        )


def _number(provider_id: str, prefix: str, what: str) -> int:
    match = _PREFIXED_ID.match(str(provider_id or "").strip())
    if not match or (match.group(1) and match.group(1) != prefix):
        raise ValueError(f"{provider_id!r} is not a ComicVine {what} id "
                         f"(a number, optionally written {prefix}-<number>)")
    return int(match.group(2))


def _cache_hours(value: Any) -> float:
    try:
        return float(value) if value not in (None, "") else 24.0
    except (TypeError, ValueError):
        return 24.0


def _image(image: Any) -> str | None:
    if not isinstance(image, dict):
        return None
    return image.get("original_url") or image.get("super_url") or image.get("medium_url")


def _is_success(response: requests.Response) -> bool:
    """Cache only answers whose envelope says OK: an error is asked again."""
    try:
        return response.json().get("status_code") == OK
    except (ValueError, AttributeError):
        return False


def _envelope(response: requests.Response) -> dict[str, Any]:
    """The JSON body, or the ComicVine error it carries as an exception."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status_code" not in body:
        if response.status_code in (420, 429):
            raise IntegrationRateLimited(
                f"ComicVine refused the request (HTTP {response.status_code}): rate limited",
                retry_after=to_int(response.headers.get("Retry-After")))
        if response.status_code in (401, 403):
            raise IntegrationAuthError(f"ComicVine refused the API key (HTTP {response.status_code})")
        if response.status_code == 404:
            raise IntegrationNotFound(f"ComicVine has no {response.url.split('?')[0]}")
        decode_json("ComicVine", response)  # raises for a body that is not JSON
        raise IntegrationError(f"ComicVine answered HTTP {response.status_code} without its "
                               f"usual envelope: {json.dumps(body)[:200]}")
    code = to_int(body.get("status_code"))
    message = str(body.get("error") or "")
    if code == OK:
        return body
    if code == INVALID_KEY:
        raise IntegrationAuthError(f"ComicVine rejected the API key (status 100: {message})")
    if code == NOT_FOUND:
        raise IntegrationNotFound(f"ComicVine has no such object (status 101: {message}): "
                                  f"{response.url.split('?')[0]}")
    if code == RATE_LIMITED:
        raise IntegrationRateLimited(
            f"ComicVine says the rate limit is exceeded (status 107: {message}); "
            "wait before asking again", retry_after=to_int(response.headers.get("Retry-After")))
    raise IntegrationError(f"ComicVine error (status {code}: {message})")


@hookimpl
def comicsrv_metadata_providers():
    return [ComicVine]
