"""the relay sends again an event a consumer has not received (outbox.resends, outbox_cursor)

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-03 20:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("resends", sa.SmallInteger(), server_default=sa.text("0"), nullable=False))
    op.create_table(
        "outbox_cursor",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("delivered_through", sa.BigInteger(), nullable=False),
        sa.Column("swept_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_outbox_cursor_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_cursor")),
    )
    # events written before this revision were relayed by code that did not check their receipt
    # (job runs did not record one): the sweep starts after them
    op.execute("INSERT INTO outbox_cursor (id, delivered_through) SELECT 1, coalesce(max(id), 0) FROM outbox")


def downgrade() -> None:
    op.drop_table("outbox_cursor")
    op.drop_column("outbox", "resends")
