"""The fund's income, posted into the same double-entry ledger as its spending.

Accounts (``amount`` > 0 debit, < 0 credit), each leg carrying its ``scheme``:
  bank           money in (debit) or out (credit) of the fund's bank account
  premiums       resident premiums received (credit = income); a refund debits it back
  subsidies      the subsidised part of a premium, received by the resident fund from the
                 assistance fund (credit = income)
  transfers_out  what the assistance fund (or a personal account paying a relative's premium)
                 gave to another fund (debit = spending of the giving fund)
  contributions  employer and employee contributions (credit = income): the part credited to
                 personal accounts in fund ``personal_account``, the rest in the pooled ``basic``

Every income movement is derived from the row that records it (a premium payment, a subsidy
booking, a contribution posting) by one set-based statement per kind, idempotent on the leg
(``ON CONFLICT DO NOTHING``): the use case posts its own row in its transaction, and the
backfill runs the same statements over every row, so a second run posts nothing more.
Institution-free legs carry ``institution_code`` ``FUND`` (the fund itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.db.uow import UnitOfWork
from yibao.ledger.postings import TZ

#: ``institution_code`` of legs that belong to the fund itself, not to an institution
FUND = "FUND"

_INSERT = """
WITH legs AS (
    INSERT INTO ledger_postings (movement, source, institution_code, fund, account, amount, business_date, scheme)
    SELECT movement, source, 'FUND', fund, account, amount, business_date, scheme FROM ({select}) x
    WHERE amount <> 0
    ON CONFLICT ON CONSTRAINT uq_ledger_postings_movement_leg DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM legs
"""

#: a premium: bank ← premiums in the resident pooled fund; paid from a personal account, the
#: account fund gives it (transfers_out ← bank); a refund reverses both, on the day refunded
_PREMIUMS = """
SELECT m.movement, 'premium:' || p.id AS source, l.fund, l.account, m.sign * l.sign * p.amount AS amount,
       m.day AS business_date, l.scheme
FROM premium_payments p
CROSS JOIN LATERAL (VALUES ('premium', 1, p.paid_on),
                           ('premium_refund', -1, (p.refunded_at AT TIME ZONE '{tz}')::date)) AS m(movement, sign, day)
CROSS JOIN LATERAL (VALUES ('basic', 'bank', 1, 'resident', true), ('basic', 'premiums', -1, 'resident', true),
                           ('personal_account', 'transfers_out', 1, 'employee', p.channel = 'account'),
                           ('personal_account', 'bank', -1, 'employee', p.channel = 'account'))
    AS l(fund, account, sign, scheme, applies)
WHERE m.day IS NOT NULL AND l.applies AND ({where})
"""

#: a subsidy booking (or its reversal, booked negative): assistance fund → resident pooled fund
_SUBSIDIES = """
SELECT CASE WHEN b.kind = 'booking' THEN 'subsidy' ELSE 'subsidy_reversal' END AS movement,
       'premium:' || b.payment_id AS source, l.fund, l.account, l.sign * b.amount AS amount,
       b.booked_on AS business_date, 'resident' AS scheme
FROM subsidy_bookings b
CROSS JOIN LATERAL (VALUES ('assistance', 'transfers_out', 1), ('assistance', 'bank', -1),
                           ('basic', 'bank', 1), ('basic', 'subsidies', -1)) AS l(fund, account, sign)
WHERE ({where})
"""

#: an employer-month's contributions: the personal-account part to the account fund, the rest pooled
_CONTRIBUTIONS = """
SELECT 'contribution' AS movement, 'contribution:' || c.id AS source, l.fund, l.account,
       l.sign * CASE WHEN l.fund = 'basic' THEN c.employer_total + c.employee_total - c.account_total
                     ELSE c.account_total END AS amount,
       (c.created_at AT TIME ZONE '{tz}')::date AS business_date, 'employee' AS scheme
FROM contribution_postings c
CROSS JOIN LATERAL (VALUES ('basic', 'bank', 1), ('basic', 'contributions', -1),
                           ('personal_account', 'bank', 1), ('personal_account', 'contributions', -1))
    AS l(fund, account, sign)
WHERE ({where})
"""


async def _run(session: AsyncSession, select: str, where: str, params: dict[str, object]) -> int:
    sql = _INSERT.format(select=select.format(tz=TZ, where=where))
    return int(await session.scalar(text(sql), params) or 0)


async def post_premium(session: AsyncSession, payment_id: int) -> int:
    """Post a premium payment (and its refund, its subsidy and the subsidy's reversal, as far as
    they happened); legs written. Call after the payment's rows are flushed."""
    written = await _run(session, _PREMIUMS, "p.id = :id", {"id": payment_id})
    return written + await _run(session, _SUBSIDIES, "b.payment_id = :id", {"id": payment_id})


async def post_contribution(session: AsyncSession, posting_id: int) -> int:
    """Post an employer-month's contributions (pooled and personal-account parts); legs written."""
    return await _run(session, _CONTRIBUTIONS, "c.id = :id", {"id": posting_id})


@dataclass(frozen=True)
class Backfilled:
    premiums: int
    subsidies: int
    contributions: int

    @property
    def legs(self) -> int:
        return self.premiums + self.subsidies + self.contributions


async def backfill(session: AsyncSession) -> Backfilled:
    """Post every premium, refund, subsidy and contribution not posted yet (legs written per
    kind): what happened before the ledger took income, once; a second run writes nothing."""
    return Backfilled(
        premiums=await _run(session, _PREMIUMS, "true", {}),
        subsidies=await _run(session, _SUBSIDIES, "true", {}),
        contributions=await _run(session, _CONTRIBUTIONS, "true", {}),
    )


async def backfill_income(uow: UnitOfWork, actor: audit.Actor) -> Backfilled:
    """The backfill as a use case: audited (``ledger.income.backfilled``) and committed."""
    done = await backfill(uow.session)
    detail = {"premiums": done.premiums, "subsidies": done.subsidies, "contributions": done.contributions}
    await audit.record(uow.session, actor, "ledger.income.backfilled", ("ledger", "income"), detail)
    await uow.commit()
    return done
