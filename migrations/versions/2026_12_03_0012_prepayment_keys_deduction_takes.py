"""prepayment requests idempotent on the requester's key; index of the daily settles' deduction takes

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-03 10:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("prepayments", sa.Column("idempotency_key", sa.String(length=200), nullable=True))
    op.add_column("prepayments", sa.Column("request_hash", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_prepayments_idempotency_key",
        "prepayments",
        ["requested_by", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index(
        "ix_ledger_postings_deduction_takes",
        "ledger_postings",
        ["institution_code"],
        unique=False,
        postgresql_where=sa.text("movement = 'deduction' AND account = 'payable'"),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_postings_deduction_takes", table_name="ledger_postings")
    op.drop_index("uq_prepayments_idempotency_key", table_name="prepayments")
    op.drop_column("prepayments", "request_hash")
    op.drop_column("prepayments", "idempotency_key")
