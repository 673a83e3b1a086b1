"""money in: provider-level adjustments as rows, expected payment, unapplied (duplicate) payments, paper EOBs

- ``provider_adjustments``: one row per PLB adjustment, with what posting did (recoupment, interest, other).
- ``claim_lines.expected_allowed``: the contracted allowed amount of a posted line.
- ``practices.underpayment_tolerance`` / ``underpayment_tolerance_percent``: $1.00 and 2% (the larger wins).
- ``claim_payments.unapplied_amount``: money of a duplicate payment, kept as a credit, never in the claim's paid.
- ``remittances.source``: "835" or "paper" (an EOB keyed in by a poster).

Revision ID: 0016_money_in
Revises: 0015_claim_context
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_money_in'
down_revision = '0015_claim_context'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'provider_adjustments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('remittance_id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=True),
        sa.Column('provider_identifier', sa.String(length=50), nullable=False),
        sa.Column('fiscal_period', sa.Date(), nullable=True),
        sa.Column('reason', sa.String(length=2), nullable=False),
        sa.Column('reference', sa.String(length=50), nullable=False),
        sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_provider_adjustments_claim_id_claims')),
        sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'],
                                name=op.f('fk_provider_adjustments_remittance_id_remittances')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_adjustments')),
    )
    with op.batch_alter_table('provider_adjustments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_adjustments_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provider_adjustments_remittance_id'), ['remittance_id'], unique=False)
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_allowed', sa.Numeric(precision=12, scale=2), nullable=True))
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('underpayment_tolerance', sa.Numeric(precision=12, scale=2),
                                      server_default='1.00', nullable=False))
        batch_op.add_column(sa.Column('underpayment_tolerance_percent', sa.Numeric(precision=5, scale=2),
                                      server_default='2.00', nullable=False))
    with op.batch_alter_table('claim_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unapplied_amount', sa.Numeric(precision=12, scale=2), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('remittances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=8), server_default='835', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('remittances', schema=None) as batch_op:
        batch_op.drop_column('source')
    with op.batch_alter_table('claim_payments', schema=None) as batch_op:
        batch_op.drop_column('unapplied_amount')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('underpayment_tolerance_percent')
        batch_op.drop_column('underpayment_tolerance')
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.drop_column('expected_allowed')
    with op.batch_alter_table('provider_adjustments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_adjustments_remittance_id'))
        batch_op.drop_index(batch_op.f('ix_provider_adjustments_claim_id'))
    op.drop_table('provider_adjustments')
