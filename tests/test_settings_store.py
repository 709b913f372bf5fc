"""Typed admin settings and user preferences: defaults, validation, history."""
import pytest

from comicsrv import settings_store
from comicsrv.errors import Conflict
from comicsrv.extensions import db
from comicsrv.models import Setting, SettingChange, UserPreference
from comicsrv.settings_store import (
    PREFERENCES, SETTINGS, InvalidValue, UnknownPreference, UnknownSetting, get_preference,
    get_setting, reset_preference, reset_setting, set_preference, set_setting, set_settings,
)
from tests.factories import AdminFactory, UserFactory


def _changes(key):
    return db.session.execute(db.select(SettingChange).where(SettingChange.key == key)
                              .order_by(SettingChange.id)).scalars().all()


def test_every_setting_reads_its_default_until_set(app):
    values = {key: get_setting(key) for key in SETTINGS}
    assert values == {key: option.default for key, option in SETTINGS.items()}
    assert {key: values[key] for key in (
        "auth.allow_registration", "library.public_reading", "library.recent_days",
        "covers.size", "postprocess.transfer_mode", "automation.rss_interval_minutes")} == {
        "auth.allow_registration": False, "library.public_reading": False,
        "library.recent_days": 30, "covers.size": 400, "postprocess.transfer_mode": "move",
        "automation.rss_interval_minutes": 15}
    assert db.session.execute(db.select(Setting)).first() is None


def test_every_default_passes_its_own_validation():
    for option in (*SETTINGS.values(), *PREFERENCES.values()):
        assert option.clean(option.fresh_default()) == option.default, option.key


def test_set_setting_stores_the_value_and_a_history_row(app):
    admin = AdminFactory()
    state = set_setting("covers.size", 800, admin.id)
    assert state["value"] == 800 and state["is_default"] is False
    assert state["updated_by"] == admin.username
    assert get_setting("covers.size") == 800
    set_setting("covers.size", 1200, admin.id)
    assert [(c.old_value, c.new_value, c.changed_by) for c in _changes("covers.size")] == [
        (400, 800, admin.id), (800, 1200, admin.id)]


def test_setting_the_current_value_writes_nothing(app):
    set_setting("library.recent_days", 30, None)  # the default, never set
    assert db.session.get(Setting, "library.recent_days") is None
    set_setting("library.recent_days", 7, None)
    set_setting("library.recent_days", 7, None)
    assert len(_changes("library.recent_days")) == 1


@pytest.mark.parametrize("key, value, message", [
    ("auth.allow_registration", "yes", "auth.allow_registration: must be true or false"),
    ("auth.allow_registration", 1, "auth.allow_registration: must be true or false"),
    ("covers.size", 63, "covers.size: must be between 64 and 2000"),
    ("covers.size", 2001, "covers.size: must be between 64 and 2000"),
    ("covers.size", True, "covers.size: must be a whole number"),
    ("covers.size", 400.5, "covers.size: must be a whole number"),
    ("covers.size", None, "covers.size: must be a whole number"),
    ("filesystem.allowed_roots", "/comics", "must be a list of absolute paths"),
    ("filesystem.allowed_roots", ["comics"], "'comics' is not an absolute path"),
    ("filesystem.allowed_roots", ["/a\x00b"], "cannot contain a NUL character"),
    ("filesystem.allowed_roots", [""], "every entry must be a non-empty path"),
    ("postprocess.rename_template", "{issue.__init__.__globals__[re]}",
     "postprocess.rename_template: {issue.__init__.__globals__[re]}: a field is a plain name"),
    ("postprocess.rename_template", "{issue:1000000000}",
     "postprocess.rename_template: {issue:1000000000}: the width must be between 1 and 16"),
    ("postprocess.torrent_transfer_mode", "hardlink",
     "must be one of hardlink_or_copy, copy, move"),
])
def test_invalid_values_are_refused_with_a_message(app, key, value, message):
    with pytest.raises(InvalidValue) as caught:
        set_setting(key, value, None)
    assert message in caught.value.message
    assert caught.value.status == 400
    assert db.session.get(Setting, key) is None


def test_a_nullable_setting_takes_none_and_its_type(app):
    assert set_setting("lrr.upload_library_id", 3, None)["value"] == 3
    assert set_setting("lrr.upload_library_id", None, None)["value"] is None
    with pytest.raises(InvalidValue):
        set_setting("lrr.upload_library_id", 0, None)
    with pytest.raises(InvalidValue):
        set_setting("lrr.archives_per_page", None, None)  # not nullable


def test_path_lists_are_normalised_and_deduplicated(app):
    state = set_setting("filesystem.allowed_roots", ["/srv/comics/", "/srv//comics", "/mnt/x/../y"],
                        None)
    assert state["value"] == ["/srv/comics", "/mnt/y"]


