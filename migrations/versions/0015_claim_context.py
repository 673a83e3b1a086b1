"""authorizations that count: what each billed claim took from an authorization

- ``authorization_uses``: units (or one visit) of an authorization a claim's lines took on one date of service;
  released by a void or a payer reversal (``released_at``, ``released_reason``).

Revision ID: 0015_claim_context
Revises: 0014_claim_corrections
"""
from alembic import op
import sqlalchemy as sa

import backoffice.db_types


revision = '0015_claim_context'
down_revision = '0014_claim_corrections'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'authorization_uses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('authorization_id', sa.Integer(), nullable=False),
        sa.Column('claim_id', sa.Integer(), nullable=False),
        sa.Column('date_of_service', sa.Date(), nullable=False),
        sa.Column('cpts', sa.JSON(), nullable=False),
        sa.Column('units', sa.Integer(), nullable=False),
        sa.Column('at', backoffice.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('released_at', backoffice.db_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('released_reason', sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'],
                                name=op.f('fk_authorization_uses_authorization_id_authorizations')),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_authorization_uses_claim_id_claims')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_authorization_uses')),
        sa.UniqueConstraint('authorization_id', 'claim_id', 'date_of_service', name='uq_authorization_uses_key'),
    )
    with op.batch_alter_table('authorization_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorization_uses_authorization_id'), ['authorization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorization_uses_claim_id'), ['claim_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('authorization_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorization_uses_claim_id'))
        batch_op.drop_index(batch_op.f('ix_authorization_uses_authorization_id'))
    op.drop_table('authorization_uses')
