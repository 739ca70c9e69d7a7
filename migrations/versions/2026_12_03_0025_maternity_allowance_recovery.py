"""a maternity allowance whose delivery bill is cancelled after it was paid (or put in a person
order) is owed back: when the delivery was cancelled, and when, by whom and under which
reference the money came back (DOMAIN §10)

Revision ID: 0025
Revises: 0019
Create Date: 2026-12-03 16:50:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("delivery_cancelled_at", "recovered_at", "recovered_by", "recovery_reference")


def upgrade() -> None:
    op.add_column("maternity_allowances", sa.Column("delivery_cancelled_at", sa.DateTime(timezone=True)))
    op.add_column("maternity_allowances", sa.Column("recovered_at", sa.DateTime(timezone=True)))
    op.add_column("maternity_allowances", sa.Column("recovered_by", sa.String(length=200)))
    op.add_column("maternity_allowances", sa.Column("recovery_reference", sa.String(length=100)))


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("maternity_allowances", column)
