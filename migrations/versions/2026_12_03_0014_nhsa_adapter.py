"""national interface adapter: message journal (msgid), visits (mdtrt_id), catalogue code map

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-03 14:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nhsa_messages",
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("msgid", sa.String(length=40), nullable=False),
        sa.Column("infno", sa.String(length=8), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("infcode", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.String(length=40), nullable=True),
        sa.Column("mdtrt_id", sa.String(length=40), nullable=True),
        sa.Column("reversed_by", sa.String(length=40), nullable=True),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("institution_code", "msgid", name=op.f("pk_nhsa_messages")),
    )
    op.create_table(
        "nhsa_visits",
        sa.Column("mdtrt_id", sa.String(length=40), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("psn_no", sa.String(length=18), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("med_type", sa.String(length=8), nullable=False),
        sa.Column("visit_type", sa.String(length=20), nullable=False),
        sa.Column("ipt_otp_no", sa.String(length=64), nullable=False),
        sa.Column("begntime", sa.Date(), nullable=False),
        sa.Column("endtime", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("diagnoses", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("settlement_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("mdtrt_id", name=op.f("pk_nhsa_visits")),
    )
    op.create_index("ix_nhsa_visits_institution_visit", "nhsa_visits", ["institution_code", "ipt_otp_no"])
    op.create_table(
        "nhsa_catalogue_codes",
        sa.Column("national_code", sa.String(length=60), nullable=False),
        sa.Column("item_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["item_code"], ["catalogue_items.code"], name=op.f("fk_nhsa_catalogue_codes_item_code_catalogue_items")
        ),
        sa.PrimaryKeyConstraint("national_code", name=op.f("pk_nhsa_catalogue_codes")),
    )


def downgrade() -> None:
    op.drop_table("nhsa_catalogue_codes")
    op.drop_index("ix_nhsa_visits_institution_visit", table_name="nhsa_visits")
    op.drop_table("nhsa_visits")
    op.drop_table("nhsa_messages")
