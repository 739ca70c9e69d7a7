"""enrolment contributions members: resident premiums, subsidy bookings, derived coverage
reasons on enrolments, employers and monthly contributions, member app credentials, member
QR-code uses, family binding requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "employers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employers")),
        sa.UniqueConstraint("code", name=op.f("uq_employers_code")),
    )
    op.create_table(
        "contribution_postings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("employer_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("employer_total", sa.BigInteger(), nullable=False),
        sa.Column("employee_total", sa.BigInteger(), nullable=False),
        sa.Column("account_total", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"],
            ["employers.id"],
            name=op.f("fk_contribution_postings_employer_id_employers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_postings")),
        sa.UniqueConstraint("employer_id", "month", name=op.f("uq_contribution_postings_employer_id_month")),
    )
    op.create_table(
        "family_binding_requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("holder_person_id", sa.BigInteger(), nullable=False),
        sa.Column("relative_person_id", sa.BigInteger(), nullable=False),
        sa.Column("relation", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("holder_person_id <> relative_person_id", name=op.f("ck_family_binding_requests_not_self")),
        sa.ForeignKeyConstraint(
            ["holder_person_id"],
            ["persons.id"],
            name=op.f("fk_family_binding_requests_holder_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["relative_person_id"],
            ["persons.id"],
            name=op.f("fk_family_binding_requests_relative_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_binding_requests")),
    )
    op.create_index(
        "uq_family_binding_requests_pending",
        "family_binding_requests",
        ["holder_person_id", "relative_person_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        op.f("ix_family_binding_requests_relative_person_id"),
        "family_binding_requests",
        ["relative_person_id"],
        unique=False,
    )
    op.create_table(
        "member_activation_codes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_member_activation_codes_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_activation_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_member_activation_codes_code_hash")),
    )
    op.create_index(
        op.f("ix_member_activation_codes_person_id"), "member_activation_codes", ["person_id"], unique=False
    )
    op.create_table(
        "member_code_uses",
        sa.Column("jti", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_member_code_uses_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_member_code_uses")),
    )
    op.create_table(
        "member_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_member_tokens_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_member_tokens_token_hash")),
    )
    op.create_index(op.f("ix_member_tokens_person_id"), "member_tokens", ["person_id"], unique=False)
    op.create_table(
        "premium_payments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("payer_person_id", sa.BigInteger(), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("premium", sa.BigInteger(), nullable=False),
        sa.Column("subsidy", sa.BigInteger(), nullable=False),
        sa.Column("subsidy_group", sa.String(length=30), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount + subsidy = premium", name=op.f("ck_premium_payments_amount_plus_subsidy")),
        sa.CheckConstraint(
            "amount >= 0 AND subsidy >= 0 AND premium >= 0", name=op.f("ck_premium_payments_amounts_nonneg")
        ),
        sa.ForeignKeyConstraint(
            ["payer_person_id"], ["persons.id"], name=op.f("fk_premium_payments_payer_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_premium_payments_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_premium_payments")),
        sa.UniqueConstraint("channel", "reference", name=op.f("uq_premium_payments_channel_reference")),
    )
    op.create_index(op.f("ix_premium_payments_person_id"), "premium_payments", ["person_id"], unique=False)
    op.create_index(
        "uq_premium_payments_live",
        "premium_payments",
        ["person_id", "year"],
        unique=True,
        postgresql_where=sa.text("status = 'paid'"),
    )
    op.create_table(
        "contribution_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("posting_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.Column("employer_part", sa.BigInteger(), nullable=False),
        sa.Column("employee_part", sa.BigInteger(), nullable=False),
        sa.Column("account_credit", sa.BigInteger(), nullable=False),
        sa.Column("retiree", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_contribution_lines_person_id_persons"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["contribution_postings.id"],
            name=op.f("fk_contribution_lines_posting_id_contribution_postings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_lines")),
        sa.UniqueConstraint("posting_id", "person_id", name=op.f("uq_contribution_lines_posting_id_person_id")),
    )
    op.create_index(op.f("ix_contribution_lines_person_id"), "contribution_lines", ["person_id"], unique=False)
    op.create_table(
        "subsidy_bookings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("group", sa.String(length=30), nullable=False),
        sa.Column("fund", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["premium_payments.id"],
            name=op.f("fk_subsidy_bookings_payment_id_premium_payments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_subsidy_bookings_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_bookings")),
        sa.UniqueConstraint("payment_id", "kind", name=op.f("uq_subsidy_bookings_payment_id_kind")),
    )
    op.create_index("ix_subsidy_bookings_year_group", "subsidy_bookings", ["year", "group"], unique=False)
    op.add_column(
        "enrolments", sa.Column("coverage_reason", sa.String(length=30), server_default="STAFF", nullable=False)
    )
    op.add_column("enrolments", sa.Column("coverage_detail", sa.String(length=400), server_default="", nullable=False))
    op.add_column("enrolments", sa.Column("waiting_months", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column("enrolments", sa.Column("source", sa.String(length=10), server_default="staff", nullable=False))


def downgrade() -> None:
    op.drop_column("enrolments", "source")
    op.drop_column("enrolments", "waiting_months")
    op.drop_column("enrolments", "coverage_detail")
    op.drop_column("enrolments", "coverage_reason")
    op.drop_index("ix_subsidy_bookings_year_group", table_name="subsidy_bookings")
    op.drop_table("subsidy_bookings")
    op.drop_index(op.f("ix_contribution_lines_person_id"), table_name="contribution_lines")
    op.drop_table("contribution_lines")
    op.drop_index(
        "uq_premium_payments_live", table_name="premium_payments", postgresql_where=sa.text("status = 'paid'")
    )
    op.drop_index(op.f("ix_premium_payments_person_id"), table_name="premium_payments")
    op.drop_table("premium_payments")
    op.drop_index(op.f("ix_member_tokens_person_id"), table_name="member_tokens")
    op.drop_table("member_tokens")
    op.drop_table("member_code_uses")
    op.drop_index(op.f("ix_member_activation_codes_person_id"), table_name="member_activation_codes")
    op.drop_table("member_activation_codes")
    op.drop_index("uq_family_binding_requests_pending", table_name="family_binding_requests")
    op.drop_index(op.f("ix_family_binding_requests_relative_person_id"), table_name="family_binding_requests")
    op.drop_table("family_binding_requests")
    op.drop_table("contribution_postings")
    op.drop_table("employers")
