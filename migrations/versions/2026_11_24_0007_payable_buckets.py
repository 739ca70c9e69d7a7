"""payable buckets: open payable kept per (institution, fund, business date, movement)

The daily settle no longer marks legs (``settle_date`` on ~1.5 M ``payable`` legs a day);
it takes the few thousand ``payable_open`` rows instead. Upgrade back-fills the buckets from
the payable legs not yet taken and drops the two indexes that served the marking.

Downgrade recreates the indexes and gives ``settle_date`` back to the bill/clearing payable
legs that were taken while the buckets were in charge: per bucket key, the newest legs whose
amounts add up to the bucket's open amount stay open (NULL); every other leg gets the day of
the first order on or after its business date (the day that took it, unless it was carried).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 21:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payable_open",
        sa.Column("institution_code", sa.String(length=20), nullable=False),
        sa.Column("fund", sa.String(length=20), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("movement", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("legs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("institution_code", "fund", "business_date", "movement", name=op.f("pk_payable_open")),
    )
    op.execute(
        """
        INSERT INTO payable_open (institution_code, fund, business_date, movement, amount, legs)
        SELECT institution_code, fund, business_date, movement, SUM(amount), count(*)
        FROM ledger_postings
        WHERE account = 'payable' AND settle_date IS NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    op.drop_index("ix_ledger_postings_payable_open", table_name="ledger_postings")
    op.drop_index("ix_ledger_postings_settle_date", table_name="ledger_postings")


def downgrade() -> None:
    op.execute(
        """
        WITH legs AS (
            SELECT l.id, l.business_date, b.amount AS open_amount,
                   SUM(l.amount) OVER (PARTITION BY l.institution_code, l.fund, l.business_date, l.movement
                                       ORDER BY l.id DESC) AS upto
            FROM ledger_postings l
            LEFT JOIN payable_open b USING (institution_code, fund, business_date, movement)
            WHERE l.account = 'payable' AND l.settle_date IS NULL
        )
        UPDATE ledger_postings p
        SET settle_date = COALESCE(
            (SELECT min(o.settle_date) FROM disbursement_orders o WHERE o.settle_date >= legs.business_date),
            legs.business_date)
        FROM legs
        WHERE p.id = legs.id
          AND NOT (legs.open_amount IS NOT NULL AND abs(legs.upto) <= abs(legs.open_amount)
                   AND sign(legs.upto) = sign(legs.open_amount))
        """
    )
    op.create_index("ix_ledger_postings_settle_date", "ledger_postings", ["settle_date"])
    op.create_index(
        "ix_ledger_postings_payable_open",
        "ledger_postings",
        ["institution_code", "fund"],
        postgresql_where=sa.text("account = 'payable' AND settle_date IS NULL"),
    )
    op.drop_table("payable_open")
