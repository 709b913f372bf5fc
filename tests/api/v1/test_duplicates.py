"""``/api/v1/duplicates``: groups from the duplicates job, scoped, dismissable."""
import pytest

from comicsrv.extensions import db
from comicsrv.library.duplicates import DUPLICATES_JOB, find_duplicates
from comicsrv.models import DuplicateGroup, Job
from tests.factories import BookFactory, LibraryFactory, UserFactory, api_key_for

URL = "/api/v1/duplicates"


@pytest.fixture
def groups(app):
    """A content group (one file twice) inside library A, and a metadata group
    (the same issue twice) across libraries A and B."""
    lib_a, lib_b = LibraryFactory(path="/comics/a"), LibraryFactory(path="/comics/b")
    copy1 = BookFactory(library=lib_a, path="/comics/a/Saga 001.cbz", arcid="a" * 40, size=500,
                        series_name="Saga", number="1", year=2012, page_count=22)
    copy2 = BookFactory(library=lib_a, path="/comics/a/copy/Saga 001.cbz", arcid="a" * 40,
                        size=500, series_name="Saga", number="1", year=2012, page_count=22)
    other = BookFactory(library=lib_b, path="/comics/b/saga #001.cbr", size=900,
                        series_name="saga", number="001", year=2012, page_count=24)
    find_duplicates()
    by_kind = {g.kind: g for g in db.session.execute(db.select(DuplicateGroup)).scalars()}
    return {"content": by_kind["content"], "metadata": by_kind["metadata"], "lib_a": lib_a,
            "lib_b": lib_b, "copy1": copy1, "copy2": copy2, "other": other}


def test_lists_groups_with_their_books(client, admin_headers, groups):
    body = client.get(URL, headers=admin_headers).json
    assert body["total"] == 2 and body["page"] == 1 and body["has_more"] is False
    by_kind = {g["kind"]: g for g in body["items"]}
    content = by_kind["content"]
    assert content["id"] == groups["content"].id
    assert content["key"] == f"{'a' * 40}:500" and content["dismissed"] is False
    assert content["books"] == [
        {"id": groups["copy1"].id, "path": "/comics/a/Saga 001.cbz", "size": 500,
         "series_name": "Saga", "number": "1", "year": 2012, "page_count": 22},
        {"id": groups["copy2"].id, "path": "/comics/a/copy/Saga 001.cbz", "size": 500,
         "series_name": "Saga", "number": "1", "year": 2012, "page_count": 22}]
    assert [b["id"] for b in by_kind["metadata"]["books"]] == [
        groups["copy1"].id, groups["copy2"].id, groups["other"].id]


def test_filter_by_kind_and_page(client, admin_headers, groups):
    body = client.get(URL, query_string={"kind": "content"}, headers=admin_headers).json
    assert [g["id"] for g in body["items"]] == [groups["content"].id]
    body = client.get(URL, query_string={"page_size": 1, "page": 2}, headers=admin_headers).json
    assert len(body["items"]) == 1 and body["total_pages"] == 2 and body["has_more"] is False
    assert client.get(URL, query_string={"kind": "size"}, headers=admin_headers).status_code == 400


def test_a_plain_user_may_not_list_duplicates(client, reader_headers, groups):
    """The list is a library-keeping tool with every copy's path: a plain
    user's default permissions do not reach it."""
    response = client.get(URL, headers=reader_headers)
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert "LibrariesWrite" in response.json["message"]


def test_a_user_sees_only_books_of_their_libraries(client, groups):
    # A librarian of their own libraries: granted LibrariesWrite by an admin.
    user = UserFactory(library_ids=[groups["lib_b"].id], granted_permissions=["LibrariesWrite"])
    headers = {"X-API-Key": api_key_for(user, ["LibrariesWrite"])}
    # Only one book of each group is in library B: nothing to show.
    assert client.get(URL, headers=headers).json["items"] == []

    user.library_ids = [groups["lib_a"].id]
    db.session.commit()
    body = client.get(URL, headers=headers).json
    assert body["total"] == 2
    for group in body["items"]:
        assert {b["id"] for b in group["books"]} == {groups["copy1"].id, groups["copy2"].id}


def test_dismiss_hides_a_group_and_it_stays_dismissed_after_a_rescan(client, admin_headers,
                                                                    groups):
    group_id = groups["content"].id
    response = client.delete(f"{URL}/{group_id}", headers=admin_headers)
    assert response.status_code == 204 and response.data == b""
    assert [g["kind"] for g in client.get(URL, headers=admin_headers).json["items"]] == [
        "metadata"]
    find_duplicates()
    body = client.get(URL, query_string={"include_dismissed": "true"},
                      headers=admin_headers).json
    dismissed = {g["id"]: g["dismissed"] for g in body["items"]}
    assert dismissed == {group_id: True, groups["metadata"].id: False}


def test_dismiss_unknown_is_404_and_needs_libraries_write(client, admin_headers,
                                                          reader_headers, groups):
    assert client.delete(f"{URL}/999999", headers=admin_headers).status_code == 404
    response = client.delete(f"{URL}/{groups['content'].id}", headers=reader_headers)
    assert response.status_code == 403
    assert db.session.get(DuplicateGroup, groups["content"].id).dismissed is False


def test_scan_runs_the_duplicates_job(app, client, admin, admin_headers):
    BookFactory(arcid="b" * 40, size=10)
    BookFactory(arcid="b" * 40, size=10)
    response = client.post(f"{URL}/scan", headers=admin_headers)
    assert response.status_code == 202
    task = response.json
    assert task["task_type"] == DUPLICATES_JOB and task["status"] in ("queued", "running",
                                                                       "finished")
    assert app.extensions["comicsrv.jobs"].wait(task["id"], 10)
    db.session.expire_all()
    job = db.session.get(Job, task["id"])
    assert job.state == "finished" and job.user_id == admin.id
    assert job.result["groups"] == 1
    assert client.get(URL, headers=admin_headers).json["total"] == 1


def test_scan_while_one_runs_answers_the_running_task(app, client, admin_headers):
    running = Job(type=DUPLICATES_JOB, state="running")
    db.session.add(running)
    db.session.commit()
    response = client.post(f"{URL}/scan", headers=admin_headers)
    assert response.status_code == 202 and response.json["id"] == running.id
    assert db.session.execute(db.select(db.func.count(Job.id))).scalar() == 1


def test_scan_needs_libraries_write(client, reader_headers):
    assert client.post(f"{URL}/scan", headers=reader_headers).status_code == 403
    assert client.get(URL).status_code == 401
