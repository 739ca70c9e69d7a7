"""日结算: after day D closes, per institution and fund, settled − cancelled − deductions = net payable.

Set-based, one transaction, guarded by the order's unique ``settle_date``: re-running a closed
day returns the existing order and changes nothing.

What a day takes: everything still open on the payable whose business date is ≤ D. Normally
that is D's own bills; a bill stamped 23:59:59.999 on an earlier day but committed after that
day's settle ran is taken by the next settle (its business date stays its own day). If an
institution's fund is net negative (cancels above new bills), nothing of it is taken: it carries
forward to the next day. Deductions due by D are taken oldest first up to what is owed; the
rest of a deduction carries forward in its ``remaining``.

How (open buckets): ledger legs are immutable. Every statement that writes payable legs also
adds them, in the same statement, into ``payable_open`` (institution, fund, business date,
movement → amount), so the open payable is a few thousand rows whatever the day's volume
(1,000,000 bills → ~6,000 buckets), not 1.5 M legs to mark. The settle takes the buckets dated
≤ D with ``DELETE … RETURNING``; an institution's fund whose taken buckets net negative is
written back unchanged (same keys, so the next order shows the same settled / cancelled /
adjusted split as if it had never been taken); deductions are applied to the positive ones;
the order lines are summed from what was deleted plus the deduction debits. Deduction legs are
born settled (``settle_date`` = D) and open no bucket; neither do a paid order's disbursements.

Concurrency (READ COMMITTED), a bill posted while the settle runs, per bucket key K:
* its transaction committed before the take's snapshot → its amount is in K, taken now;
* it updated K and committed after the snapshot, before the take locked K → ``FOR UPDATE``
  (and the DELETE's re-check) read the newest version of K, so its amount is taken now;
* it is updating K when the take wants K → the take waits for it to commit (then as above) or
  roll back (then K without it);
* it upserts K after the take deleted K (its upsert waits on the take's row lock; after the
  take commits, ON CONFLICT DO UPDATE finds no live row and inserts a fresh K — PostgreSQL's
  atomic insert-or-update guarantee) → a new bucket, taken by the next settle; if the take
  wrote K back (carried), the upsert adds to that row instead;
* K did not exist in the take's snapshot → its new row is invisible to the take → next settle.
So a leg's amount is taken exactly once: legs and bucket change in one statement and commit
together, and the take only deletes rows it has locked and returns their locked values. Both
sides lock buckets in key order (writers ``ORDER BY`` their upsert, the take locks in a sorted
``FOR UPDATE``), so they do not deadlock over bucket rows. Two settles are serialized by the
advisory lock. A hot bucket (one institution's bills on one day) serializes its writers for the
length of their short posting transactions, which the event consumer tolerates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.errors import InvalidState
from yibao.ledger.postings import post_day
from yibao.payouts.orm import DisbursementOrderRow

_LOCK = text("SELECT pg_advisory_xact_lock(7305002)")  # one daily settle at a time

#: The whole take, one statement (one snapshot; the CTEs see each other only through RETURNING).
_TAKE = """
WITH locked AS (
    SELECT institution_code, fund, business_date, movement
    FROM payable_open WHERE business_date <= :d
    ORDER BY 1, 2, 3, 4 FOR UPDATE
), taken AS (
    DELETE FROM payable_open p USING locked k
    WHERE p.institution_code = k.institution_code AND p.fund = k.fund
      AND p.business_date = k.business_date AND p.movement = k.movement
    RETURNING p.institution_code, p.fund, p.business_date, p.movement, p.amount, p.legs
), grouped AS (  -- a window, not a join: RETURNING is estimated at one row, so a join would nest
    -- loops over thousands × thousands of buckets (0.6 s for 1,500 buckets, measured)
    SELECT institution_code, fund, business_date, movement, amount, legs,
           -SUM(amount) OVER (PARTITION BY institution_code, fund) AS owed
    FROM taken
), carried AS (
    INSERT INTO payable_open (institution_code, fund, business_date, movement, amount, legs)
    SELECT institution_code, fund, business_date, movement, amount, legs
    FROM grouped WHERE owed < 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (institution_code, fund, business_date, movement)
    DO UPDATE SET amount = payable_open.amount + EXCLUDED.amount, legs = payable_open.legs + EXCLUDED.legs
), owed AS (
    SELECT DISTINCT institution_code, fund, owed FROM grouped WHERE owed > 0
), ranked AS (
    SELECT d.id, d.kind, d.institution_code, d.fund, d.remaining, o.owed,
           SUM(d.remaining) OVER (PARTITION BY d.institution_code, d.fund ORDER BY d.due_on, d.id) AS upto
    FROM deductions d JOIN owed o ON o.institution_code = d.institution_code AND o.fund = d.fund
    WHERE d.due_on <= :d AND d.remaining > 0
), takes AS (
    SELECT id, kind, institution_code, fund, LEAST(remaining, GREATEST(0, owed - (upto - remaining))) AS take
    FROM ranked
), deducted AS (
    UPDATE deductions SET remaining = deductions.remaining - t.take
    FROM takes t WHERE deductions.id = t.id AND t.take > 0
    RETURNING t.id, t.kind, t.institution_code, t.fund, t.take
), deduction_legs AS (
    INSERT INTO ledger_postings
        (movement, source, institution_code, fund, account, amount, business_date, settle_date)
    SELECT 'deduction', t.id::text || '@' || :ds, t.institution_code, t.fund, leg.account, leg.sign * t.take,
           CAST(:d AS date),
           CASE WHEN leg.account = 'payable' THEN CAST(:d AS date) END
    FROM deducted t
    CROSS JOIN LATERAL (VALUES
        ('payable', 1),
        (CASE WHEN t.kind = 'procured_goods' THEN 'supplier' ELSE 'recoveries' END, -1)
    ) AS leg(account, sign)
), payable AS (  -- the day's payable movements per line: what was taken, and the deductions' debits
    SELECT institution_code, fund, movement, amount FROM grouped WHERE owed >= 0
    UNION ALL
    SELECT institution_code, fund, 'deduction', take FROM deducted
)
INSERT INTO disbursement_lines (order_id, institution_code, fund, settled, cancelled, adjusted, deducted, net)
SELECT :order_id, institution_code, fund,
       COALESCE(-SUM(amount) FILTER (WHERE movement = 'settlement'), 0),
       COALESCE(SUM(amount) FILTER (WHERE movement = 'cancel'), 0),
       COALESCE(-SUM(amount) FILTER (WHERE movement NOT IN ('settlement', 'cancel', 'deduction')), 0),
       COALESCE(SUM(amount) FILTER (WHERE movement = 'deduction'), 0),
       -SUM(amount)
