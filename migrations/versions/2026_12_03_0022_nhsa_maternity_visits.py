"""a national visit's delivery (生育类别 matn_type, 胎儿数 fetus_cnt), for med_type 52 stays (issue #20)

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-03 17:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("nhsa_visits", sa.Column("delivery_type", sa.String(length=12), nullable=True))
    op.add_column("nhsa_visits", sa.Column("babies", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("nhsa_visits", "babies")
    op.drop_column("nhsa_visits", "delivery_type")
