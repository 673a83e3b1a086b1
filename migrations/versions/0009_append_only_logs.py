"""append-only interaction log and audit trail

The database itself refuses UPDATE and DELETE on ``interactions`` and ``audit_events`` (HIPAA 164.312(b) and
(c)(1): the record of who did what cannot be rewritten by the application). TRUNCATE stays possible: it is a
table-level operation only the schema owner runs (test cleanup, a documented retention procedure).

PostgreSQL: one row trigger per table raising ``<table> is append-only: <op> refused``. SQLite (demo and
tests): UPDATE is refused the same way; DELETE stays possible there, because SQLite has no TRUNCATE and the
test suite empties tables with DELETE.

Revision ID: 0009_append_only_logs
Revises: 0008_ui_balances_appeals
"""

from alembic import op

revision = "0009_append_only_logs"
down_revision = "0008_ui_balances_appeals"
branch_labels = None
depends_on = None

TABLES = ("interactions", "audit_events")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION backoffice_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'Rows of the interaction log and the audit trail are never changed or removed; add a new row.';
END;
$$
"""


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION backoffice_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END"
            )


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only" + (f" ON {table}" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS backoffice_refuse_change()")