FROM payable
GROUP BY institution_code, fund
"""


@dataclass(frozen=True)
class DailySettleResult:
    order_id: int
    settle_date: date
    created: bool
    total: int
    lines: int
    caught_up_legs: int

    def as_dict(self) -> dict[str, object]:
        return {
            "order_id": self.order_id,
            "date": self.settle_date.isoformat(),
            "created": self.created,
            "total_fen": self.total,
            "lines": self.lines,
            "caught_up_legs": self.caught_up_legs,
        }


async def settle_day(session: AsyncSession, day: date, prepared_by: str) -> DailySettleResult:
    """Settle ``day`` in the caller's transaction (the caller commits; not audited: the use case
    that audits and commits is ``yibao.payouts.service.settle_day``)."""
    if day >= clock.today():
        raise InvalidState(f"{day} 尚未结束 day {day} has not closed yet (China time)")
    await session.execute(_LOCK)
    existing = await session.scalar(select(DisbursementOrderRow).where(DisbursementOrderRow.settle_date == day))
    if existing is not None:
        return DailySettleResult(existing.id, day, False, existing.total, existing.line_count, 0)
    caught_up = await post_day(session, day)
    # Small tables, but a day of upserts/deletes since autovacuum last looked: fresh statistics
    # keep the take's joins hashed (ANALYZE samples a bounded number of rows).
    await session.execute(text("ANALYZE payable_open"))
    await session.execute(text("ANALYZE deductions"))
    order = DisbursementOrderRow(settle_date=day, state="draft", total=0, line_count=0, prepared_by=prepared_by)
    session.add(order)
    await session.flush()
    await session.execute(text(_TAKE), {"order_id": order.id, "d": day, "ds": day.isoformat()})
    total, count = (
        await session.execute(
            text("SELECT COALESCE(SUM(net), 0)::bigint, count(*) FROM disbursement_lines WHERE order_id = :o"),
            {"o": order.id},
        )
    ).one()
    order.total, order.line_count = int(total), int(count)
    await session.flush()
    return DailySettleResult(order.id, day, True, order.total, order.line_count, caught_up)
