"""``PUT /api/archives/upload``: checksum, duplicates, content sniffing, placement."""
import hashlib
import io
import os

from sqlalchemy import select

from comicsrv.extensions import db
from comicsrv.models import Book, CategoryBook
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import CategoryFactory, LibraryFactory, SettingFactory

NEW_COMIC = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001-cix.cbz"


def upload(client, headers, data: bytes, name: str = "My Upload.cbz", **fields):
    form = {"file": (io.BytesIO(data), name, "application/octet-stream"), **fields}
    return client.put("/api/archives/upload", data=form, headers=headers,
                      content_type="multipart/form-data")


def test_upload_lands_in_uploads_and_is_indexed_at_once(client, scanned_library, lrr_admin):
    data = NEW_COMIC.read_bytes()
    response = upload(client, lrr_admin, data, file_checksum=hashlib.sha1(data).hexdigest(),
                      title="Uploaded", tags="genre:Adventure, fresh", summary="From a client")
    assert response.status_code == 200
    arcid = hashlib.sha1(data[:512_000]).hexdigest()
    assert response.json == {"operation": "upload", "success": 1, "id": arcid,
                             "filename": "My Upload.cbz"}
    path = os.path.join(scanned_library.path, "Uploads", "My Upload.cbz")
    with open(path, "rb") as fh:
        assert fh.read() == data
    assert [name for name in os.listdir(os.path.dirname(path)) if name.startswith(".")] == []
    item = client.get(f"/api/archives/{arcid}/metadata", headers=lrr_admin).json
    assert item["title"] == "Uploaded"  # read back exactly as given at upload
    assert item["summary"] == "From a client"
    assert "genre:Adventure" in item["tags"] and ", fresh," in item["tags"]
    assert "writer:" in item["tags"]  # the file's own ComicInfo tags are kept
    assert item["isnew"] == "true" and item["pagecount"] > 0


def test_fields_may_come_as_query_parameters(client, scanned_library, lrr_admin):
    data = NEW_COMIC.read_bytes()
    response = client.put("/api/archives/upload", headers=lrr_admin,
                          query_string={"file_checksum": hashlib.sha1(data).hexdigest(),
                                        "title": "By query"},
                          data={"file": (io.BytesIO(data), "q.cbz")},
                          content_type="multipart/form-data")
    assert response.status_code == 200
    item = client.get(f"/api/archives/{response.json['id']}/metadata", headers=lrr_admin).json
    assert item["title"].endswith("By query")


def test_checksum_mismatch_is_417_and_nothing_is_kept(client, scanned_library, lrr_admin):
    data = NEW_COMIC.read_bytes()
    response = upload(client, lrr_admin, data, file_checksum="0" * 40)
    assert response.status_code == 417
    assert response.json == {"operation": "upload", "success": 0, "successMessage": "",
                             "error": f"Checksum mismatch: expected {'0' * 40}, "
                                      f"got {hashlib.sha1(data).hexdigest()}."}
    assert os.listdir(os.path.join(scanned_library.path, "Uploads")) == []


def test_a_malformed_checksum_is_a_validation_error(client, scanned_library, lrr_admin):
    response = upload(client, lrr_admin, NEW_COMIC.read_bytes(), file_checksum="xyz")
    assert response.status_code == 400
    assert response.json["errors"][0]["path"] == "/file_checksum"


def test_duplicate_is_409_with_the_existing_id(client, captain, lrr_admin):
    with open(captain.path, "rb") as fh:
        response = upload(client, lrr_admin, fh.read(), name="again.cbz")
    assert response.status_code == 409
    assert response.json["id"] == captain.arcid
    assert response.json["success"] == 0 and response.json["operation"] == "upload"
    assert "already exists" in response.json["error"]


def test_not_a_comic_is_415(client, scanned_library, lrr_admin):
    for data, name in ((b"just some text", "notes.cbz"), (b"", "empty.cbz"),
                       ((FIXTURE_ARCHIVES / "kavita" / "empty.zip").read_bytes(), "none.zip")):
        response = upload(client, lrr_admin, data, name=name)
        assert response.status_code == 415, name
        assert response.json["error"].startswith(f"Unsupported file extension ({name})")
    assert os.listdir(os.path.join(scanned_library.path, "Uploads")) == []


