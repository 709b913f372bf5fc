"""The migrations must build exactly the schema the models declare, on
SQLite and on PostgreSQL, and must downgrade cleanly."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from comicsrv.database import upgrade
from comicsrv.extensions import db


def _diff(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_as_batch": True})
        return compare_metadata(context, db.metadata)


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_migrations_produce_the_models_schema(app):
    assert _diff(app) == []


def test_every_model_table_exists(app):
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_downgrade_to_base_and_upgrade_again(make_app, tmp_path):
    # A private SQLite database: the shared one stays as it is for other tests.
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    app = make_app(DATABASE_URL=url)
    upgrade(app, "head")
    upgrade_tables = set(inspect_tables(app))
    from flask_migrate import downgrade

    with app.app_context():
        downgrade(directory=app.extensions["migrate"].directory, revision="base")
    assert set(inspect_tables(app)) == {"alembic_version"}
    upgrade(app, "head")
    assert set(inspect_tables(app)) == upgrade_tables
    assert _diff(app) == []


def inspect_tables(app):
    with app.app_context():
        return inspect(db.engine).get_table_names()


def test_expression_indexes_exist(app):
    # compare_metadata cannot reflect expression indexes, so check by name.
    declared = {index.name for index in db.metadata.tables["books"].indexes}
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'books'"
        else:
            query = "SELECT indexname FROM pg_indexes WHERE tablename = 'books'"
        present = set(conn.exec_driver_sql(query).scalars())
    assert {"ix_books_title_sort", "ix_books_number_sort"} <= declared <= present
