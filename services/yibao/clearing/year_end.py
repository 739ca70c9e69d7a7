"""Year-end DIP clearing of one region: preview (nothing written) or commit (final, once).

Commit writes the statements, a ``clearing`` movement per institution (claims ↔ payable for
final − claimed) and the prepayment recovery (payable ← prepayment), each with the source
``clearing:<year>:<institution>`` (a movement is one institution's). Both land on the
institution's open payable, so the next daily settle pays a positive difference or nets a
negative one against new bills until it is recovered (the payment/recovery order).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.bill_settlement.orm import SettlementRow
from yibao.catalogue.orm import DipGroupRow
from yibao.clearing.dip_math import Case, Clearing, Group, Terms, clear
from yibao.clearing.orm import ClearingRow, ClearingStatementRow
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest, NotFound
from yibao.institutions.orm import InstitutionRow
from yibao.ledger.postings import post_pair
from yibao.money import Fen, to_wire
from yibao.payouts.orm import PrepaymentRow
from yibao.policy.params import PolicyParams
from yibao.policy.repository import load_active

_LOCK = text("SELECT pg_advisory_xact_lock(7305003)")


async def _policy(session: AsyncSession, region: str, year: int) -> PolicyParams:
    policy = (await load_active(session)).get((region, year))
    if policy is None:
        raise InvalidRequest(f"统筹区 {region} 无 {year} 年度政策 no policy for region {region}, year {year}")
    return policy


async def gather(session: AsyncSession, region: str, year: int, settled_before: datetime | None = None) -> Clearing:
    """``settled_before`` limits the cases (monthly pre-settlement uses the year so far)."""
    policy = await _policy(session, region, year)
    insts = (
        await session.scalars(
            select(InstitutionRow).where(InstitutionRow.region == region, InstitutionRow.dip_coefficient.isnot(None))
        )
    ).all()
    codes = [i.code for i in insts]
    prepaid_rows = await session.execute(
        select(PrepaymentRow.institution_code, func.sum(PrepaymentRow.amount))
        .where(PrepaymentRow.year == year, PrepaymentRow.state == "approved")
        .group_by(PrepaymentRow.institution_code)
    )
    prepaid = {code: int(total) for code, total in prepaid_rows}
    terms = [
        Terms(i.code, i.dip_coefficient or Decimal(1), Fen(i.annual_budget), Fen(int(prepaid.get(i.code, 0))))
        for i in insts
    ]
    groups = [
        Group(g.code, g.main_diagnosis, g.procedure, g.points, Fen(g.average_cost))
        for g in await session.scalars(select(DipGroupRow))
    ]
    rows = await session.execute(
        select(
            SettlementRow.id,
            SettlementRow.institution_code,
            SettlementRow.diagnoses,
            SettlementRow.procedures,
            SettlementRow.total,
            SettlementRow.basic_fund,
        ).where(
            SettlementRow.year == year,
            SettlementRow.visit_type == "inpatient",
            SettlementRow.status == "settled",
            SettlementRow.institution_code.in_(codes),
            SettlementRow.settled_at < (settled_before or datetime.max.replace(tzinfo=UTC)),
        )
    )
    cases = [Case(str(r[0]), r[1], list(r[2] or []), list(r[3] or []), Fen(r[4]), Fen(r[5])) for r in rows]
    return clear(cases, groups, terms, policy.dip, policy.dip.budget)


def render(result: Clearing, region: str, year: int, committed: bool) -> dict[str, Any]:
    def statement(s: Any) -> dict[str, Any]:
        d = asdict(s)
        for k in ("dip_amount", "claimed", "before_cap", "final", "prepaid", "difference", "unmatched_claimed"):
            d[k] = to_wire(d[k])
        for k in ("points", "weighted_points", "clearing_ratio"):
            d[k] = str(d[k]) if d[k] is not None else None
        d["unmatched"] = list(d["unmatched"])
        d["direction"] = "pay" if s.difference > 0 else "recover" if s.difference < 0 else "none"
        return d

    return {
        "region": region,
        "year": year,
        "committed": committed,
        "budget": to_wire(result.budget),
        "weighted_points": str(result.weighted_points),
        "point_value": str((result.point_value / 100).quantize(Decimal("0.000001"))),
        "statements": [statement(s) for s in result.statements],
    }


async def preview(session: AsyncSession, region: str, year: int) -> dict[str, Any]:
    committed = await session.get(ClearingRow, (region, year))
    if committed is not None:
        return await stored(session, region, year)
    return render(await gather(session, region, year), region, year, committed=False)


async def stored(session: AsyncSession, region: str, year: int) -> dict[str, Any]:
    row = await session.get(ClearingRow, (region, year))
    if row is None:
        raise InvalidRequest(f"{year} 年度尚未清算 year {year} of region {region} has not been cleared")
    statements = (
        await session.scalars(
            select(ClearingStatementRow)
            .where(ClearingStatementRow.year == year, ClearingStatementRow.region == region)
            .order_by(ClearingStatementRow.institution_code)
        )
    ).all()
    return {
        "region": region,
        "year": year,
        "committed": True,
        "budget": to_wire(row.budget),
        "weighted_points": str(row.weighted_points),
        "point_value": str((row.point_value / 100).quantize(Decimal("0.000001"))),
        "statements": [s.statement for s in statements],
    }


async def statements(
    session: AsyncSession, region: str, year: int, institution_code: str | None = None
) -> dict[str, Any]:
    """The committed clearing. An institution sees only its own statement (none: ``NOT_FOUND``)
    and the point value (to check its DIP amount = its weighted points × point value), not the
    region's budget or weighted points: those are the county's figures."""
    body = await stored(session, region, year)
    if institution_code is None:
        return body
    own = [s for s in body["statements"] if s["institution_code"] == institution_code]
    if not own:
        raise NotFound("无本机构清算单 no statement for this institution")
    return {k: body[k] for k in ("region", "year", "committed", "point_value")} | {"statements": own}


async def commit(uow: UnitOfWork, actor: audit.Actor, region: str, year: int) -> dict[str, Any]:
    """Final (audited, committed): a second commit returns the stored clearing and writes nothing."""
    if clock.today() <= date(year, 12, 31):
        raise InvalidRequest(f"{year} 年度尚未结束 year {year} has not ended yet")
    session = uow.session
    await session.execute(_LOCK)
    if await session.get(ClearingRow, (region, year)) is not None:
        return await stored(session, region, year)
    result = await gather(session, region, year)
    body = render(result, region, year, committed=True)
    session.add(
        ClearingRow(
            region=region,
            year=year,
            budget=result.budget,
            weighted_points=result.weighted_points,
            point_value=result.point_value,
            committed_by=actor.name,
        )
    )
    today = clock.today()
    for s, rendered in zip(result.statements, body["statements"], strict=True):
        session.add(
            ClearingStatementRow(
                year=year,
                institution_code=s.institution_code,
                region=region,
                statement=rendered,
                difference=s.difference,
            )
        )
        adjustment = s.final - s.claimed
        # one movement per institution: a ledger movement is (movement, source) and belongs to
        # one institution, so the source names the institution (and the year) it clears
        source = f"clearing:{year}:{s.institution_code}"
        await post_pair(
            session,
            movement="clearing",
            source=source,
            institution_code=s.institution_code,
            fund="basic",
            debit="claims" if adjustment > 0 else "payable",
            credit="payable" if adjustment > 0 else "claims",
            amount=abs(adjustment),
            business_date=today,
        )
        await post_pair(
            session,
            movement="prepayment_recovery",
            source=source,
            institution_code=s.institution_code,
            fund="basic",
            debit="payable",
            credit="prepayment",
            amount=s.prepaid,
            business_date=today,
        )
    await session.execute(
        update(PrepaymentRow)
        .where(PrepaymentRow.year == year, PrepaymentRow.state == "approved")
        .where(PrepaymentRow.institution_code.in_([s.institution_code for s in result.statements]))
        .values(state="recovered", recovered_at=clock.now())
    )
    await audit.record(
        session,
        actor,
        "clearing.committed",
        ("clearing", f"{region}:{year}"),
        {"point_value": body["point_value"], "institutions": len(result.statements)},
    )
    await uow.commit()
    return body
