"""Balances are derived from postings, never stored; and the ledger must agree with the bills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.ledger.postings import FUND_COLUMNS, TZ


@dataclass(frozen=True)
class Balance:
    institution_code: str
    fund: str
    account: str
    amount: int  # debit − credit


async def balances(session: AsyncSession, institution_code: str | None = None) -> list[Balance]:
    rows = await session.execute(
        text(
            """
            SELECT institution_code, fund, account, SUM(amount)::bigint
            FROM ledger_postings
            WHERE CAST(:inst AS text) IS NULL OR institution_code = :inst
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """
        ),
        {"inst": institution_code},
    )
    return [Balance(r[0], r[1], r[2], int(r[3])) for r in rows]


async def unbalanced_movements(session: AsyncSession) -> int:
    """Movements whose legs do not sum to zero per fund (must always be 0)."""
    n = await session.scalar(
        text(
            "SELECT count(*) FROM (SELECT 1 FROM ledger_postings GROUP BY movement, source, fund "
            "HAVING SUM(amount) <> 0) x"
        )
    )
    return int(n or 0)


async def claims_differences(session: AsyncSession, up_to: date) -> list[tuple[str, str, int, int]]:
    """(institution, fund, from bills, from ledger) wherever the ledger's bill postings up to
    ``up_to`` differ from the settlements table: empty when the ledger reconciles."""
    fund_values = ", ".join(f"('{fund}', s.{col})" for fund, col in FUND_COLUMNS.items())
    rows = await session.execute(
        text(
            f"""
            WITH bills AS (
                SELECT s.institution_code, f.fund,
                       SUM(f.amount) FILTER (WHERE (s.settled_at AT TIME ZONE '{TZ}')::date <= :d)
                     - COALESCE(SUM(f.amount) FILTER (WHERE (s.cancelled_at AT TIME ZONE '{TZ}')::date <= :d), 0)
                       AS amount
                FROM settlements s CROSS JOIN LATERAL (VALUES {fund_values}) AS f(fund, amount)
                GROUP BY 1, 2
            ), book AS (
                SELECT institution_code, fund, SUM(amount) AS amount FROM ledger_postings
                WHERE account = 'claims' AND movement IN ('settlement', 'cancel') AND business_date <= :d
                GROUP BY 1, 2
            )
            SELECT COALESCE(b.institution_code, l.institution_code), COALESCE(b.fund, l.fund),
                   COALESCE(b.amount, 0)::bigint, COALESCE(l.amount, 0)::bigint
            FROM bills b FULL JOIN book l USING (institution_code, fund)
            WHERE COALESCE(b.amount, 0) <> COALESCE(l.amount, 0)
            """
        ),
        {"d": up_to},
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


async def open_payable_differences(session: AsyncSession) -> list[tuple[str, str, int, int]]:
    """(institution, fund, payable per ledger, open buckets − order lines) wherever they
    differ: empty when ``payable_open`` is exactly the payable no daily settle has taken yet.

    Every payable leg other than a disbursement is either still open (in a bucket) or taken
    into exactly one order line, which nets it with that day's deductions (also payable legs):
    so those legs sum to the open buckets minus the nets of all order lines."""
    rows = await session.execute(
        text(
            """
            WITH book AS (
                SELECT institution_code, fund, SUM(amount) AS amount FROM ledger_postings
                WHERE account = 'payable' AND movement <> 'disbursement' GROUP BY 1, 2
            ), parts AS (
                SELECT institution_code, fund, amount FROM payable_open
                UNION ALL
                SELECT institution_code, fund, -net FROM disbursement_lines
            ), expected AS (SELECT institution_code, fund, SUM(amount) AS amount FROM parts GROUP BY 1, 2)
            SELECT COALESCE(b.institution_code, e.institution_code), COALESCE(b.fund, e.fund),
                   COALESCE(b.amount, 0)::bigint, COALESCE(e.amount, 0)::bigint
            FROM book b FULL JOIN expected e USING (institution_code, fund)
            WHERE COALESCE(b.amount, 0) <> COALESCE(e.amount, 0)
            """
        )
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]
