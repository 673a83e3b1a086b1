"""the Sandbox payer's own member file and settings (issue 19.7)

- ``sandbox_members``: who the Sandbox payer covers (payer, member ID, relationship, name, date of birth, plan,
  active dates, cost sharing, visits, auth requirement, behavioral-health carve-out, Medicaid crossover).
- ``sandbox_settings``: per organization, the seed, the answer delay and the rejection/PLB/reversal rates.

Revision ID: 0025_sandbox
Revises: 0023_appointments
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0025_sandbox"
down_revision = "0023_appointments"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sandbox_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.String(length=80), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("relationship", sa.String(length=2), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("plan_name", sa.String(length=60), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("copay", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("coinsurance_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("deductible_remaining", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("visits_allowed", sa.Integer(), nullable=True),
        sa.Column("visits_used", sa.Integer(), nullable=False),
        sa.Column("auth_required", sa.Boolean(), nullable=False),
        sa.Column("in_network", sa.Boolean(), nullable=False),
        sa.Column("carve_out_payer_name", sa.String(length=100), nullable=True),
        sa.Column("carve_out_payer_id", sa.String(length=80), nullable=True),
        sa.Column("crossover_payer_name", sa.String(length=100), nullable=True),
        sa.Column("crossover_payer_id", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_sandbox_members_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_members")),
        sa.UniqueConstraint(
            "organization_id", "payer_id", "member_id", "first_name", "date_of_birth", name="uq_sandbox_members_person"
        ),
    )
    with op.batch_alter_table("sandbox_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sandbox_members_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "sandbox_settings",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("delay_minutes", sa.Integer(), nullable=False),
        sa.Column("reject_999_percent", sa.Integer(), nullable=False),
        sa.Column("reject_277ca_percent", sa.Integer(), nullable=False),
        sa.Column("recoupment_percent", sa.Integer(), nullable=False),
        sa.Column("interest_percent", sa.Integer(), nullable=False),
        sa.Column("reversal_percent", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_sandbox_settings_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_sandbox_settings")),
    )


def downgrade():
    op.drop_table("sandbox_settings")
    with op.batch_alter_table("sandbox_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_members_organization_id"))
    op.drop_table("sandbox_members")
