"""index of settled inpatient stays per person (in-settlement overlap check)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 21:55:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_settlements_inpatient_stays",
        "settlements",
        ["person_id", "discharged_on"],
        unique=False,
        postgresql_where=sa.text("visit_type = 'inpatient' AND status = 'settled'"),
    )


def downgrade() -> None:
    op.drop_index("ix_settlements_inpatient_stays", table_name="settlements")
