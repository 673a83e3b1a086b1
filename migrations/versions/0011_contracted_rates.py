"""shared ground for the feature issues: payer kinds, contracted rates, supervising provider

- ``contracted_rates``: what each payer allows a practice per CPT/HCPCS and modifier from a date (onboarding
  writes them, expected-payment checks read them).
- ``providers.supervising_provider_id``: a pre-licensed associate's supervising clinician.
- ``payers.kind`` gains medicare_advantage, medicaid_managed_care, tricare and eap (a VARCHAR: no DDL).

Revision ID: 0011_contracted_rates
Revises: 0010_security
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_contracted_rates'
down_revision = '0010_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contracted_rates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('payer_id', sa.Integer(), nullable=False),
        sa.Column('cpt', sa.String(length=5), nullable=False),
        sa.Column('modifier', sa.String(length=2), server_default='', nullable=False),
        sa.Column('allowed', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('effective_to', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['payer_id'], ['payers.id'], name=op.f('fk_contracted_rates_payer_id_payers')),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_contracted_rates_practice_id_practices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contracted_rates')),
        sa.UniqueConstraint('practice_id', 'payer_id', 'cpt', 'modifier', 'effective_from',
                            name='uq_contracted_rates_key'),
    )
    with op.batch_alter_table('contracted_rates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contracted_rates_payer_id'), ['payer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracted_rates_practice_id'), ['practice_id'], unique=False)
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supervising_provider_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_providers_supervising_provider_id_providers'), 'providers',
                                    ['supervising_provider_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_providers_supervising_provider_id_providers'), type_='foreignkey')
        batch_op.drop_column('supervising_provider_id')
    with op.batch_alter_table('contracted_rates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contracted_rates_practice_id'))
        batch_op.drop_index(batch_op.f('ix_contracted_rates_payer_id'))
    op.drop_table('contracted_rates')
