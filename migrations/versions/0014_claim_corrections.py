"""claim corrections: every claim version kept with its reason, and the payer's corrected-claim window

- ``claim_versions``: one row per (claim, version): header and lines as billed, kind (original, correction,
  replacement, void, rebill), reason, what changed, who and when. Never updated.
- ``payers.corrected_claim_window_days``: days after the original determination a replacement claim is taken.

Revision ID: 0014_claim_corrections
Revises: 0013_enrollment
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_claim_corrections'
down_revision = '0013_enrollment'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'claim_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('frequency_code', sa.String(length=1), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('snapshot', sa.JSON(), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('actor_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_claim_versions_actor_user_id_users')),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_claim_versions_claim_id_claims')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_versions')),
        sa.UniqueConstraint('claim_id', 'version', name='uq_claim_versions_version'),
    )
    with op.batch_alter_table('claim_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_versions_claim_id'), ['claim_id'], unique=False)
    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrected_claim_window_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.drop_column('corrected_claim_window_days')
    with op.batch_alter_table('claim_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_versions_claim_id'))
    op.drop_table('claim_versions')
