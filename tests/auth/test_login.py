"""``password_login``: the one password check every login form and HTTP
Basic go through."""
import pytest

from comicsrv.auth.login import password_login
from comicsrv.errors import TooManyRequests, Unauthorized
from tests.factories import PASSWORD, UserFactory


def test_the_right_password_gives_the_user(app):
    alice = UserFactory(username="alice")
    assert password_login("alice", PASSWORD, address="10.0.0.1").id == alice.id


@pytest.mark.parametrize("username, password", [
    ("alice", "wrong password"),
    ("nobody", PASSWORD),
    ("gone", PASSWORD),          # deactivated
    ("Alice", PASSWORD),         # user names are exact; only the throttle folds case
    ("\ud800", PASSWORD),        # text no database driver accepts
    ("al\x00ice", PASSWORD),
    ("alice", "\udfff"),
    ("", ""),
])
def test_anything_else_is_unauthorized_with_one_message(app, username, password):
    UserFactory(username="alice")
    UserFactory(username="gone", is_active=False)
    with pytest.raises(Unauthorized) as refusal:
        password_login(username, password, address="10.0.0.1")
    assert refusal.value.message == "Invalid username or password"


def test_a_lockout_refuses_the_right_password_with_the_seconds_to_wait(app, caplog):
    UserFactory(username="alice")
    for _ in range(5):
        with pytest.raises(Unauthorized):
            password_login("alice", "hunter2 is wrong", address="10.0.0.1")
    with pytest.raises(TooManyRequests) as refusal:
        password_login("alice", PASSWORD, address="10.0.0.1")
    assert refusal.value.status == 429 and 0 < refusal.value.retry_after <= 300
    assert password_login("alice", PASSWORD, address="10.0.0.2").username == "alice"
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "'alice'" in line and "10.0.0.1" in line and "hunter2" not in line


def test_the_address_defaults_to_the_requests(app):
    UserFactory(username="alice")
    for _ in range(5):
        with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.1"}):
            with pytest.raises(Unauthorized):
                password_login("alice", "wrong password")
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.1"}):
        with pytest.raises(TooManyRequests):
            password_login("alice", PASSWORD)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.2"}):
        assert password_login("alice", PASSWORD).username == "alice"
