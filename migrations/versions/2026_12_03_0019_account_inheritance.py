"""the closing of a deceased holder's personal account to its heirs, maker-checker (issue #16)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 15:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_inheritance_closings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("made_by", sa.String(length=100), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_account_inheritance_closings_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_inheritance_closings")),
    )
    op.create_index(
        op.f("ix_account_inheritance_closings_person_id"), "account_inheritance_closings", ["person_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_inheritance_closings_person_id"), table_name="account_inheritance_closings")
    op.drop_table("account_inheritance_closings")
