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


def test_a_fresh_database_has_lanraragis_favorites_bookmark_category(make_app, tmp_path):
    """LANraragi clients expect a fresh server's "🔖 Favorites" category,
    linked as the bookmark."""
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}", AUTO_MIGRATE=True)
    with app.app_context():
        client = app.test_client()
        from comicsrv.models import Category
        favorites = db.session.execute(db.select(Category)).scalars().all()
        assert [(c.name, c.bookmark, c.owner_id) for c in favorites] == [("🔖 Favorites", True, None)]
        assert len(favorites[0].id) == 14 and favorites[0].id.startswith("SET_")
        # Public reading is off on a fresh server: ask as an admin.
        from tests.factories import AdminFactory, api_key_for
        import base64
        key = api_key_for(AdminFactory(username="fresh"), ["SystemAdmin"])
        headers = {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}
        link = client.get("/api/categories/bookmark_link", headers=headers).json
        assert link["category_id"] == favorites[0].id


def test_the_bundled_heads_read_without_alembic_are_alembics():
    """``bundled_heads`` reads the migration files' revision assignments
    itself, so that a start at the head needs no Alembic; it must agree with
    Alembic's own reading (a new migration written another way would be
    caught here)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from comicsrv.database import bundled_heads, migrations_dir

    config = Config()
    config.set_main_option("script_location", migrations_dir())
    assert bundled_heads() == set(ScriptDirectory.from_config(config).get_heads())


START_AND_REPORT = """
import sys
from comicsrv.app import create_app
from comicsrv.database import schema_is_current
app = create_app({"DATABASE_URL": sys.argv[1], "AUTO_MIGRATE": True}, data_dir=sys.argv[2])
print(schema_is_current(app), "alembic" in sys.modules)
"""


def test_a_start_at_the_head_does_not_load_alembic_and_one_behind_migrates(make_app, tmp_path):
    """The usual start (the schema is current) checks that without Alembic,
    ~10 MB the server would otherwise keep; a database a revision behind is
    still migrated on start, with Alembic."""
    import subprocess
    import sys

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from comicsrv.database import migrations_dir, schema_is_current

    url = f"sqlite:///{tmp_path / 'start.db'}"
    app = make_app(DATABASE_URL=url)
    config = Config()
    config.set_main_option("script_location", migrations_dir())
    head = ScriptDirectory.from_config(config).get_revision("head")
    upgrade(app, head.down_revision)
    assert not schema_is_current(app)

    def start() -> str:
        done = subprocess.run([sys.executable, "-c", START_AND_REPORT, url, str(tmp_path / "data")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert start() == ["True", "True"]  # migrated, by Alembic
    assert schema_is_current(app)
    assert start() == ["True", "False"]  # at the head: Alembic stays out
