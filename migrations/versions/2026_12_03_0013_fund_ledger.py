"""the fund's whole ledger: a scheme on ledger legs (bill legs filled from their settlements),
manual journal entries (maker-checker)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
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


def downgrade() -> None:
    op.drop_table("manual_journals")
    op.drop_column("ledger_postings", "scheme")
