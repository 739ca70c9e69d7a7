"""Year-end DIP clearing of one region: preview (nothing written) or commit (final, once).

Commit writes the statements, a ``clearing`` movement per institution (claims ↔ payable for
final − claimed) and the prepayment recovery (payable ← prepayment), each with the source
``clearing:<year>:<institution>`` (a movement is one institution's). Both land on the
institution's open payable, so the next daily settle pays a positive difference or nets a
negative one against new bills until it is recovered (the payment/recovery order).

The double control's cap (DOMAIN §5) is the institution's approved budget in force for the year
(issue #19, ``yibao.budgets.service.in_force``): budgets are per scheme, while DIP pools a
region's cases of both schemes under one point value, so the cap is the **sum over schemes** of
the newest approved version of each scheme (a scheme with no approved version adds nothing).
An institution with no approved version in any scheme falls back to its ``annual_budget`` from
``institutions.csv``. Each statement shows the cap it used (``annual_budget``) and where it came
from (``budget_source``: ``approved`` / ``institutions``).

Schemes on the ledger: the ``clearing`` adjustment (final − claimed) is split over the schemes of
the institution's matched cases in proportion to what each scheme's cases claimed (largest
remainder, so the parts add up to the fen; by case count when nothing was claimed), one movement
per scheme with the source ``clearing:<year>:<institution>:<scheme>``, so each scheme's fund
position shows its clearing spending. The prepayment recovery moves no income or spending
account and carries no scheme (a prepayment has none).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.bill_settlement.orm import BILLED_BY_INSTITUTION, SettlementRow
from yibao.budgets import service as budgets
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
    return (await collect(session, region, year, settled_before)).result


async def collect(session: AsyncSession, region: str, year: int, settled_before: datetime | None = None) -> Gathered:
    """The clearing with the cap each institution got and its matched claims per scheme."""
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
    caps = {i.code: await budget_cap(session, i.code, year) for i in insts}
    terms = []
    for i in insts:
        cap = caps[i.code]
        terms.append(
            Terms(
                i.code,
                i.dip_coefficient or Decimal(1),
                Fen(i.annual_budget) if cap is None else cap,
                Fen(int(prepaid.get(i.code, 0))),
            )
        )
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
            SettlementRow.scheme,
        ).where(
            SettlementRow.year == year,
            SettlementRow.visit_type == "inpatient",
            SettlementRow.status == "settled",
            BILLED_BY_INSTITUTION,
            SettlementRow.institution_code.in_(codes),
            SettlementRow.settled_at < (settled_before or datetime.max.replace(tzinfo=UTC)),
        )
    )
    fetched = rows.all()
    cases = [Case(str(r[0]), r[1], list(r[2] or []), list(r[3] or []), Fen(r[4]), Fen(r[5])) for r in fetched]
    result = clear(cases, groups, terms, policy.dip, policy.dip.budget)
    matched = {c.case_id for c in result.cases if c.group is not None}
    schemes: dict[str, dict[str, list[int]]] = {}
    for r in fetched:
        if str(r[0]) in matched:
            claimed_cases = schemes.setdefault(r[1], {}).setdefault(r[6], [0, 0])
            claimed_cases[0] += int(r[5])
            claimed_cases[1] += 1
    return Gathered(
        result, {t.institution_code: (t.annual_budget, source(caps[t.institution_code])) for t in terms}, schemes
    )


def source(cap: Fen | None) -> str:
    return "institutions" if cap is None else "approved"


@dataclass(frozen=True)
class Gathered:
    result: Clearing
    caps: dict[str, tuple[Fen, str]]  # institution → (the cap used, approved / institutions)
    schemes: dict[str, dict[str, list[int]]]  # institution → scheme → [claimed, matched cases]


async def budget_cap(session: AsyncSession, code: str, year: int) -> Fen | None:
    """Σ over schemes of the approved budget in force; ``None`` when no scheme has one."""
    found = [await budgets.in_force(session, code, year, scheme) for scheme in budgets.SCHEMES]
    approved = [v.amount for v in found if v is not None]
    return Fen(sum(approved)) if approved else None


def split(amount: int, weights: dict[str, list[int]]) -> dict[str, int]:
    """``amount`` over the schemes by claimed (by cases when nothing was claimed), largest
    remainder first (ties by scheme name): the parts add up to ``amount`` exactly."""
    if not weights:
        return {}
    i = 0 if sum(w[0] for w in weights.values()) > 0 else 1
    total = sum(w[i] for w in weights.values())
    sign, whole = (1 if amount >= 0 else -1), abs(amount)
    parts = {s: whole * w[i] // total for s, w in weights.items()}
    order = sorted(weights, key=lambda s: (-(whole * weights[s][i] % total), s))
    for s in order[: whole - sum(parts.values())]:
        parts[s] += 1
    return {s: sign * v for s, v in parts.items()}


def render(gathered: Gathered, region: str, year: int, committed: bool) -> dict[str, Any]:
    result = gathered.result

    def statement(s: Any) -> dict[str, Any]:
        d = asdict(s)
        cap, source = gathered.caps[s.institution_code]
        d["annual_budget"], d["budget_source"] = to_wire(cap), source
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
    return render(await collect(session, region, year), region, year, committed=False)


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
    gathered = await collect(session, region, year)
    result = gathered.result
    body = render(gathered, region, year, committed=True)
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
        # a ledger movement is (movement, source) and belongs to one institution, so the source
        # names the institution (and the year) it clears, and the scheme of its part
        source = f"clearing:{year}:{s.institution_code}"
        for scheme, part in sorted(split(adjustment, gathered.schemes.get(s.institution_code, {})).items()):
            await post_pair(
                session,
                movement="clearing",
                source=f"{source}:{scheme}",
                institution_code=s.institution_code,
                fund="basic",
                debit="claims" if part > 0 else "payable",
                credit="payable" if part > 0 else "claims",
                amount=abs(part),
                business_date=today,
                scheme=scheme,
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