def test_no_file_is_400(client, scanned_library, lrr_admin):
    response = client.put("/api/archives/upload", data={"title": "x"}, headers=lrr_admin,
                          content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json["error"] == "No file attached"


def test_an_existing_name_is_never_overwritten(client, scanned_library, lrr_admin):
    folder = os.path.join(scanned_library.path, "Uploads")
    os.makedirs(folder)
    with open(os.path.join(folder, "Taken.cbz"), "wb") as fh:
        fh.write(b"precious")
    response = upload(client, lrr_admin, NEW_COMIC.read_bytes(), name="Taken.cbz")
    assert response.json["filename"] == "Taken (1).cbz"
    with open(os.path.join(folder, "Taken.cbz"), "rb") as fh:
        assert fh.read() == b"precious"


def test_a_hostile_name_is_reduced_to_a_plain_file_name(client, scanned_library, lrr_admin):
    response = upload(client, lrr_admin, NEW_COMIC.read_bytes(), name="../../evil/..\\.x.txt")
    assert response.status_code == 200
    # The content is a zip: the name gets an extension the scanner picks up.
    assert response.json["filename"] == "x.txt.cbz"
    assert os.path.exists(os.path.join(scanned_library.path, "Uploads", "x.txt.cbz"))


def test_upload_library_and_category_are_honoured(client, scanned_library, lrr_admin, tmp_path):
    other = LibraryFactory(path=str(tmp_path / "other"))
    os.makedirs(other.path)
    SettingFactory(key="lrr.upload_library_id", value=other.id)
    category = CategoryFactory()
    response = upload(client, lrr_admin, NEW_COMIC.read_bytes(), category_id=category.id)
    assert response.status_code == 200
    book = db.session.execute(select(Book).where(Book.arcid == response.json["id"])).scalar_one()
    assert book.library_id == other.id
    assert book.path == os.path.join(other.path, "Uploads", "My Upload.cbz")
    assert db.session.get(CategoryBook, (category.id, book.id)) is not None


def test_a_dynamic_or_unknown_category_is_refused_before_storing(client, scanned_library, lrr_admin):
    dynamic = CategoryFactory(search="genre:horror")
    for category_id in (dynamic.id, "SET_0000000001"):
        response = upload(client, lrr_admin, NEW_COMIC.read_bytes(), category_id=category_id)
        assert response.status_code == 400
    assert not os.path.exists(os.path.join(scanned_library.path, "Uploads", "My Upload.cbz"))


def test_upload_needs_libraries_write(client, scanned_library, lrr_reader):
    response = upload(client, lrr_reader, NEW_COMIC.read_bytes())
    assert response.status_code == 403


def test_an_unwritable_library_is_lanraragis_500(client, app, lrr_admin, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_bytes(b"")
    LibraryFactory(path=str(not_a_folder))
    response = upload(client, lrr_admin, NEW_COMIC.read_bytes())
    assert response.status_code == 500
    assert response.json["error"].startswith("The file couldn't be moved to your content folder")


def test_without_any_library_upload_is_refused(client, app, lrr_admin):
    response = upload(client, lrr_admin, NEW_COMIC.read_bytes())
    assert response.status_code == 400
    assert response.json["error"] == "There is no library to upload into: add one first."


def test_an_uploader_files_into_their_own_categories_not_the_servers(client, scanned_library):
    """Uploading needs LibrariesWrite; filing the upload into a category needs
    the right to change that category (the server's: MetadataWrite)."""
    from comicsrv.auth.permissions import USER_PERMISSIONS
    from tests.factories import UserFactory, api_key_for

    from .conftest import bearer

    uploader = UserFactory(granted_permissions=["LibrariesWrite"])
    headers = bearer(api_key_for(uploader, [*sorted(USER_PERMISSIONS), "LibrariesWrite"]))
    server_category = CategoryFactory()
    response = upload(client, headers, NEW_COMIC.read_bytes(), category_id=server_category.id)
    assert response.status_code == 403 and response.json["operation"] == "upload"
    assert not os.path.exists(os.path.join(scanned_library.path, "Uploads", "My Upload.cbz"))
    own = CategoryFactory(owner_id=uploader.id)
    response = upload(client, headers, NEW_COMIC.read_bytes(), category_id=own.id)
    assert response.status_code == 200
    book = db.session.execute(select(Book).where(Book.arcid == response.json["id"])).scalar_one()
    assert db.session.get(CategoryBook, (own.id, book.id)) is not None
