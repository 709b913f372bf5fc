"""``/api/categories``: static and dynamic categories, the bookmark link."""
import re

from comicsrv.extensions import db
from comicsrv.models import Category, CategoryBook
from tests.factories import CategoryBookFactory, CategoryFactory

from .conftest import book_named


def test_create_list_get_update_delete(client, captain, lrr_admin):
    created = client.put("/api/categories", data={"name": "Favourites", "pinned": "true"},
                         headers=lrr_admin)
    assert created.status_code == 200
    category_id = created.json["category_id"]
    assert re.fullmatch(r"SET_\d{10}", category_id)
    assert created.json == {"operation": "create_category", "category_id": category_id,
                            "success": 1}
    listed = client.get("/api/categories", headers=lrr_admin).json
    assert [(c["id"], c["name"], c["pinned"], c["search"], c["archives"]) for c in listed] == [
        (category_id, "Favourites", 1, "", [])]
    assert isinstance(listed[0]["last_used"], str)

    updated = client.put(f"/api/categories/{category_id}", query_string={"name": "Faves"},
                         headers=lrr_admin)
    assert updated.json == {"operation": "update_category", "category_id": category_id, "success": 1}
    one = client.get(f"/api/categories/{category_id}", headers=lrr_admin).json
    assert (one["name"], one["pinned"]) == ("Faves", 0)  # unpinned without "pinned"

    deleted = client.delete(f"/api/categories/{category_id}", headers=lrr_admin)
    assert deleted.json == {"operation": "delete_category", "error": "", "success": 1,
                            "successMessage": ""}
    assert client.get("/api/categories", headers=lrr_admin).json == []


def test_lrreader_create_and_update_with_its_parameters(client, scanned_library, lrr_admin):
    """LRReader sends every field as a query parameter, ``pinned`` as 0/1,
    and empty strings for what it does not change; it checks with HEAD."""
    assert client.head("/api/categories", headers=lrr_admin).status_code == 200
    created = client.put("/api/categories?name=Horror&search=genre:horror&pinned=1",
                         headers=lrr_admin).json["category_id"]
    client.put(f"/api/categories/{created}?name=&search=&pinned=0", headers=lrr_admin)
    body = client.get(f"/api/categories/{created}", headers=lrr_admin).json
    assert (body["name"], body["search"], body["pinned"]) == ("Horror", "genre:horror", 0)


def test_two_categories_in_one_second_get_distinct_ids(client, scanned_library, lrr_admin):
    ids = {client.put(f"/api/categories?name=c{n}", headers=lrr_admin).json["category_id"]
           for n in range(3)}
    assert len(ids) == 3


