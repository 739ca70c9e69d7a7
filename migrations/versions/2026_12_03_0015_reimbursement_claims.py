"""manual reimbursement claims (steps, claimed invoices, number series), settlements.source,
person-payee disbursement orders

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("settlements", sa.Column("source", sa.String(length=10), server_default="realtime", nullable=False))
    op.create_table(
        "reimbursement_claims",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_no", sa.String(length=20), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=True),
        sa.Column("care_name", sa.String(length=200), nullable=True),
        sa.Column("care_region", sa.String(length=6), nullable=False),
        sa.Column("care_level", sa.SmallInteger(), nullable=False),
        sa.Column("visit_type", sa.String(length=20), nullable=False),
        sa.Column("admitted_on", sa.Date(), nullable=True),
        sa.Column("discharged_on", sa.Date(), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("diagnoses", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("procedures", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("invoice_numbers", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payee", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("fund_estimate", sa.BigInteger(), nullable=False),
        sa.Column("approvals_needed", sa.SmallInteger(), nullable=False),
        sa.Column("approvals", sa.SmallInteger(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.Column("settlement_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_reimbursement_claims_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reimbursement_claims")),
        sa.UniqueConstraint("claim_no", name=op.f("uq_reimbursement_claims_claim_no")),
        sa.UniqueConstraint("requester", "idempotency_key", name="uq_reimbursement_claims_requester_key"),
    )
    op.create_index("ix_reimbursement_claims_status_due", "reimbursement_claims", ["status", "due_date"])
    op.create_index("ix_reimbursement_claims_person", "reimbursement_claims", ["person_id"])
    op.create_table(
        "reimbursement_steps",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fund_estimate", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["reimbursement_claims.id"],
            name=op.f("fk_reimbursement_steps_claim_id_reimbursement_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reimbursement_steps")),
    )
    op.create_index(op.f("ix_reimbursement_steps_claim_id"), "reimbursement_steps", ["claim_id"])
    op.create_table(
        "claimed_invoices",
        sa.Column("invoice_no", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["reimbursement_claims.id"],
            name=op.f("fk_claimed_invoices_claim_id_reimbursement_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_no", name=op.f("pk_claimed_invoices")),
    )
    op.create_index(op.f("ix_claimed_invoices_claim_id"), "claimed_invoices", ["claim_id"])
    op.create_table(
        "reimbursement_claim_numbers",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_reimbursement_claim_numbers")),
    )
    op.create_table(
        "person_disbursement_orders",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("batch_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("prepared_by", sa.String(length=80), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.String(length=80), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bank_file", sa.Text(), nullable=True),
        sa.Column("bank_file_sha256", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "state IN ('draft', 'approved', 'paid')", name=op.f("ck_person_disbursement_orders_state_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_disbursement_orders")),
        sa.UniqueConstraint("batch_date", name=op.f("uq_person_disbursement_orders_batch_date")),
    )
    op.create_table(
        "person_disbursement_lines",
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("claim_no", sa.String(length=20), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("payee_name", sa.String(length=100), nullable=False),
        sa.Column("bank", sa.String(length=100), nullable=False),
        sa.Column("account_no", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["person_disbursement_orders.id"],
            name=op.f("fk_person_disbursement_lines_order_id_person_disbursement_orders"),
        ),
        sa.PrimaryKeyConstraint("order_id", "claim_id", name=op.f("pk_person_disbursement_lines")),
    )
    op.create_index(
        "uq_person_disbursement_lines_live_settlement",
        "person_disbursement_lines",
        ["settlement_id"],
        unique=True,
        postgresql_where=sa.text("returned_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_person_disbursement_lines_live_settlement", table_name="person_disbursement_lines")
    op.drop_table("person_disbursement_lines")
    op.drop_table("person_disbursement_orders")
    op.drop_table("reimbursement_claim_numbers")
    op.drop_index(op.f("ix_claimed_invoices_claim_id"), table_name="claimed_invoices")
    op.drop_table("claimed_invoices")
    op.drop_index(op.f("ix_reimbursement_steps_claim_id"), table_name="reimbursement_steps")
    op.drop_table("reimbursement_steps")
    op.drop_index("ix_reimbursement_claims_person", table_name="reimbursement_claims")
    op.drop_index("ix_reimbursement_claims_status_due", table_name="reimbursement_claims")
    op.drop_table("reimbursement_claims")
    op.drop_column("settlements", "source")
