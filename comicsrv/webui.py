"""The web UI's pages (server-rendered; no build step)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from . import __version__
from .extensions import db
from .models import Book, Library, Series

blp = Blueprint("web", __name__)


@blp.get("/")
def index():
    """The start page: what is in the library and where the APIs are."""
    counts = {
        "libraries": db.session.scalar(db.select(db.func.count(Library.id))),
        "series": db.session.scalar(db.select(db.func.count(Series.id))),
        "books": db.session.scalar(db.select(db.func.count(Book.id)).where(Book.state == "ok")),
    }
    return render_template("index.html", version=__version__, counts=counts,
                           docs_enabled=current_app.config["API_DOCS_ENABLED"],
                           docs_path=current_app.config["API_DOCS_PATH"])