def test_create_without_a_name_is_lanraragis_error(client, scanned_library, lrr_admin):
    response = client.put("/api/categories", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json == {"operation": "create_category", "error": "Category name not specified.",
                             "success": 0, "successMessage": ""}


def test_unknown_and_malformed_category_ids(client, scanned_library, lrr_admin):
    response = client.get("/api/categories/SET_0000000000", headers=lrr_admin)
    assert response.status_code == 400
    assert response.json["error"] == "The given category does not exist."
    response = client.get("/api/categories/SET_1", headers=lrr_admin)
    assert response.json == {"errors": [{"message": "String is too short: 5/14.", "path": "/id"}],
                             "status": 400}


def test_adding_and_removing_archives(client, captain, lrr_admin):
    category = CategoryFactory()
    other = book_named("rar4.cbr")
    for book in (captain, other, captain):
        response = client.put(f"/api/categories/{category.id}/{book.arcid}", headers=lrr_admin)
        assert response.json["success"] == 1
    listed = client.get(f"/api/categories/{category.id}", headers=lrr_admin).json
    assert listed["archives"] == [captain.arcid, other.arcid]
    response = client.delete(f"/api/categories/{category.id}/{captain.arcid}", headers=lrr_admin)
    assert response.json["operation"] == "remove_from_category"
    assert client.get(f"/api/categories/{category.id}", headers=lrr_admin).json["archives"] == [
        other.arcid]
    unknown = client.put(f"/api/categories/{category.id}/{'0' * 40}", headers=lrr_admin)
    assert unknown.status_code == 400
    assert unknown.json["operation"] == "add_to_category"


def test_dynamic_categories_hold_no_archives(client, captain, lrr_admin):
    dynamic = CategoryFactory(search="genre:horror")
    response = client.put(f"/api/categories/{dynamic.id}/{captain.arcid}", headers=lrr_admin)
    assert response.status_code == 400
    assert "dynamic" in response.json["error"]
    assert client.get(f"/api/categories/{dynamic.id}", headers=lrr_admin).json["archives"] == []


def test_a_search_cannot_be_added_to_a_category_with_archives(client, captain, lrr_admin):
    category = CategoryFactory()
    CategoryBookFactory(category=category, book=captain)
    response = client.put(f"/api/categories/{category.id}?search=genre:x", headers=lrr_admin)
    assert response.status_code == 400
    assert db.session.get(Category, category.id).search == ""


def test_deleting_an_archive_empties_it_from_categories(client, captain, lrr_admin):
    category = CategoryFactory()
    CategoryBookFactory(category=category, book=captain)
    client.delete(f"/api/archives/{captain.arcid}", headers=lrr_admin)
    assert db.session.query(CategoryBook).count() == 0


def test_archives_outside_the_callers_libraries_are_not_listed(client, captain, lrr_admin):
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from tests.factories import UserFactory, api_key_for

    from .conftest import bearer

    category = CategoryFactory()
    CategoryBookFactory(category=category, book=captain)
    limited = bearer(api_key_for(UserFactory(library_ids=[]), sorted(USER_PERMISSIONS)))
    assert client.get(f"/api/categories/{category.id}", headers=limited).json["archives"] == []


def test_bookmark_link(client, scanned_library, lrr_admin):
    first, second = CategoryFactory(), CategoryFactory()
    dynamic = CategoryFactory(search="x")
    assert client.get("/api/categories/bookmark_link", headers=lrr_admin).json == {
        "operation": "get_bookmark_link", "success": 1, "category_id": ""}
    for category in (first, second):
        response = client.put(f"/api/categories/bookmark_link/{category.id}", headers=lrr_admin)
        assert response.json == {"operation": "update_bookmark_link", "success": 1,
                                 "category_id": category.id}
    assert client.get("/api/categories/bookmark_link", headers=lrr_admin).json["category_id"] == second.id
    assert db.session.query(Category).filter(Category.bookmark.is_(True)).count() == 1
    assert client.put(f"/api/categories/bookmark_link/{dynamic.id}",
                      headers=lrr_admin).status_code == 400
    missing = client.put("/api/categories/bookmark_link/SET_0000000000", headers=lrr_admin)
    assert missing.status_code == 404 and missing.json["operation"] == "update_bookmark_link"
    removed = client.delete("/api/categories/bookmark_link", headers=lrr_admin)
    assert removed.json == {"operation": "remove_bookmark_link", "success": 1,
                            "category_id": second.id}
    assert client.get("/api/categories/bookmark_link", headers=lrr_admin).json["category_id"] == ""


# -- who may change what ---------------------------------------------------------

def test_a_plain_user_cannot_change_or_delete_the_servers_categories(client, captain, reader,
                                                                     lrr_reader, lrr_admin):
    """The server's categories are everyone's: a plain user's default key sees
    them but gets LANraragi's 403 body for every change, and nothing changes."""
    server = client.put("/api/categories?name=Staff picks", headers=lrr_admin).json["category_id"]
    client.put(f"/api/categories/{server}/{captain.arcid}", headers=lrr_admin)
    assert server in {c["id"] for c in client.get("/api/categories", headers=lrr_reader).json}

    for method, path, operation in (
            ("put", f"/api/categories/{server}?name=Mine now", "update_category"),
            ("delete", f"/api/categories/{server}", "delete_category"),
            ("put", f"/api/categories/{server}/{book_named('rar4.cbr').arcid}", "add_to_category"),
            ("delete", f"/api/categories/{server}/{captain.arcid}", "remove_from_category"),
            ("put", f"/api/categories/bookmark_link/{server}", "update_bookmark_link"),
            ("delete", "/api/categories/bookmark_link", "remove_bookmark_link")):
        response = getattr(client, method)(path, headers=lrr_reader)
        assert response.status_code == 403, path
        assert response.json["operation"] == operation and response.json["success"] == 0
        assert "MetadataWrite" in response.json["error"]
    db.session.expire_all()
    category = db.session.get(Category, server)
    assert category.name == "Staff picks" and category.owner_id is None
    assert [m.book_id for m in db.session.query(CategoryBook)] == [captain.id]


def test_a_plain_users_category_is_their_own(client, captain, reader, lrr_reader, lrr_admin):
    """A plain user may keep categories, like favorites: only they see them and
    change them; the admin's list and search do not show them."""
    mine = client.put("/api/categories?name=To finish", headers=lrr_reader)
    assert mine.status_code == 200
    mine = mine.json["category_id"]
    assert db.session.get(Category, mine).owner_id == reader.id
    assert client.put(f"/api/categories/{mine}/{captain.arcid}",
                      headers=lrr_reader).json["success"] == 1
    assert client.put(f"/api/categories/{mine}?name=Finish soon&pinned=1",
                      headers=lrr_reader).json["success"] == 1
    body = client.get(f"/api/categories/{mine}", headers=lrr_reader).json
    assert (body["name"], body["pinned"], body["archives"]) == ("Finish soon", 1, [captain.arcid])
    searched = client.get("/api/search", query_string={"category": mine}, headers=lrr_reader).json
    assert [a["arcid"] for a in searched["data"]] == [captain.arcid]
    categories = client.get(f"/api/archives/{captain.arcid}/categories", headers=lrr_reader).json
    assert [c["id"] for c in categories["categories"]] == [mine]

    # Nobody else sees it, the admin included: to them the id does not exist.
    assert client.get("/api/categories", headers=lrr_admin).json == []
    unknown = client.get(f"/api/categories/{mine}", headers=lrr_admin)
    assert unknown.status_code == 400
    assert unknown.json["error"] == "The given category does not exist."
    assert client.get(f"/api/archives/{captain.arcid}/categories",
                      headers=lrr_admin).json["categories"] == []
    everything = client.get("/api/search", query_string={"category": mine},
                            headers=lrr_admin).json
    assert everything["recordsFiltered"] == everything["recordsTotal"]  # no filter applied
    assert client.put(f"/api/categories/bookmark_link/{mine}", headers=lrr_admin).status_code == 404

    assert client.delete(f"/api/categories/{mine}", headers=lrr_reader).json["success"] == 1
    assert db.session.get(Category, mine) is None


def test_another_users_category_is_out_of_reach(client, captain, reader, lrr_reader):
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from tests.factories import UserFactory, api_key_for

    from .conftest import bearer

    theirs = CategoryFactory(owner_id=reader.id, name="Reader's")
    CategoryBookFactory(category=theirs, book=captain)
    other = bearer(api_key_for(UserFactory(), sorted(USER_PERMISSIONS)))
    assert client.get("/api/categories", headers=other).json == []
    for method, path in (("get", f"/api/categories/{theirs.id}"),
                         ("put", f"/api/categories/{theirs.id}?name=Gotcha"),
                         ("delete", f"/api/categories/{theirs.id}/{captain.arcid}")):
        response = getattr(client, method)(path, headers=other)
        assert response.status_code == 400, path
        assert response.json["error"] == "The given category does not exist."
    # Deleting what one cannot see succeeds as for an unknown id, and deletes nothing.
    assert client.delete(f"/api/categories/{theirs.id}", headers=other).json["success"] == 1
    db.session.expire_all()
    assert db.session.get(Category, theirs.id).name == "Reader's"
    assert db.session.query(CategoryBook).count() == 1


def test_a_granted_curator_keeps_the_servers_categories(client, captain, lrr_admin):
    """MetadataWrite, granted by an admin, lets a user create and change the
    server's categories, as the admin does."""
    from tests.factories import UserFactory, api_key_for

    from .conftest import bearer

    curator = UserFactory(granted_permissions=["MetadataWrite"])
    headers = bearer(api_key_for(curator, ["BooksRead", "BooksWrite", "MetadataWrite"]))
    admins = CategoryFactory(name="Admin's")
    created = client.put("/api/categories?name=Curated", headers=headers).json["category_id"]
    assert db.session.get(Category, created).owner_id is None  # the server's
    assert created in {c["id"] for c in client.get("/api/categories", headers=lrr_admin).json}
    assert client.put(f"/api/categories/{admins.id}?name=Renamed",
                      headers=headers).json["success"] == 1
    assert client.put(f"/api/categories/bookmark_link/{admins.id}",
                      headers=headers).json["success"] == 1
    assert client.delete(f"/api/categories/{admins.id}", headers=headers).json["success"] == 1
    assert db.session.get(Category, admins.id) is None


def test_a_users_categories_go_with_the_user(client, reader, lrr_reader, admin_headers):
    mine = client.put("/api/categories?name=Mine", headers=lrr_reader).json["category_id"]
    assert client.delete(f"/api/v1/users/{reader.id}", headers=admin_headers).status_code == 204
    db.session.expire_all()
    assert db.session.get(Category, mine) is None
