"""Maternity allowance (生育津贴, DOMAIN §10), created without application in the delivery's
settle transaction, voided by its cancel (owed back if it was already paid or being paid).

Why in the settle transaction (a small additive call from ``bill_settlement``), not from the
``settlement.created`` event: the allowance then exists exactly when its bill committed, a
retry of the bill replays the first answer before reaching here, and ``settlement_id`` is
unique (``ON CONFLICT DO NOTHING``), so retries and cancels create and void it once.

days = 98, +15 caesarean, +15 per extra baby; daily amount = the employer's average monthly
contribution base over the 12 months before the delivery month ÷ 30, half-up to the fen.
Eligible with contributions in at least 12 of the 24 months before delivery. Flags for review
(虚构劳动关系): contributions at this employer began fewer than 10 months before delivery, or
the employer has no other contributor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from yibao.db.statements import Db, Statement
from yibao.policy.params import MaternityParams
from yibao.uuids import uuid7

FLAG_RECENT = "contributions_began_recently"
FLAG_ALONE = "employer_has_no_other_contributor"


def months_before(month: date, n: int) -> date:
    """The first day of the month ``n`` months before ``month`` (a first day)."""
    index = month.year * 12 + (month.month - 1) - n
    return date(index // 12, index % 12 + 1, 1)


def months_between(earlier: date, later: date) -> int:
    return (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month)


@dataclass(frozen=True)
class ContributionStats:
    months: int  # distinct months the person contributed in the lookback window before delivery
    employer_id: int | None  # the employer of the person's latest contribution before delivery
    first_at_employer: date | None  # the person's first month at that employer in the window
    base_total: int  # fen: the employer's contribution bases over the base window
    base_lines: int  # person-months in it
    other_contributors: int  # other people the employer contributed for in the base window


@dataclass(frozen=True)
class Computed:
    days: int
    average_base: int
    daily_amount: int
    amount: int
    eligible: bool
    reason: str | None
    flags: tuple[str, ...]


def compute(
    params: MaternityParams, delivery_type: str, babies: int, delivery: date, stats: ContributionStats
) -> Computed:
    """The allowance from the contribution figures (pure: the numbers of DOMAIN §10)."""
    days = params.allowance_days_for(delivery_type, babies)
    average = Decimal(stats.base_total) / stats.base_lines if stats.base_lines else Decimal(0)
    daily = int((average / 30).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    month = delivery.replace(day=1)
    flags: list[str] = []
    if stats.first_at_employer is not None and (
        months_between(stats.first_at_employer, month) < params.flag_contributions_under_months
    ):
        flags.append(FLAG_RECENT)
    if stats.employer_id is not None and stats.other_contributors == 0:
        flags.append(FLAG_ALONE)
    reason = None
    if stats.months < params.min_contribution_months:
        reason = (
            f"缴费不足 contributions in {stats.months} of the {params.contribution_lookback_months} months before "
            f"delivery; {params.min_contribution_months} needed"
        )
    elif not stats.base_lines:
        reason = "无缴费基数 no employer contribution base in the 12 months before delivery"
    eligible = reason is None
    return Computed(
        days=days,
        average_base=int(average.quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        daily_amount=daily if eligible else 0,
        amount=daily * days if eligible else 0,
        eligible=eligible,
        reason=reason,
        flags=tuple(flags),
    )


_STATS = Statement(
    """
    WITH mine AS (
        SELECT p.month, p.employer_id FROM contribution_lines l
        JOIN contribution_postings p ON p.id = l.posting_id
        WHERE l.person_id = :person_id AND p.month < :month AND p.month >= :lookback_from
    ), employer AS (
        SELECT employer_id FROM mine ORDER BY month DESC, employer_id LIMIT 1
    ), base AS (
        SELECT COALESCE(SUM(l.base), 0)::bigint AS total, count(*) AS n,
               count(DISTINCT l.person_id) FILTER (WHERE l.person_id <> :person_id) AS others
        FROM contribution_lines l JOIN contribution_postings p ON p.id = l.posting_id
        WHERE p.employer_id = (SELECT employer_id FROM employer) AND p.month < :month AND p.month >= :base_from
    )
    SELECT (SELECT count(DISTINCT month) FROM mine) AS months,
           (SELECT employer_id FROM employer) AS employer_id,
           (SELECT min(month) FROM mine WHERE employer_id = (SELECT employer_id FROM employer)) AS first_at_employer,
           base.total, base.n, base.others
    FROM base
    """
)

_INSERT = Statement(
    """
    INSERT INTO maternity_allowances (
        id, allowance_no, settlement_id, institution_code, person_id, employer_id, delivery_date, delivery_type,
        babies, days, months_contributed, first_contribution_month, other_contributors, average_base,
        daily_amount, amount, eligible, reason, flags, status, policy_version, created_at)
    VALUES (:id, :allowance_no, :settlement_id, :institution_code, :person_id, :employer_id, :delivery_date,
        :delivery_type, :babies, :days, :months, :first_month, :others, :average_base, :daily_amount, :amount,
        :eligible, :reason, CAST(:flags AS varchar[]), :status, :policy_version, :created_at)
    ON CONFLICT (settlement_id) DO NOTHING
    RETURNING id
    """
)

_VOID = Statement(
    """
    UPDATE maternity_allowances AS a
    SET delivery_cancelled_at = :at,
        status = CASE WHEN o.owed THEN a.status ELSE 'void' END,
        voided_at = CASE WHEN o.owed THEN a.voided_at ELSE :at END
    FROM (SELECT m.id,
                 -- paid, or in a person order being paid: the money is (or will be) with the mother,
                 -- so it is owed back (recovery due) instead of voided
                 m.status = 'paid' OR EXISTS (SELECT 1 FROM person_disbursement_lines l
                                             WHERE l.claim_id = m.id AND l.returned_at IS NULL) AS owed
          FROM maternity_allowances m WHERE m.settlement_id = :settlement_id) AS o
    WHERE a.id = o.id AND a.status IN ('pending', 'approved', 'ineligible', 'paid')
    RETURNING a.id
    """
)


async def create_on_delivery(
    db: Db,
    params: MaternityParams,
    policy_version: str,
    *,
    settlement_id: uuid.UUID,
    institution_code: str,
    person_id: int,
    delivery: date,
    delivery_type: str,
    babies: int,
    at: datetime,
) -> bool:
    """Create the allowance of a settled delivery inside the settle transaction; ``False`` if it exists."""
    month = delivery.replace(day=1)
    row = await db.fetchrow(
        _STATS,
        {
            "person_id": person_id,
            "month": month,
            "lookback_from": months_before(month, params.contribution_lookback_months),
            "base_from": months_before(month, params.base_months),
        },
    )
    assert row is not None  # the statement always answers one row
    stats = ContributionStats(
        months=int(row["months"]),
        employer_id=row["employer_id"],
        first_at_employer=row["first_at_employer"],
        base_total=int(row["total"]),
        base_lines=int(row["n"]),
        other_contributors=int(row["others"]),
    )
    out = compute(params, delivery_type, babies, delivery, stats)
    allowance_id = uuid7()
    params_: dict[str, Any] = {
        "id": allowance_id,
        "allowance_no": f"SY{delivery:%Y%m%d}{allowance_id.hex[-10:].upper()}",
        "settlement_id": settlement_id,
        "institution_code": institution_code,
        "person_id": person_id,
        "employer_id": stats.employer_id,
        "delivery_date": delivery,
        "delivery_type": delivery_type,
        "babies": babies,
        "days": out.days,
        "months": stats.months,
        "first_month": stats.first_at_employer,
        "others": stats.other_contributors,
        "average_base": out.average_base,
        "daily_amount": out.daily_amount,
        "amount": out.amount,
        "eligible": out.eligible,
        "reason": out.reason,
        "flags": list(out.flags),
        "status": "pending" if out.eligible else "ineligible",
        "policy_version": policy_version,
        "created_at": at,
    }
    return await db.fetchval(_INSERT, params_) is not None


async def void_on_cancel(db: Db, settlement_id: uuid.UUID, at: datetime) -> bool:
    """The delivery bill was cancelled: its allowance is void, or, once paid or in a person
    order, marked as owed back (``delivery_cancelled_at``; finance records its recovery)."""
    return await db.fetchval(_VOID, {"settlement_id": settlement_id, "at": at}) is not None
