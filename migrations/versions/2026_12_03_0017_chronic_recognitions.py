"""chronic disease recognitions (门慢门特认定), the per-disease annual limit's accumulator and
the settlement's recognised disease; e-prescriptions and their dispensing (issue #17)

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-03 15:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chronic_recognitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("disease", sa.String(length=20), nullable=False),
        sa.Column("diagnosis", sa.String(length=20), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("designated_institution", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("first_reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_chronic_recognitions_person_disease", "chronic_recognitions", ["person_id", "disease", "valid_to"]
    )
    op.create_index("ix_chronic_recognitions_status_valid_to", "chronic_recognitions", ["status", "valid_to"])
    op.create_index(
        "uq_chronic_recognitions_open",
        "chronic_recognitions",
        ["person_id", "disease"],
        unique=True,
        postgresql_where=sa.text("status IN ('applied', 'first_reviewed')"),
    )
    op.create_table(
        "chronic_disease_years",
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("disease", sa.String(length=20), nullable=False),
        sa.Column("basic_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("person_id", "year", "disease"),
    )
    op.add_column("settlements", sa.Column("chronic_disease", sa.String(length=20), nullable=True))
    op.add_column("settlements", sa.Column("chronic_disease_paid", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("settlements", sa.Column("prescription_id", sa.String(length=40), nullable=True))
    op.create_table(
        "prescriptions",
        sa.Column("rx_id", sa.String(length=40), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("doctor_code", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("diagnoses", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pickup_code_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["institution_code"], ["institutions.code"]),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("rx_id"),
    )
    op.create_index("ix_prescriptions_person", "prescriptions", ["person_id", "issued_at"])
    op.create_table(
        "prescription_dispensings",
        sa.Column("rx_id", sa.String(length=40), nullable=False),
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("dispensed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["rx_id"], ["prescriptions.rx_id"]),
        sa.ForeignKeyConstraint(["settlement_id"], ["settlements.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rx_id"),
    )


def downgrade() -> None:
    op.drop_table("prescription_dispensings")
    op.drop_index("ix_prescriptions_person", table_name="prescriptions")
    op.drop_table("prescriptions")
    op.drop_column("settlements", "prescription_id")
    op.drop_column("settlements", "chronic_disease_paid")
    op.drop_column("settlements", "chronic_disease")
    op.drop_table("chronic_disease_years")
    op.drop_index("uq_chronic_recognitions_open", table_name="chronic_recognitions")
    op.drop_index("ix_chronic_recognitions_status_valid_to", table_name="chronic_recognitions")
    op.drop_index("ix_chronic_recognitions_person_disease", table_name="chronic_recognitions")
    op.drop_table("chronic_recognitions")
