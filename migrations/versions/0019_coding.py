"""behavioural-health coding in depth (issue 21): payer coding policy, HCPCS procedure and +90863 on sessions

- ``payers.coding_policy``: unit rule, accepted codes, CPT→HCPCS crosswalk, modifier rules and order, associates.
- ``sessions.procedure_code``: the HCPCS Level II code of a "hcpcs" service.
- ``sessions.pharmacologic_management``: +90863 by a prescribing psychologist.
- ``sessions.service_kind`` gains screening, testing, BHI/CoCM and hcpcs kinds (a VARCHAR: no DDL).

Revision ID: 0019_coding
Revises: 0016_money_in
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_coding'
down_revision = '0016_money_in'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coding_policy', sa.JSON(), server_default='{}', nullable=False))
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('procedure_code', sa.String(length=5), nullable=True))
        batch_op.add_column(
            sa.Column('pharmacologic_management', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('pharmacologic_management')
        batch_op.drop_column('procedure_code')
    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.drop_column('coding_policy')
