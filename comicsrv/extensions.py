"""The extension objects, created unbound and wired to an app by ``create_app``.

Modules import these names; nothing here knows about a particular app, so
tests can build as many apps as they like.
"""
from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints: Alembic can drop and alter them on PostgreSQL and in
# SQLite batch mode only when they have stable names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# Flask-Migrate is bound by ``comicsrv.database.install_migrations`` when a
# migration runs: importing it (Alembic, Mako, Pygments) costs ~10 MB that
# a server which migrates nothing would carry all its life.
