"""The account rules behind the API and the CLI."""
import pytest

from comicsrv.auth.permissions import PERMISSIONS, USER_PERMISSIONS
from comicsrv.auth.users import (
    check_permissions, create_api_key, create_first_admin, create_user, delete_user,
    registration_allowed, update_user,
)
from comicsrv.errors import BadRequest, Conflict, Forbidden
from comicsrv.extensions import db
from comicsrv.models import ApiKey, Setting, User
from tests.factories import AdminFactory, LibraryFactory, UserFactory


def test_first_admin_only_once(app):
    admin = create_first_admin("boss", "long enough")
    assert admin.is_admin and admin.is_active
    with pytest.raises(Conflict) as caught:
        create_first_admin("second", "long enough")
    assert caught.value.code == "already_initialized"
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_create_user_checks_password_name_and_libraries(app):
    library = LibraryFactory()
    with pytest.raises(BadRequest):
        create_user("x", "short")
    with pytest.raises(BadRequest):
        create_user("   ", "long enough")
    with pytest.raises(BadRequest) as caught:
        create_user("x", "long enough", library_ids=[library.id, 999])
    assert caught.value.details == {"library_ids": [999]}
    user = create_user(" x ", "long enough", library_ids=[library.id, library.id])
    assert user.username == "x" and user.library_ids == [library.id]
    with pytest.raises(Conflict):
        create_user("x", "long enough")


def test_the_last_active_admin_cannot_go(app):
    admin = AdminFactory()
    inactive_admin = AdminFactory(is_active=False)
    for changes in ({"is_admin": False}, {"is_active": False}):
        with pytest.raises(Conflict) as caught:
            update_user(admin, changes)
        assert caught.value.code == "last_admin"
    with pytest.raises(Conflict):
        delete_user(admin)
    db.session.refresh(admin)
    assert admin.is_admin and admin.is_active
    # A second active admin lifts the restriction.
    update_user(inactive_admin, {"is_active": True})
    update_user(admin, {"is_admin": False})
    assert not admin.is_admin
    # Plain users come and go freely.
    delete_user(UserFactory())


def test_deactivating_or_a_new_password_bumps_the_generation(app):
    user = UserFactory()
    update_user(user, {"email": "a@example.org"})
    assert user.token_generation == 0
    update_user(user, {"password": "a new password"})
    assert user.token_generation == 1
    update_user(user, {"is_active": False})
    assert user.token_generation == 2
    update_user(user, {"is_active": False})
    assert user.token_generation == 2


def test_a_refused_update_changes_nothing(app):
    admin = AdminFactory(username="only")
    with pytest.raises(Conflict):
        update_user(admin, {"username": "renamed", "is_admin": False})
    db.session.expire_all()
    assert db.session.get(User, admin.id).username == "only"


def test_check_permissions(app):
    user, admin = UserFactory(), AdminFactory()
    assert check_permissions(["PagesRead", "BooksRead", "BooksRead"], owner=user) == \
        ["BooksRead", "PagesRead"]
    with pytest.raises(BadRequest) as caught:
        check_permissions(["BooksRead", "Nope", "Fly"], owner=user)
    assert caught.value.details == {"unknown_permissions": ["Fly", "Nope"]}
    with pytest.raises(Forbidden):
        check_permissions(["BooksRead", "TasksRead"], owner=user,
                          granter_permissions=frozenset({"BooksRead"}))
    with pytest.raises(BadRequest):  # a plain user could never use it
        check_permissions(["UsersWrite"], owner=user,
                          granter_permissions=frozenset({"SystemAdmin"}))
    assert check_permissions(["SystemAdmin"], owner=admin,
                             granter_permissions=frozenset({"SystemAdmin"})) == ["SystemAdmin"]


def test_cli_key_defaults_to_what_the_owner_may_hold(app):
    UserFactory(username="plain")
    AdminFactory(username="root")
    row, key = create_api_key("plain")
    assert set(row.permissions) == USER_PERMISSIONS and key.startswith("csrv_")
    row, _ = create_api_key("root", "ops")
    assert row.permissions == list(PERMISSIONS) and row.name == "ops"
    assert db.session.scalar(db.select(db.func.count(ApiKey.id))) == 2


def test_registration_setting(app):
    assert registration_allowed() is False
    db.session.add(Setting(key="auth.allow_registration", value=True))
    db.session.commit()
    assert registration_allowed() is True
