"""national interface: exchanged files (9101 upload, 3202 result, 9102 download) and the
journal's settlement index that 3202 reads

Revision ID: 0023
Revises: 0025
Create Date: 2026-12-03 16:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nhsa_files",
        sa.Column("file_qury_no", sa.String(length=30), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("msgid", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("dld_endtime", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("file_qury_no", name=op.f("pk_nhsa_files")),
        sa.UniqueConstraint("institution_code", "msgid", name="uq_nhsa_files_msgid"),
    )
    op.create_index("ix_nhsa_messages_settlement", "nhsa_messages", ["institution_code", "settlement_id"])


def downgrade() -> None:
    op.drop_index("ix_nhsa_messages_settlement", table_name="nhsa_messages")
    op.drop_table("nhsa_files")
