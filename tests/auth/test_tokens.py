"""The session JWT: what makes one valid, and every way it stops being valid."""
from datetime import timedelta

import jwt

from comicsrv.auth.tokens import ALGORITHM, issue_token, user_for_token
from comicsrv.extensions import db
from comicsrv.models import utcnow
from tests.factories import UserFactory


def _claims(token, app):
    return jwt.decode(token, app.config["SECRET_KEY"], algorithms=[ALGORITHM])


def test_token_carries_user_generation_and_lifetime(app):
    user = UserFactory(token_generation=3)
    token, expires_in = issue_token(user)
    claims = _claims(token, app)
    assert claims["sub"] == str(user.id) and claims["gen"] == 3
    assert claims["exp"] - claims["iat"] == expires_in == 86400
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert user_for_token(token) == user


def test_lifetime_follows_the_setting(make_app):
    app = make_app(SESSION_TTL_SECONDS=600)
    with app.app_context():
        token, expires_in = issue_token(UserFactory())
        claims = _claims(token, app)
    assert expires_in == 600 and claims["exp"] - claims["iat"] == 600


def test_bumping_the_generation_revokes_the_token(app):
    user = UserFactory()
    token, _ = issue_token(user)
    user.token_generation += 1
    db.session.commit()
    assert user_for_token(token) is None
    fresh, _ = issue_token(user)
    assert user_for_token(fresh) == user


def test_expired_token_is_refused(app):
    user = UserFactory()
    past = utcnow() - timedelta(hours=2)
    token = jwt.encode({"sub": str(user.id), "iat": past, "exp": past + timedelta(hours=1),
                        "gen": 0}, app.config["SECRET_KEY"], algorithm=ALGORITHM)
    assert user_for_token(token) is None


def test_foreign_signature_algorithm_none_and_garbage_are_refused(app):
    user = UserFactory()
    claims = {"sub": str(user.id), "iat": utcnow(), "exp": utcnow() + timedelta(hours=1), "gen": 0}
    foreign_key = "another server's secret, long enough for HS256"
    assert user_for_token(jwt.encode(claims, foreign_key, algorithm=ALGORITHM)) is None
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert user_for_token(unsigned) is None
    for junk in ("", "a.b.c", "x" * 5000, "eyJhbGciOiJIUzI1NiJ9.e30."):
        assert user_for_token(junk) is None


def test_missing_or_odd_claims_are_refused(app):
    user = UserFactory()
    key = app.config["SECRET_KEY"]
    now = utcnow()
    base = {"sub": str(user.id), "iat": now, "exp": now + timedelta(hours=1), "gen": 0}
    for broken in ({k: v for k, v in base.items() if k != "gen"},
                   {**base, "sub": "not-a-number"},
                   {**base, "sub": str(2**40)},
                   {**base, "gen": "x"}):
        assert user_for_token(jwt.encode(broken, key, algorithm=ALGORITHM)) is None, broken


def test_inactive_or_deleted_user_token_is_refused(app):
    user = UserFactory()
    token, _ = issue_token(user)
    user.is_active = False
    db.session.commit()
    assert user_for_token(token) is None
    other = UserFactory()
    token, _ = issue_token(other)
    db.session.delete(other)
    db.session.commit()
    assert user_for_token(token) is None
