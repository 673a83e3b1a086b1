"""One Alembic head, and the migrated schema matches the models on the database under test."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from backoffice import create_app
from backoffice.extensions import db
from tests.conftest import make_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def test_the_migration_chain_has_a_single_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_the_migrated_schema_matches_the_models(ctx) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_downgrade_to_nothing_and_back(tmp_path) -> None:
    app = create_app(settings=make_settings(f"sqlite:///{tmp_path / 'm.sqlite3'}", str(tmp_path)))
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory)
        assert "work_items" in inspect(db.engine).get_table_names()
        downgrade(directory=directory, revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade(directory=directory)
        assert "interactions" in inspect(db.engine).get_table_names()
        db.engine.dispose()
