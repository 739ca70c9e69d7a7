"""premium requests: the first answer to a member's Idempotency-Key on a premium payment

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "premium_requests",
        sa.Column("caller", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["premium_payments.id"],
            name=op.f("fk_premium_requests_payment_id_premium_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("caller", "key", name=op.f("pk_premium_requests")),
    )
    op.create_index(op.f("ix_premium_requests_payment_id"), "premium_requests", ["payment_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_premium_requests_payment_id"), table_name="premium_requests")
    op.drop_table("premium_requests")
