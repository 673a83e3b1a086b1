"""money in, the gaps (issue 18)

- ``work_items.deposit_id``: a *Match deposit* item about a bank deposit that no ERA has matched after N business
  days; it closes itself when an ERA is matched to the deposit. ``has_subject`` counts it as a subject.
- ``claim_payments.unmatched_detail``: an 835 claim that matched none of ours keeps its claim-level CAS and its
  service lines (SVC with DTM, CAS, LQ, REF*6R), so a person can apply it to a claim line by line.
- ``provider_adjustments.line_amounts``: how a PLB recoupment on a claim was spread over the claim's lines (claim
  line id → amount), so a later reversal gives back to the same lines.

Revision ID: 0027_money_gaps
Revises: 0022_portal
"""

from alembic import op
import sqlalchemy as sa


revision = "0027_money_gaps"
down_revision = "0022_portal"
branch_labels = None
depends_on = None

OLD_SUBJECT = (
    "session_id IS NOT NULL OR claim_id IS NOT NULL OR claim_payment_id IS NOT NULL"
    " OR edi_file_id IS NOT NULL OR authorization_id IS NOT NULL OR patient_id IS NOT NULL"
    " OR provider_id IS NOT NULL"
)
NEW_SUBJECT = OLD_SUBJECT + " OR deposit_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deposit_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_work_items_deposit_id_deposits"), "deposits", ["deposit_id"], ["id"])
        batch_op.drop_constraint(batch_op.f("ck_work_items_has_subject"), type_="check")
        batch_op.create_check_constraint("has_subject", NEW_SUBJECT)
    with op.batch_alter_table("claim_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unmatched_detail", sa.JSON(), nullable=True))
    with op.batch_alter_table("provider_adjustments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line_amounts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider_adjustments", schema=None) as batch_op:
        batch_op.drop_column("line_amounts")
    with op.batch_alter_table("claim_payments", schema=None) as batch_op:
        batch_op.drop_column("unmatched_detail")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_work_items_has_subject"), type_="check")
        batch_op.create_check_constraint("has_subject", OLD_SUBJECT)
        batch_op.drop_constraint(batch_op.f("fk_work_items_deposit_id_deposits"), type_="foreignkey")
        batch_op.drop_column("deposit_id")
