"""Metron metadata provider (kind "metron").

A small requests-based client rather than mokkari or simyan: mokkari 5 (the
maintained Metron client) only takes an API token (our settings are the
user name and password Metron's API accepts as HTTP Basic auth), can only be
pointed at the production URL or a fixed ``127.0.0.1:8000`` development URL,
and is GPL-3.0 in an MIT project; simyan is a ComicVine client. The
endpoints used here are few and stable (``series/``, ``series/<id>/``,
``series/<id>/issue_list/``, ``arc/<id>/``, ``arc/<id>/issue_list/``).

Metron allows 30 requests a minute and 10,000 a day per user; every instance
shares one limiter with both sliding windows (counted in the database by
comicsrv, so all of its processes keep the limit together), waits when the
minute window is full and fails with IntegrationRateLimited when the wait
would exceed ``max_wait``. Answers are cached like ComicVine's.

Settings: ``username`` and ``password`` (or ``api_token`` for Bearer auth),
``url`` (default the real API), ``cache_hours`` (24), ``max_wait`` (90 s),
``requests_per_minute`` (30; less when another tool shares the account).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Iterator
from urllib.parse import parse_qs, urlsplit

from comicsrv.hookspecs import (
    ArcResult, IntegrationAuthError, IntegrationError, IntegrationNotFound,
    IntegrationRateLimited, IssueResult, MetadataProvider, SeriesResult, TestResult, hookimpl,
)

from .metadata_support import (
    JsonClient, RateLimiter, add_credit, decode_json, iso_date, plain_text, to_int,
)

if TYPE_CHECKING:
    import requests

DEFAULT_URL = "https://metron.cloud/api"
# Follow at most this many pages of one list: 100 per page, so 50,000 issues.
MAX_PAGES = 500


class _Bearer:
    """requests' ``auth=``: any callable that takes and returns the request
    (``requests.auth.AuthBase`` adds nothing else, and importing requests
    here would load it with every server)."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class Metron(MetadataProvider):
    kind = "metron"
    label = "Metron"
    settings_fields = [
        {"name": "username", "label": "User name", "type": "text", "required": True},
        {"name": "password", "label": "Password", "type": "password", "required": True},
        {"name": "api_token", "label": "API token (instead of a password)", "type": "password",
         "required": False},
        {"name": "url", "label": "API URL", "type": "url", "required": False,
         "default": DEFAULT_URL},
        {"name": "cache_hours", "label": "Cache answers for (hours)", "type": "number",
         "required": False, "default": 24},
        {"name": "max_wait", "label": "Longest wait for the rate limit (s)", "type": "number",
         "required": False, "default": 90},
        {"name": "requests_per_minute", "label": "Requests per minute", "type": "number",
         "required": False, "default": 30},
    ]

    limiter: ClassVar[RateLimiter] = RateLimiter("Metron", [(30, 60.0), (10_000, 86_400.0)])

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        token = str(self.settings.get("api_token") or "").strip()
        username = str(self.settings.get("username") or "").strip()
        password = str(self.settings.get("password") or "")
        self.auth: Any = _Bearer(token) if token else (
            (username, password) if username and password else None)
        self.max_wait = _float(self.settings.get("max_wait"), 90.0)
        limiter = type(self).limiter
        per_minute = to_int(self.settings.get("requests_per_minute"))
        if per_minute is not None and per_minute > 0:
            limiter = limiter.with_limit(60.0, per_minute)
        self.client = JsonClient(
            "Metron", str(self.settings.get("url") or DEFAULT_URL), self.context,
            limiter, cache_hours=_float(self.settings.get("cache_hours"), 24.0),
            auth=self.auth)

    # --- HTTP -------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if self.auth is None:
            raise IntegrationAuthError("Metron needs a user name and password "
                                       "(Settings > Metadata)")
        # One shared quota: Metron counts per user, not per endpoint.
        response = self.client.get(path, params, resource="", max_wait=self.max_wait)
        if response.status_code == 200:
            return decode_json("Metron", response)
        detail = _detail(response)
        if response.status_code in (401, 403):
            raise IntegrationAuthError(f"Metron refused the credentials (HTTP "
                                       f"{response.status_code}: {detail})")
        if response.status_code == 404:
            raise IntegrationNotFound(f"Metron has no {path.strip('/')} ({detail})")
        if response.status_code == 429:
            raise IntegrationRateLimited(
                f"Metron says the rate limit is exceeded ({detail})",
                retry_after=to_int(response.headers.get("Retry-After")))
        raise IntegrationError(f"Metron answered HTTP {response.status_code}: {detail}")

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every result of a paginated list. ``next`` names the page to ask
        for; only its page number is used so the base URL stays ours."""
        page = 1
        for _ in range(MAX_PAGES):
            body = self._get(path, {**(params or {}), **({"page": page} if page > 1 else {})})
            if not isinstance(body, dict):
                raise IntegrationError(f"Metron answered {path} with a {type(body).__name__}, "
                                       "not a page of results")
            yield from (r for r in body.get("results") or [] if isinstance(r, dict))
            following = _page_number(body.get("next"))
            if following is None or following <= page:
                return
            page = following

    # --- MetadataProvider -----------------------------------------------------

    def search_series(self, query: str, year: int | None = None) -> list[SeriesResult]:
        query = (query or "").strip()
        if not query:
            raise ValueError("a series search needs some words to look for")
        # The first page (100 series) only: a search is a pick list, not a crawl.
        body = self._get("series", {"name": query, "year_began": year})
        found = []
        for item in body.get("results") or []:
            display = str(item.get("series") or "")
            found.append(SeriesResult(
                provider=self.kind, provider_id=str(item.get("id")),
                name=_strip_year(display, item.get("year_began")),
                year=to_int(item.get("year_began")), issue_count=to_int(item.get("issue_count"))))
        if year is not None:
            found = [s for s in found if s.year == year]
        return found

    def get_series(self, provider_id: str) -> SeriesResult:
        series = self._get(f"series/{_number(provider_id, 'series')}")
        publisher = series.get("publisher") or {}
        return SeriesResult(
            provider=self.kind, provider_id=str(series.get("id")),
            name=str(series.get("name") or "").strip(),
            year=to_int(series.get("year_began")),
            publisher=publisher.get("name") if isinstance(publisher, dict) else None,
            issue_count=to_int(series.get("issue_count")),
            description=plain_text(series.get("desc")),
            image_url=series.get("image"),
            url=series.get("resource_url"),
        )

    def get_issues(self, series_id: str) -> list[IssueResult]:
        number = _number(series_id, "series")
        return [self._issue(item, str(number))
                for item in self._pages(f"series/{number}/issue_list")]

    def get_arc(self, arc_id: str) -> ArcResult:
        number = _number(arc_id, "arc")
        arc = self._get(f"arc/{number}")
        items = list(self._pages(f"arc/{number}/issue_list"))
        issues = [self._issue(item, "") for item in items]
        self._resolve_series_ids(issues, [_series_key(item) for item in items])
        return ArcResult(self.kind, str(arc.get("id") or number),
                         str(arc.get("name") or "").strip(), issues)

    def test(self) -> TestResult:
        try:
            self._get("series", {"name": "batman"})
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, "Metron accepted the credentials")

    # --- mapping ----------------------------------------------------------------

    def _issue(self, item: dict[str, Any], series_id: str) -> IssueResult:
        series = item.get("series") or {}
        credits: dict[str, list[str]] = {}
        for credit in item.get("credits") or []:
            for role in credit.get("role") or []:
                add_credit(credits, str(credit.get("creator") or ""), str(role.get("name") or ""))
        names = item.get("name")
        title = item.get("title") or (names[0] if isinstance(names, list) and names else None)
        return IssueResult(
            provider=self.kind, provider_id=str(item.get("id")),
            series_id=str(series.get("id") or series_id),
            number=str(item.get("number") or "").strip(),
            title=str(title).strip() or None if title else None,
            cover_date=iso_date(item.get("cover_date")),
            store_date=iso_date(item.get("store_date")),
            description=plain_text(item.get("desc")),
            image_url=item.get("image"),
            credits=credits,
            series_name=str(series.get("name") or "").strip() or None,
        )

    def _resolve_series_ids(self, issues: list[IssueResult], keys: list[tuple]) -> None:
        """An arc's issue list names each series without its id: find the id
        with one series search per distinct series (name, year, volume)."""
        found: dict[tuple, str] = {}
        for issue, key in zip(issues, keys):
            if issue.series_id or not key[0]:
                continue
            if key not in found:
                found[key] = ""
                try:
                    body = self._get("series", {"name": key[0], "year_began": key[1]})
                except IntegrationNotFound:
                    body = {}
                for item in body.get("results") or []:
                    if (to_int(item.get("year_began")) == key[1]
                            and (key[2] is None or to_int(item.get("volume")) == key[2])
                            and _strip_year(str(item.get("series") or ""),
                                            item.get("year_began")).lower() == str(key[0]).lower()):
                        found[key] = str(item.get("id"))
                        break
            issue.series_id = found[key]


def _series_key(item: dict[str, Any]) -> tuple:
    """What names an issue's series in a list: (name, year began, volume)."""
    series = item.get("series") or {}
    return (series.get("name"), to_int(series.get("year_began")), to_int(series.get("volume")))


def _number(provider_id: str, what: str) -> int:
    text = str(provider_id or "").strip()
    if not text.isdigit():
        raise ValueError(f"{provider_id!r} is not a Metron {what} id (a number)")
    return int(text)


def _float(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _page_number(url: Any) -> int | None:
    if not url:
        return None
    pages = parse_qs(urlsplit(str(url)).query).get("page")
    return to_int(pages[0]) if pages else None


def _strip_year(display: str, year: Any) -> str:
    """"Batman (2011)" -> "Batman": search results name the series with its year."""
    suffix = f" ({year})"
    return display[: -len(suffix)].strip() if year and display.endswith(suffix) else display.strip()


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:200] or "no detail"
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return str(body)[:200]


@hookimpl
def comicsrv_metadata_providers():
    return [Metron]
