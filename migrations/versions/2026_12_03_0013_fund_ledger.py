"""the fund's whole ledger: a scheme on ledger legs (bill legs filled from their settlements),
manual journal entries (maker-checker), budgets (regional, and institution versions), procurement
volumes and the kind of a prepayment

Revision ID: 0013
Revises: 0015
Create Date: 2026-12-03 14:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ledger_postings", sa.Column("scheme", sa.String(length=10), nullable=True))
    # bill legs (settlement, cancel) carry their bill's scheme: source is the settlement id
    op.execute(
        """
        UPDATE ledger_postings l SET scheme = s.scheme
        FROM settlements s
        WHERE l.movement IN ('settlement', 'cancel') AND l.source = s.id::text
        """
    )
    op.create_index(
        "ix_ledger_postings_scheme_flows",
        "ledger_postings",
        ["scheme", "business_date"],
        unique=False,
        postgresql_include=["fund", "account", "movement", "amount"],
        postgresql_where=sa.text("scheme IS NOT NULL AND account <> 'payable'"),
    )
    op.create_table(
        "manual_journals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("scheme", sa.String(length=10), nullable=False),
        sa.Column("fund", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("made_by", sa.String(length=100), nullable=False),
        sa.Column("checked_by", sa.String(length=100), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_manual_journals_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_journals")),
    )
    op.create_table(
        "budget_regions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("scheme", sa.String(length=10), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("made_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_regions")),
        sa.UniqueConstraint("region", "year", "scheme", name=op.f("uq_budget_regions_region_year_scheme")),
    )
    op.create_table(
        "budget_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("scheme", sa.String(length=10), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("expected_cases", sa.Integer(), nullable=False),
        sa.Column("per_case_quota", sa.BigInteger(), nullable=True),
        sa.Column("history", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("counter_amount", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("made_by", sa.String(length=100), nullable=False),
        sa.Column("agreed_by", sa.String(length=100), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_versions")),
        sa.UniqueConstraint(
            "year",
            "scheme",
            "institution_code",
            "version",
            name=op.f("uq_budget_versions_year_scheme_institution_code_version"),
        ),
    )
    op.create_index(op.f("ix_budget_versions_institution_code"), "budget_versions", ["institution_code"], unique=False)

    op.create_table(
        "procurement_volumes",
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("institution_code", "year", name=op.f("pk_procurement_volumes")),
    )
    op.add_column("prepayments", sa.Column("kind", sa.String(length=12), server_default="ordinary", nullable=False))


def downgrade() -> None:
    op.drop_column("prepayments", "kind")
    op.drop_table("procurement_volumes")
    op.drop_index(op.f("ix_budget_versions_institution_code"), table_name="budget_versions")
    op.drop_table("budget_versions")
    op.drop_table("budget_regions")
    op.drop_table("manual_journals")
    op.drop_index("ix_ledger_postings_scheme_flows", table_name="ledger_postings")
    op.drop_column("ledger_postings", "scheme")
