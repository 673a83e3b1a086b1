"""providers and payer enrolment (issue 16, credentialing)

- ``enrollments``: one provider × payer (× practice) enrolment: status, dates, payer provider ID, revalidation and
  CAQH re-attestation dates; a claim waits for it to be effective (await_enrollment step).
- ``providers``: licence type/number/state/expiry and active dates.
- ``payers.enrollment_required_837``: whether claims wait for enrolment (the admin-area branch adds it too: keep one).
- ``work_items.provider_id``: credentialing items (licence, revalidation, CAQH expiring) are about a provider.

Revision ID: 0013_enrollment
Revises: 0021_documents
"""

from alembic import op
import sqlalchemy as sa

import backoffice.db_types


revision = "0013_enrollment"
down_revision = "0021_documents"
branch_labels = None
depends_on = None

OLD_SUBJECT = (
    "session_id IS NOT NULL OR claim_id IS NOT NULL OR claim_payment_id IS NOT NULL"
    " OR edi_file_id IS NOT NULL OR authorization_id IS NOT NULL OR patient_id IS NOT NULL"
)
NEW_SUBJECT = OLD_SUBJECT + " OR provider_id IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.Column("payer_provider_id", sa.String(length=40), nullable=True),
        sa.Column("revalidation_due", sa.Date(), nullable=True),
        sa.Column("caqh_reattestation_due", sa.Date(), nullable=True),
        sa.Column("created_at", backoffice.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backoffice.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_enrollments_payer_id_payers")),
        sa.ForeignKeyConstraint(["practice_id"], ["practices.id"], name=op.f("fk_enrollments_practice_id_practices")),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], name=op.f("fk_enrollments_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("provider_id", "payer_id", name="uq_enrollments_provider_payer"),
    )
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrollments_payer_id"), ["payer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrollments_practice_id"), ["practice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrollments_provider_id"), ["provider_id"], unique=False)
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("license_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("license_number", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("license_state", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("license_expires_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("active_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("active_to", sa.Date(), nullable=True))
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enrollment_required_837", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_work_items_provider_id_providers"), "providers", ["provider_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_work_items_has_subject"), type_="check")
        batch_op.create_check_constraint("has_subject", NEW_SUBJECT)


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_work_items_has_subject"), type_="check")
        batch_op.create_check_constraint("has_subject", OLD_SUBJECT)
        batch_op.drop_constraint(batch_op.f("fk_work_items_provider_id_providers"), type_="foreignkey")
        batch_op.drop_column("provider_id")
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.drop_column("enrollment_required_837")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        for column in (
            "active_to",
            "active_from",
            "license_expires_on",
            "license_state",
            "license_number",
            "license_type",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollments_provider_id"))
        batch_op.drop_index(batch_op.f("ix_enrollments_practice_id"))
        batch_op.drop_index(batch_op.f("ix_enrollments_payer_id"))
    op.drop_table("enrollments")
