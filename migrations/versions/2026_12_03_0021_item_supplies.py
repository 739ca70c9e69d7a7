"""item supplies per person: the facts of the 超量开药 in-settlement rule (issue #17)

Revision ID: 0021
Revises: 0023
Create Date: 2026-12-03 17:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_supplies",
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("item_code", sa.String(length=40), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlements.id"],
            name=op.f("fk_item_supplies_settlement_id_settlements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("settlement_id", "line_no", name=op.f("pk_item_supplies")),
    )
    op.create_index(
        "ix_item_supplies_person_item_ends_on", "item_supplies", ["person_id", "item_code", "ends_on"], unique=False
    )
    # the supplies of bills settled before this revision (days on the line, else on its e-prescription)
    op.execute(
        """
        INSERT INTO item_supplies (settlement_id, line_no, person_id, item_code, starts_on, ends_on)
        SELECT l.settlement_id, l.line_no, s.person_id, l.item_code, l.service_date,
               l.service_date + COALESCE(l.days_supply, rx.days)
        FROM settlement_lines l
        JOIN settlements s ON s.id = l.settlement_id
        LEFT JOIN LATERAL (
            SELECT CAST(i ->> 'days_supply' AS int) AS days
            FROM prescriptions p, jsonb_array_elements(p.items) AS i
            WHERE p.rx_id = s.prescription_id AND i ->> 'item_code' = l.item_code
            LIMIT 1
        ) rx ON true
        WHERE s.status = 'settled' AND s.visit_type IN ('outpatient', 'chronic_outpatient', 'pharmacy')
          AND COALESCE(l.days_supply, rx.days) IS NOT NULL
        """
    )


def downgrade() -> None:
    op.drop_index("ix_item_supplies_person_item_ends_on", table_name="item_supplies")
    op.drop_table("item_supplies")
