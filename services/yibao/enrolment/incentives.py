"""Critical-illness incentives derived from history (DOMAIN §2): continuity and zero-claim credit.

The pure rule (``derive``) states the definition; ``refresh_incentives`` computes the same in
one set-based UPDATE for any number of people, so the year-end rollover costs one statement.
Definitions for coverage year Y (history = years before Y only; a payout in Y counts from Y+1):

* continuous_years = enrolled years in an unbroken run ending at Y−1 (any scheme);
* zero_claim_credit = zero_claim_step × enrolled years before Y, after the last year with a
  critical-illness payout, in which no fund paid anything in non-cancelled settlements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.money import Fen, yuan_to_fen
from yibao.policy.repository import load_active

DEFAULT_ZERO_CLAIM_STEP = yuan_to_fen("3000.00")


@dataclass(frozen=True)
class YearHistory:
    fund_paid: int = 0
    critical_paid: int = 0


@dataclass(frozen=True)
class Incentives:
    continuous_years: int
    zero_claim_credit: Fen


def derive(year: int, enrolled: Mapping[int, YearHistory], zero_claim_step: Fen) -> Incentives:
    """Pure definition over one person's enrolled years (year → what the funds paid that year)."""
    run = 0
    y = year - 1
    while y in enrolled:
        run += 1
        y -= 1
    credit = 0
    for y in sorted(k for k in enrolled if k < year):
        h = enrolled[y]
        if h.critical_paid > 0:
            credit = 0
        elif h.fund_paid == 0:
            credit += zero_claim_step
    return Incentives(run, Fen(credit))


_REFRESH = text(
    """
    WITH scope AS (
        SELECT e.id, e.person_id, p.region FROM enrolments e JOIN persons p ON p.id = e.person_id
        WHERE e.year = :year AND (CAST(:all_people AS boolean) OR e.person_id = ANY(:ids))
    ),
    hist AS (
        SELECT DISTINCT h.person_id, h.year FROM enrolments h
        WHERE h.year < :year AND h.person_id IN (SELECT person_id FROM scope)
    ),
    runs AS (
        SELECT person_id, year, year + row_number() OVER (PARTITION BY person_id ORDER BY year DESC) AS k
        FROM hist
    ),
    paid AS (
        SELECT s.person_id, s.year, sum(s.fund_total) AS fund, sum(s.critical_illness) AS ci
        FROM settlements s
        WHERE s.status = 'settled' AND s.year < :year AND s.person_id IN (SELECT person_id FROM scope)
        GROUP BY s.person_id, s.year
    ),
    last_ci AS (
        SELECT person_id, max(year) AS year FROM paid WHERE ci > 0 GROUP BY person_id
    ),
    derived AS (
        SELECT sc.id, sc.region,
               (SELECT count(*) FROM runs r WHERE r.person_id = sc.person_id AND r.k = :year) AS cont,
               (SELECT count(*) FROM hist h
                  LEFT JOIN paid pd ON pd.person_id = h.person_id AND pd.year = h.year
                  LEFT JOIN last_ci lc ON lc.person_id = h.person_id
                 WHERE h.person_id = sc.person_id AND coalesce(pd.fund, 0) = 0
                   AND (lc.year IS NULL OR h.year > lc.year)) AS zero_years
        FROM scope sc
    )
    UPDATE enrolments e
    SET continuous_years = d.cont,
        zero_claim_credit = d.zero_years * coalesce(
            (SELECT (st->>'step')::bigint FROM jsonb_array_elements(CAST(:steps AS jsonb)) st
             WHERE st->>'region' = d.region), :default_step)
    FROM derived d
    WHERE e.id = d.id
      AND (e.continuous_years IS DISTINCT FROM d.cont
           OR e.zero_claim_credit IS DISTINCT FROM d.zero_years * coalesce(
            (SELECT (st->>'step')::bigint FROM jsonb_array_elements(CAST(:steps AS jsonb)) st
             WHERE st->>'region' = d.region), :default_step))
    """
).bindparams(bindparam("ids"))


async def _steps(session: AsyncSession, year: int) -> list[dict[str, object]]:
    """Zero-claim step per region from the newest policy of ``year`` (or the latest earlier year)."""
    best: dict[str, tuple[int, Fen]] = {}
    for (region, y), params in (await load_active(session)).items():
        ci = params.resident.critical_illness
        if ci is None or y > year:
            continue
        if region not in best or y > best[region][0]:
            best[region] = (y, ci.incentives.zero_claim_step)
    return [{"region": r, "step": int(step)} for r, (_, step) in best.items()]


async def refresh_incentives(session: AsyncSession, year: int, person_ids: list[int] | None = None) -> int:
    """Recompute continuous_years and zero_claim_credit of every enrolment of ``year``
    (or of ``person_ids`` only) from enrolment and settlement history; returns rows changed.

    Idempotent and set-based: the year-end rollover calls it once for the new year; paying a
    premium calls it for one person. It does not commit.
    """
    result = await session.execute(
        _REFRESH,
        {
            "year": year,
            "all_people": person_ids is None,
            "ids": list(person_ids or []),
            "steps": orjson.dumps(await _steps(session, year)).decode(),
            "default_step": int(DEFAULT_ZERO_CLAIM_STEP),
        },
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
