"""Monthly alerts (job ``monitor_alerts``): return-to-poverty, fund health, budget pace.

Each alert is one row keyed by ``(kind, period, subject)``, so a re-run of a month adds
nothing. Thresholds are rule parameters (``return_to_poverty``, ``fund_health``,
``budget_growth``). Fund health reads the fund's position from the ledger
(``yibao.ledger.position``: opening balance from policy data, income and spending posted):
a scheme whose months of balance at the month's end are below ``months_alert``, or whose
balance is negative, is alerted. Budget pace reads each institution's approved budgets of the
year (``budget_versions``, the newest approved version per scheme, summed), else the
``annual_budget`` of ``institutions.csv``. A month before the fund's opening date (or a deployment
without one) is reported as ``skipped`` in the job result, never guessed.
"""

from __future__ import annotations

import calendar
import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest, PolicyNotFound
from yibao.ledger import position
from yibao.money import to_wire, yuan_to_fen
from yibao.monitoring.orm import AlertRow
from yibao.monitoring.repository import load_rules
from yibao.monitoring.rules import RuleSet
from yibao.policy.params import FundParams
from yibao.policy.repository import load_active

_POVERTY = text(
    """
    INSERT INTO monitoring_alerts (kind, period, subject, amount, detail)
    SELECT 'return_to_poverty', :period, py.person_id::text, py.personal_paid,
           jsonb_build_object('year', py.year, 'threshold_fen', CAST(:threshold AS bigint))
    FROM person_years py
    WHERE py.year = :year AND py.personal_paid > CAST(:threshold AS bigint)
    ON CONFLICT (kind, period, subject) DO NOTHING
    """
)

_BUDGET = text(
    """
    WITH approved AS (  -- each scheme's newest approved budget version of the year, summed per institution
        SELECT institution_code, SUM(amount)::bigint AS amount
        FROM (SELECT DISTINCT ON (institution_code, scheme) institution_code, amount
              FROM budget_versions WHERE year = :year AND state = 'approved'
              ORDER BY institution_code, scheme, version DESC) v
        GROUP BY 1
    )
    INSERT INTO monitoring_alerts (kind, period, subject, amount, detail)
    SELECT 'budget_growth', :period, i.code, x.spent,
           jsonb_build_object('annual_budget_fen', b.budget, 'months', CAST(:months AS int),
                              'budget_pace_fen', round(b.budget * CAST(:months AS numeric) / 12),
                              'factor', CAST(:factor AS numeric),
                              'budget_source', CASE WHEN a.amount IS NULL THEN 'institutions' ELSE 'approved' END)
    FROM (SELECT institution_code, sum(fund_total)::bigint AS spent FROM settlements
          WHERE status = 'settled' AND service_date BETWEEN CAST(:start AS date) AND CAST(:until AS date)
          GROUP BY institution_code) x
    JOIN institutions i ON i.code = x.institution_code
    LEFT JOIN approved a ON a.institution_code = i.code
    CROSS JOIN LATERAL (SELECT COALESCE(a.amount, i.annual_budget) AS budget) b
    WHERE b.budget > 0
      AND x.spent > b.budget * CAST(:months AS numeric) / 12 * CAST(:factor AS numeric)
    ON CONFLICT (kind, period, subject) DO NOTHING
    """
)


async def raise_for_month(uow: UnitOfWork, actor: audit.Actor, year: int, month: int) -> dict[str, Any]:
    """The month's alerts under the rules in force (audited, committed); what was added."""
    result = await run(uow.session, await load_rules(uow.session), year, month)
    await audit.record(uow.session, actor, "monitoring.alerts_raised", ("alert_period", result["period"]), dict(result))
    await uow.commit()
    return result


async def list_page(
    session: AsyncSession,
    *,
    kind: str | None = None,
    period: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Newest first (keyset on id)."""
    stmt = select(AlertRow)
    if kind:
        stmt = stmt.where(AlertRow.kind == kind)
    if period:
        stmt = stmt.where(AlertRow.period == period)
    if cursor:
        stmt = stmt.where(AlertRow.id < cursor)
    rows = (await session.scalars(stmt.order_by(AlertRow.id.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return {"items": [render(r) for r in page], "next_cursor": page[-1].id if len(rows) > limit else None}


def render(row: AlertRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "period": row.period,
        "subject": row.subject,
        "amount": to_wire(row.amount) if row.amount is not None else None,
        "detail": row.detail,
    }


async def run(session: AsyncSession, rules: RuleSet, year: int, month: int) -> dict[str, Any]:
    """Insert the month's alerts in the caller's transaction (a re-run adds nothing)."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise InvalidRequest(f"invalid alert period {year}-{month}")
    period = f"{year:04d}-{month:02d}"
    until = date(year, month, calendar.monthrange(year, month)[1])
    poverty = rules.params("return_to_poverty")
    result: dict[str, Any] = {"period": period}
    r = await session.execute(
        _POVERTY, {"period": period, "year": year, "threshold": int(yuan_to_fen(str(poverty["self_pay"])))}
    )
    result["return_to_poverty"] = int(getattr(r, "rowcount", 0) or 0)

    health = rules.params("fund_health")
    fund_alerts, skipped = 0, []
    try:
        params: FundParams | None = position.fund_params(await load_active(session))
    except PolicyNotFound:
        params = None
    for scheme in position.SCHEMES:
        if params is None or params.opening_date is None or until < params.opening_date:
            skipped.append(scheme)  # no opening balance for this month: never guessed
            continue
        pos = await position.position(session, params, scheme, until)
        months = pos.months_of_balance
        if (months is not None and months < Decimal(str(health["months_alert"]))) or pos.cumulative_deficit:
            detail = {
                "months_of_balance": None if months is None else str(months),
                "monthly_spending_fen": int(pos.average_monthly_spending.quantize(Decimal(1), rounding=ROUND_HALF_UP)),
                "alert_below": int(health["months_alert"]),
                "current_period_deficit": pos.current_period_deficit,
                "cumulative_deficit": pos.cumulative_deficit,
            }
            r = await session.execute(
                text(
                    "INSERT INTO monitoring_alerts (kind, period, subject, amount, detail) "
                    "VALUES ('fund_health', :period, :scheme, :balance, CAST(:detail AS jsonb)) "
                    "ON CONFLICT (kind, period, subject) DO NOTHING"
                ),
                {"period": period, "scheme": scheme, "balance": pos.closing, "detail": json.dumps(detail)},
            )
            fund_alerts += int(getattr(r, "rowcount", 0) or 0)
    result["fund_health"] = fund_alerts
    result["fund_health_skipped"] = skipped

    r = await session.execute(
        _BUDGET,
        {
            "period": period,
            "months": month,
            "factor": Decimal(str(rules.params("budget_growth")["factor"])),
            "start": date(year, 1, 1),
            "until": until,
            "year": year,
        },
    )
    result["budget_growth"] = int(getattr(r, "rowcount", 0) or 0)
    return result