def test_unknown_setting_is_not_found(app):
    with pytest.raises(UnknownSetting) as caught:
        get_setting("no.such.key")
    assert caught.value.status == 404
    with pytest.raises(UnknownSetting):
        set_setting("no.such.key", 1, None)


def test_bulk_is_all_or_nothing_and_names_every_bad_key(app):
    with pytest.raises(InvalidValue) as caught:
        set_settings({"covers.size": 500, "library.recent_days": 0, "nope": 1}, None)
    assert caught.value.details == {"library.recent_days": "must be between 1 and 3650",
                                    "nope": "unknown setting"}
    assert get_setting("covers.size") == 400
    assert db.session.execute(db.select(SettingChange)).first() is None

    items = set_settings({"covers.size": 500, "library.public_reading": True}, None)
    assert [(i["key"], i["value"]) for i in items] == [
        ("library.public_reading", True), ("covers.size", 500)]
    assert get_setting("library.public_reading") is True


def test_reset_removes_the_row_and_records_the_change(app):
    admin = AdminFactory()
    set_setting("library.public_reading", True, admin.id)
    state = reset_setting("library.public_reading", admin.id)
    assert state["value"] is False and state["is_default"] is True
    assert db.session.get(Setting, "library.public_reading") is None
    assert [(c.old_value, c.new_value) for c in _changes("library.public_reading")] == [
        (False, True), (True, False)]
    reset_setting("library.public_reading", admin.id)  # already default: no new row
    assert len(_changes("library.public_reading")) == 2


def test_a_stored_value_that_no_longer_validates_reads_as_the_default(app):
    db.session.add(Setting(key="covers.size", value=99999))
    db.session.commit()
    assert get_setting("covers.size") == 400


def test_a_list_default_cannot_be_changed_through_a_returned_value(app):
    get_setting("filesystem.allowed_roots").append("/etc")
    assert get_setting("filesystem.allowed_roots") == []


def test_an_insert_race_on_the_same_key_is_a_conflict_not_a_crash(app):
    # Another process stored the key after this session looked: the row is in
    # the table but not in this session, whose insert then collides.
    db.session.execute(db.insert(Setting).values(key="covers.size", value=700))
    db.session.add(Setting(key="covers.size", value=600))
    with pytest.raises(Conflict):
        settings_store._commit()
    assert get_setting("covers.size") == 400  # rolled back, nothing half-written


def test_preferences_have_defaults_and_are_per_user(app):
    alice, bob = UserFactory(), UserFactory()
    assert get_preference(alice.id, "api_browse_mode") == "metadata"
    set_preference(alice.id, "api_browse_mode", "filesystem")
    set_preference(alice.id, "language", "pt-BR")
    assert get_preference(alice.id, "api_browse_mode") == "filesystem"
    assert get_preference(bob.id, "api_browse_mode") == "metadata"
    by_key = {p["key"]: p for p in settings_store.user_preferences(alice.id)}
    assert list(by_key) == list(PREFERENCES)
    assert by_key["language"]["value"] == "pt-BR" and by_key["language"]["is_default"] is False
    assert by_key["theme"]["value"] == "system" and by_key["theme"]["is_default"] is True


def test_preference_validation_and_reset(app):
    user = UserFactory()
    with pytest.raises(UnknownPreference) as caught:
        set_preference(user.id, "font", "big")
    assert caught.value.status == 400
    with pytest.raises(InvalidValue) as caught:
        set_preference(user.id, "api_browse_mode", "folders")
    assert caught.value.message == "api_browse_mode: must be one of metadata, filesystem"
    with pytest.raises(InvalidValue) as caught:
        set_preference(user.id, "language", "not a language")
    assert caught.value.message == (
        "language: must be a language tag such as en or pt-BR, not 'not a language'")
    set_preference(user.id, "theme", "dark")
    reset_preference(user.id, "theme")
    assert get_preference(user.id, "theme") == "system"
    assert db.session.execute(db.select(UserPreference)).first() is None


def test_a_secret_setting_is_stored_but_never_shown(app):
    admin = AdminFactory()
    assert settings_store.settings_state(["metadata.comicvine_api_key"])[0]["value"] == ""
    set_setting("metadata.comicvine_api_key", "cv-secret-key", admin.id)
    assert get_setting("metadata.comicvine_api_key") == "cv-secret-key"
    state = settings_store.settings_state(["metadata.comicvine_api_key"])[0]
    assert state["value"] == "********" and state["secret"] is True
    history = settings_store.describe_changes(
        db.session.execute(settings_store.history_query("metadata.comicvine_api_key")).scalars().all())
    assert [(h["old_value"], h["new_value"]) for h in history] == [("", "********")]
