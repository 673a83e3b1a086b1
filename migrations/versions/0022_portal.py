"""client portal: requests to the practice and SLA pauses

Revision ID: 0022_portal
Revises: 0025_sandbox
Create Date: 2026-12-07 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import backoffice.db_types


# revision identifiers, used by Alembic.
revision = '0022_portal'
down_revision = '0025_sandbox'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sla_pauses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_item_id', sa.Integer(), nullable=False),
    sa.Column('cause_item_id', sa.Integer(), nullable=True),
    sa.Column('waiting_on', sa.String(length=16), nullable=False),
    sa.Column('started_at', backoffice.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', backoffice.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_before', backoffice.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cause_item_id'], ['work_items.id'], name=op.f('fk_sla_pauses_cause_item_id_work_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['work_item_id'], ['work_items.id'], name=op.f('fk_sla_pauses_work_item_id_work_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_pauses'))
    )
    with op.batch_alter_table('sla_pauses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_pauses_work_item_id'), ['work_item_id'], unique=False)

    op.create_table('practice_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('work_item_id', sa.Integer(), nullable=False),
    sa.Column('origin_item_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('request_type', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('blocks_submission', sa.Boolean(), nullable=False),
    sa.Column('respond_by', backoffice.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_reminder_at', backoffice.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', backoffice.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', backoffice.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_practice_requests_answered_by_id_users')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_practice_requests_claim_id_claims')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_practice_requests_created_by_id_users')),
    sa.ForeignKeyConstraint(['origin_item_id'], ['work_items.id'], name=op.f('fk_practice_requests_origin_item_id_work_items')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_practice_requests_practice_id_practices')),
    sa.ForeignKeyConstraint(['work_item_id'], ['work_items.id'], name=op.f('fk_practice_requests_work_item_id_work_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_requests')),
    sa.UniqueConstraint('work_item_id', name=op.f('uq_practice_requests_work_item_id'))
    )
    with op.batch_alter_table('practice_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_requests_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_practice_requests_origin_item_id'), ['origin_item_id'], unique=False)
        batch_op.create_index('ix_practice_requests_practice_open', ['practice_id', 'answered_at'], unique=False)


def downgrade():
    with op.batch_alter_table('practice_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_practice_requests_practice_open')
        batch_op.drop_index(batch_op.f('ix_practice_requests_origin_item_id'))
        batch_op.drop_index(batch_op.f('ix_practice_requests_claim_id'))

    op.drop_table('practice_requests')
    with op.batch_alter_table('sla_pauses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_pauses_work_item_id'))

    op.drop_table('sla_pauses')
