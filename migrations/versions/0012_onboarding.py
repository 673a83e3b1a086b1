"""onboarding (issue 16): the organization's identity, practices' pay-to address, the payer directory's facts,
and initial passwords that must be changed

- ``organizations``: legal name, TIN, address and the EDI submitter name.
- ``practices.pay_to_*``: where payment goes when it is not the service address.
- ``payers``: other clearinghouse payer IDs, claims and appeals addresses, appeals fax and portal, the corrected
  claim limit, and whether enrolment is required for 837/270/835 (true, except for self-pay).
- ``users.password_change_required``: set when an admin gives an initial password.

Revision ID: 0012_onboarding
Revises: 0017_patient_money
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_onboarding'
down_revision = '0017_patient_money'
branch_labels = None
depends_on = None

ORG_COLUMNS = [
    ('legal_name', 200), ('tax_id', 9), ('address_line1', 200), ('city', 100), ('state', 2), ('zip_code', 9),
    ('edi_submitter_name', 60),
]
PRACTICE_COLUMNS = [('pay_to_line1', 200), ('pay_to_city', 100), ('pay_to_state', 2), ('pay_to_zip_code', 9)]
PAYER_TEXT = [('claims_address', 300), ('appeals_address', 300), ('appeals_fax', 20), ('appeals_portal', 300)]
# enrollment_required_837 comes with the enrolment gate (0013_enrollment); these two are the directory's flags.
ENROLLMENT = ['enrollment_required_270', 'enrollment_required_835']


def upgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        for name, length in ORG_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    with op.batch_alter_table('practices', schema=None) as batch_op:
        for name, length in PRACTICE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    with op.batch_alter_table('payers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clearinghouse_payer_ids', sa.JSON(), server_default='[]', nullable=False))
        for name, length in PAYER_TEXT:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
        for name in ENROLLMENT:
            batch_op.add_column(sa.Column(name, sa.Boolean(), server_default=sa.true(), nullable=False))
    payers = sa.table('payers', sa.column('kind', sa.String), *(sa.column(n, sa.Boolean) for n in ENROLLMENT))
    op.execute(payers.update().where(payers.c.kind == 'self_pay').values({n: False for n in ENROLLMENT}))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_change_required', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_change_required')
    with op.batch_alter_table('payers', schema=None) as batch_op:
        for name in reversed(ENROLLMENT):
            batch_op.drop_column(name)
        for name, _ in reversed(PAYER_TEXT):
            batch_op.drop_column(name)
        batch_op.drop_column('clearinghouse_payer_ids')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        for name, _ in reversed(PRACTICE_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        for name, _ in reversed(ORG_COLUMNS):
            batch_op.drop_column(name)
