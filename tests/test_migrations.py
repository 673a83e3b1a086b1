"""One Alembic head, and the migrated schema matches the models on the database under test."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

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


def test_migration_0018_turns_each_practice_setting_into_a_connection(tmp_path) -> None:

    app = create_app(settings=make_settings(f"sqlite:///{tmp_path / 'c.sqlite3'}", str(tmp_path)))
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0011_contracted_rates")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO organizations (id, name, slug, created_at) "
                              "VALUES (1, 'Org', 'org', '2026-11-18 15:00:00')"))  # fmt: skip
            for n, (kind, outbox) in enumerate((("sandbox", None), ("file_drop", "/srv/out")), start=1):
                conn.execute(
                    text("INSERT INTO practices (id, organization_id, name, slug, group_npi, tax_id, address_line1, "
                         "city, state, zip_code, timezone, owned_steps, sla_overrides, active, created_at, "
                         "clearinghouse, edi_outbox, edi_inbox) VALUES (:id, 1, 'P', :slug, '1234567893', "
                         "'123456789', '1 Main', 'Springfield', 'IL', '62701', 'America/Chicago', '[]', '{}', 1, "
                         "'2026-11-18 15:00:00', :kind, :outbox, :inbox)"),
                    {"id": n, "slug": f"p{n}", "kind": kind, "outbox": outbox, "inbox": "/srv/in" if outbox else None},
                )  # fmt: skip
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT practice_id, kind, profile, usage, upload_folder, download_folder "
                                     "FROM clearinghouse_connections ORDER BY practice_id")).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [
            (1, "sandbox", "sandbox", "T", None, None),
            (2, "local_folder", "generic", "P", "/srv/out", "/srv/in"),
        ]
        db.engine.dispose()
