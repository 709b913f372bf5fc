"""/api/wanted, /api/watchlist, /api/comics and /api/comic/{id}[/issues]
over a series added through the real watchlist (Metron replayed)."""
from __future__ import annotations

from comicsrv.extensions import db
from comicsrv.models.automation import DOWNLOADED, WatchedIssue
from tests.api.legacy.metron_replay import add_inhumans, app, headers, metron, read_headers  # noqa: F401


def _mark_first_downloaded():
    issue = db.session.scalars(db.select(WatchedIssue).where(WatchedIssue.provider_id == "1")).one()
    issue.state = DOWNLOADED
    db.session.commit()


def test_wanted_lists_wanted_issues_oldest_first_with_mylar_fields(client, headers, read_headers):
    add_inhumans(client, headers)
    data = client.get("/api/wanted", headers=read_headers).json["data"]
    assert data["total"] == 2 and data["has_more"] is False
    first = data["results"][0]
    assert (first["ComicName"], first["Issue_Number"], first["IssueID"], first["ComicID"],
            first["Status"], first["ReleaseDate"]) == (
        "Death of the Inhumans", "1", "1", "1", "Wanted", "2018-07-04")
    _mark_first_downloaded()
    second_page = client.get("/api/wanted", query_string={"limit": 1, "offset": 0},
                             headers=read_headers).json["data"]
    assert second_page["total"] == 1 and second_page["results"][0]["Issue_Number"] == "2"


def test_watchlist_counts_had_issues(client, headers, read_headers):
    add_inhumans(client, headers)
    _mark_first_downloaded()
    data = client.get("/api/watchlist", headers=read_headers).json["data"]
    row = data["results"][0]
    assert (row["ComicID"], row["totalissues"], row["haveissues"], row["percent"]) == ("1", 2, 1, 50)
    assert row["Status"] == "Active" and row["LatestIssue"] == "2"
    assert row["LatestDate"] == "2018-08-08"
    empty = client.get("/api/watchlist", query_string={"offset": 10}, headers=read_headers)
    assert empty.json["data"]["results"] == [] and empty.json["data"]["total"] == 1


def test_comics_and_comic_detail_carry_every_column(client, headers, read_headers):
    add_inhumans(client, headers)
    row = client.get("/api/comics", headers=read_headers).json["data"]["results"][0]
    assert row["ComicPublisher"] == "Marvel" and row["Total"] == 2 and "ComicDescription" in row
    detail = client.get("/api/comic/1", headers=read_headers)
    assert detail.status_code == 200 and detail.json["data"]["ComicName"] == "Death of the Inhumans"
    missing = client.get("/api/comic/42", headers=read_headers)
    assert missing.status_code == 404 and missing.json["success"] is False


def test_comic_issues_in_number_order(client, headers, read_headers):
    add_inhumans(client, headers)
    data = client.get("/api/comic/1/issues", headers=read_headers).json["data"]
    assert [r["Issue_Number"] for r in data["results"]] == ["1", "2"]
    assert client.get("/api/comic/42/issues", headers=read_headers).status_code == 404


def test_bad_paging_is_a_400_in_the_envelope(client, read_headers):
    response = client.get("/api/wanted", query_string={"limit": 0}, headers=read_headers)
    assert response.status_code in (400, 422) and response.json["success"] is False


def test_a_plain_users_key_cannot_read_the_admins_watchlist(client, headers, reader):
    """SeriesRead lets a user browse the library's series; the *arr watchlist,
    wanted issues and story arcs are the admin's and span every library."""
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from tests.factories import api_key_for

    add_inhumans(client, headers)
    plain = {"X-Api-Key": api_key_for(reader, sorted(USER_PERMISSIONS))}
    for path in ("/api/wanted", "/api/watchlist", "/api/comics", "/api/comic/1",
                 "/api/comic/1/issues", "/api/series", "/api/series/1", "/api/storyarcs"):
        response = client.get(path, headers=plain)
        assert response.status_code == 403, path
        assert response.json == {"success": False, "error": {
            "code": 403, "message": "This needs the SystemAdmin permission"}}
        assert client.get(path, query_string={"apikey": headers["X-Api-Key"]}).status_code in (
            200, 404), path
