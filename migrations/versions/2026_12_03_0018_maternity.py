"""maternity (issue #18 items 5-6): the settlement's maternity fund, delivery type and babies,
the prenatal accumulator of the person-year, and the maternity allowances (生育津贴)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 15:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("settlements", sa.Column("maternity_fund", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("settlements", sa.Column("delivery_type", sa.String(length=10), nullable=True))
    op.add_column("settlements", sa.Column("babies", sa.SmallInteger(), nullable=True))
    op.add_column("reimbursement_claims", sa.Column("delivery_type", sa.String(length=10), nullable=True))
    op.add_column("reimbursement_claims", sa.Column("babies", sa.SmallInteger(), nullable=True))
    op.add_column(
        "person_years", sa.Column("maternity_prenatal_paid", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_table(
        "maternity_allowances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("allowance_no", sa.String(length=20), nullable=False),
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("employer_id", sa.BigInteger(), nullable=True),
        sa.Column("delivery_date", sa.Date(), nullable=False),
        sa.Column("delivery_type", sa.String(length=10), nullable=False),
        sa.Column("babies", sa.SmallInteger(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("months_contributed", sa.Integer(), nullable=False),
        sa.Column("first_contribution_month", sa.Date(), nullable=True),
        sa.Column("other_contributors", sa.Integer(), nullable=False),
        sa.Column("average_base", sa.BigInteger(), nullable=False),
        sa.Column("daily_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("flags", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("policy_version", sa.String(length=60), nullable=False),
        sa.Column("payee", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_order_id", sa.BigInteger(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'paid', 'ineligible', 'void')",
            name=op.f("ck_maternity_allowances_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employers.id"], name=op.f("fk_maternity_allowances_employer_id_employers")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_maternity_allowances_person_id_persons")),
        sa.ForeignKeyConstraint(
            ["settlement_id"], ["settlements.id"], name=op.f("fk_maternity_allowances_settlement_id_settlements")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maternity_allowances")),
        sa.UniqueConstraint("allowance_no", name=op.f("uq_maternity_allowances_allowance_no")),
        sa.UniqueConstraint("settlement_id", name=op.f("uq_maternity_allowances_settlement_id")),
    )
    op.create_index(op.f("ix_maternity_allowances_person_id"), "maternity_allowances", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_maternity_allowances_person_id"), table_name="maternity_allowances")
    op.drop_table("maternity_allowances")
    op.drop_column("person_years", "maternity_prenatal_paid")
    op.drop_column("reimbursement_claims", "babies")
    op.drop_column("reimbursement_claims", "delivery_type")
    op.drop_column("settlements", "babies")
    op.drop_column("settlements", "delivery_type")
    op.drop_column("settlements", "maternity_fund")
