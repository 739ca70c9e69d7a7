"""DIP 月预结算: per institution, points so far × provisional point value × presettle ratio.

Provisional point value = the year's DIP budget / (weighted points so far × 12 / months elapsed),
i.e. the budget spread over the year's points projected from the months so far. The rate
(pre-settled / claimed so far) is an ops figure. Recomputing a month overwrites its row with
the same figures (idempotent)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.clearing.dip_math import POINT_VALUE_Q, RATIO_Q
from yibao.clearing.year_end import gather
from yibao.clock import CHINA
from yibao.db.uow import UnitOfWork
from yibao.money import round_fen, to_wire
from yibao.policy.repository import load_active
from yibao.reconcile.orm import DipPresettlementRow


async def run(uow: UnitOfWork, actor: audit.Actor, region: str, year: int, month: int) -> dict[str, Any]:
    """Compute and store the month's figures (audited, committed); the figures as the answer."""
    body = await presettle(uow.session, region, year, month)
    await audit.record(
        uow.session,
        actor,
        "dip.presettled",
        ("dip_presettlement", f"{region}:{year}-{month:02d}"),
        {"point_value": body["point_value"], "institutions": len(body["institutions"])},
    )
    await uow.commit()
    return body


async def presettle(session: AsyncSession, region: str, year: int, month: int) -> dict[str, Any]:
    """The month's figures, written in the caller's transaction."""
    if not 1 <= month <= 12:
        raise ValueError("month must be 1..12")
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=CHINA)
    result = await gather(session, region, year, settled_before=end)
    projected = result.weighted_points * Decimal(12) / Decimal(month)
    point_value = (
        (Decimal(result.budget) / projected).quantize(POINT_VALUE_Q, rounding=ROUND_HALF_UP)
        if projected
        else Decimal(0)
    )

    ratio = (await load_active(session))[(region, year)].dip.presettle_ratio
    await session.execute(
        delete(DipPresettlementRow).where(DipPresettlementRow.year == year, DipPresettlementRow.month == month)
    )
    out = []
    for s in result.statements:
        amount = round_fen(s.weighted_points * point_value * ratio)
        rate = (Decimal(amount) / Decimal(s.claimed)).quantize(RATIO_Q) if s.claimed else None
        session.add(
            DipPresettlementRow(
                year=year,
                month=month,
                institution_code=s.institution_code,
                cases=s.cases,
                weighted_points=s.weighted_points,
                point_value=point_value,
                amount=amount,
                claimed=s.claimed,
                rate=rate,
            )
        )
        out.append(
            {
                "institution_code": s.institution_code,
                "cases": s.cases,
                "weighted_points": str(s.weighted_points),
                "amount": to_wire(amount),
                "claimed": to_wire(s.claimed),
                "rate": str(rate) if rate else None,
            }
        )
    await session.flush()
    return {"year": year, "month": month, "point_value": str(point_value / 100), "institutions": out}


async def listing(session: AsyncSession, year: int, month: int, institution_code: str | None) -> list[dict[str, Any]]:
    stmt = select(DipPresettlementRow).where(DipPresettlementRow.year == year, DipPresettlementRow.month == month)
    if institution_code:
        stmt = stmt.where(DipPresettlementRow.institution_code == institution_code)
    return [
        {
            "institution_code": r.institution_code,
            "cases": r.cases,
            "weighted_points": str(r.weighted_points),
            "amount": to_wire(r.amount),
            "claimed": to_wire(r.claimed),
            "rate": str(r.rate) if r.rate else None,
        }
        for r in await session.scalars(stmt.order_by(DipPresettlementRow.institution_code))
    ]
