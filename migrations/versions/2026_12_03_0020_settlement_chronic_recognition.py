"""a settlement names the disease and the recognition it was paid under (issue #17: chronic bills and 双通道)

Revision ID: 0020
Revises: 0021
Create Date: 2026-12-03 16:50:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("settlements", sa.Column("chronic_disease_name", sa.String(length=60), nullable=True))
    op.add_column("settlements", sa.Column("chronic_recognition_id", sa.Uuid(), nullable=True))
    # earlier chronic bills: the disease's name from the policy version they were settled under
    # (the recognition they used was not recorded and stays null)
    op.execute(
        """
        UPDATE settlements s SET chronic_disease_name = d.elem ->> 'name'
        FROM policy_versions v,
             jsonb_array_elements(COALESCE(v.document -> 'chronic_diseases', '[]'::jsonb)) AS d (elem)
        WHERE s.chronic_disease IS NOT NULL AND v.version = s.policy_version AND d.elem ->> 'code' = s.chronic_disease
        """
    )


def downgrade() -> None:
    op.drop_column("settlements", "chronic_recognition_id")
    op.drop_column("settlements", "chronic_disease_name")
