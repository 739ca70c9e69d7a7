"""Budget use cases: draft a region's budgets of a scheme for a year, propose them, negotiate each
institution's (counter-proposal, agreement), approve (maker-checker) and adjust mid-year.

Every step locks the institution's newest version, checks its state, writes, audits
(``budget.*``) and commits. An institution acts only on its own budget and reads only its own
(never a draft, never another's); staff read the region's."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.budgets import rules
from yibao.budgets.orm import BudgetVersionRow, RegionBudgetRow
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest, InvalidState, NotFound, SameActor
from yibao.ledger import position
from yibao.money import Fen, to_wire
from yibao.policy.params import FundParams
from yibao.policy.repository import load_active

SCHEMES = ("resident", "employee")

#: fund payments (pooled funds) and cases per institution and year, from the settled bills
_HISTORY = text(
    """
    SELECT s.institution_code, s.year, SUM(s.basic_fund + s.critical_illness)::bigint AS paid, count(*) AS cases
    FROM settlements s JOIN institutions i ON i.code = s.institution_code
    WHERE i.region = :region AND s.scheme = :scheme AND s.status = 'settled'
      AND s.year BETWEEN :first AND :last
    GROUP BY 1, 2
    """
)


def _scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise InvalidRequest(f"险种无效 scheme must be one of {', '.join(SCHEMES)}")


async def _params(session: AsyncSession, region: str, year: int) -> FundParams:
    policies = await load_active(session)
    own = policies.get((region, year))
    return own.fund if own is not None else position.fund_params(policies)


@dataclass(frozen=True)
class Budgets:
    region: RegionBudgetRow
    versions: list[BudgetVersionRow]
    created: bool = False


async def draft(uow: UnitOfWork, actor: audit.Actor, region: str, year: int, scheme: str) -> Budgets:
    """The region's budget (last year's, else last year's fund payments, grown by the policy rate)
    and each institution's draft. Drafting again answers the budgets already drafted."""
    _scheme(scheme)
    s = uow.session
    await s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"budget:{region}:{year}:{scheme}"})
    existing = await _region(s, region, year, scheme)
    if existing is not None:
        return Budgets(existing, await _current(s, region, year, scheme), created=False)
    params = await _params(s, region, year)
    rate = params.budget_growth.get(scheme, Decimal(0))
    rows = (await s.execute(_HISTORY, {"region": region, "scheme": scheme, "first": year - 3, "last": year - 1})).all()
    paid: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    cases: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        paid[r.institution_code][r.year - (year - 3)] = int(r.paid)
        cases[r.institution_code][r.year - (year - 3)] = int(r.cases)
    last = await _region(s, region, year - 1, scheme)
    base = last.amount if last is not None else sum(p[2] for p in paid.values())
    regional = RegionBudgetRow(
        region=region,
        year=year,
        scheme=scheme,
        base=base,
        rate=rate,
        amount=rules.regional(base, rate),
        made_by=actor.name,
    )
    s.add(regional)
    made = rules.drafts(paid, cases, params.budget_weights, regional.amount)
    versions = []
    for code in sorted(made):
        d = made[code]
        row = BudgetVersionRow(
            region=region,
            year=year,
            scheme=scheme,
            institution_code=code,
            version=1,
            state="draft",
            amount=int(d.amount),
            expected_cases=d.expected_cases,
            per_case_quota=d.per_case_quota,
            history={
                "years": [year - 3, year - 2, year - 1],
                "fund_payments": paid[code],
                "cases": cases[code],
                "weights": [str(w) for w in params.budget_weights],
            },
            made_by=actor.name,
        )
        s.add(row)
        versions.append(row)
    await s.flush()
    await audit.record(
        s,
        actor,
        "budget.drafted",
        ("budget_region", str(regional.id)),
        {
            "region": region,
            "year": year,
            "scheme": scheme,
            "amount_fen": regional.amount,
            "institutions": len(versions),
        },
    )
    await uow.commit()
    return Budgets(regional, versions, created=True)


async def propose(uow: UnitOfWork, actor: audit.Actor, region: str, year: int, scheme: str) -> Budgets:
    """Send every draft to its institution (draft → proposed); a second call changes nothing."""
    _scheme(scheme)
    s = uow.session
    regional = await _region(s, region, year, scheme)
    if regional is None:
        raise NotFound(f"{region} {year} {scheme} 无预算草案 no budget drafted; draft it first")
    current = await _current(s, region, year, scheme, lock=True)
    moved = [v for v in current if v.state == "draft"]
    for v in moved:
        v.state = "proposed"
    await s.flush()
    if moved:
        detail = {"region": region, "year": year, "scheme": scheme, "institutions": len(moved)}
        await audit.record(s, actor, "budget.proposed", ("budget_region", str(regional.id)), detail)
    await uow.commit()
    return Budgets(regional, current)


async def _region(session: AsyncSession, region: str, year: int, scheme: str) -> RegionBudgetRow | None:
    return await session.scalar(
        select(RegionBudgetRow).where(
            RegionBudgetRow.region == region, RegionBudgetRow.year == year, RegionBudgetRow.scheme == scheme
        )
    )


async def _current(
    session: AsyncSession, region: str, year: int, scheme: str, *, lock: bool = False
) -> list[BudgetVersionRow]:
    """Each institution's newest version."""
    newest = (
        select(func.max(BudgetVersionRow.id))
        .where(BudgetVersionRow.region == region, BudgetVersionRow.year == year, BudgetVersionRow.scheme == scheme)
        .group_by(BudgetVersionRow.institution_code)
    )
    stmt = select(BudgetVersionRow).where(BudgetVersionRow.id.in_(newest)).order_by(BudgetVersionRow.institution_code)
    if lock:
        stmt = stmt.with_for_update()
    return list((await session.scalars(stmt)).all())


async def _newest(session: AsyncSession, year: int, scheme: str, code: str) -> BudgetVersionRow:
    _scheme(scheme)
    row = await session.scalar(
        select(BudgetVersionRow)
        .where(
            BudgetVersionRow.year == year, BudgetVersionRow.scheme == scheme, BudgetVersionRow.institution_code == code
        )
        .order_by(BudgetVersionRow.version.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"{code} 无 {year} 年 {scheme} 预算 no budget for {code}, {year}, {scheme}")
    return row


def _expect(row: BudgetVersionRow, *states: str) -> None:
    if row.state not in states:
        raise InvalidState(f"预算状态为 {row.state} the budget is {row.state}; this step needs {' or '.join(states)}")


async def _done(uow: UnitOfWork, actor: audit.Actor, action: str, row: BudgetVersionRow) -> BudgetVersionRow:
    await uow.session.flush()
    await audit.record(uow.session, actor, action, ("budget_version", str(row.id)), render_version(row))
    await uow.commit()
    return row


async def counter(
    uow: UnitOfWork, actor: audit.Actor, code: str, year: int, scheme: str, amount: Fen, reason: str
) -> BudgetVersionRow:
    """The institution's counter-proposal to its proposed budget, with a reason."""
    row = await _newest(uow.session, year, scheme, code)
    _expect(row, "proposed")
    if amount <= 0 or not reason.strip():
        raise InvalidRequest("反提议须有正数金额和理由 a counter-proposal needs a positive amount and a reason")
    row.state, row.counter_amount, row.reason = "counter_proposed", int(amount), reason.strip()
    return await _done(uow, actor, "budget.counter_proposed", row)


async def accept(uow: UnitOfWork, actor: audit.Actor, code: str, year: int, scheme: str) -> BudgetVersionRow:
    """The institution accepts its proposed budget as it is."""
    row = await _newest(uow.session, year, scheme, code)
    _expect(row, "proposed")
    row.state, row.agreed_by = "agreed", actor.name
    return await _done(uow, actor, "budget.agreed", row)


async def agree(
    uow: UnitOfWork, actor: audit.Actor, code: str, year: int, scheme: str, amount: Fen | None
) -> BudgetVersionRow:
    """Finance settles a counter-proposal: at the institution's figure, or at ``amount``."""
    row = await _newest(uow.session, year, scheme, code)
    _expect(row, "counter_proposed")
    final = int(amount) if amount is not None else row.counter_amount
    assert final is not None
    if final <= 0:
        raise InvalidRequest("金额必须为正数 the amount must be positive")
    row.state, row.amount, row.agreed_by = "agreed", final, actor.name
    row.per_case_quota = rules.quota(final, row.expected_cases)
    return await _done(uow, actor, "budget.agreed", row)


async def approve(uow: UnitOfWork, actor: audit.Actor, code: str, year: int, scheme: str) -> BudgetVersionRow:
    """Finance approves an agreed budget (not the one who made or agreed it: ``SAME_ACTOR``)."""
    row = await _newest(uow.session, year, scheme, code)
    if row.state == "approved":
        return row
    _expect(row, "agreed")
    if actor.name in (row.made_by, row.agreed_by):
        raise SameActor("拟定或确认预算的人不能审批 who made or agreed a budget cannot approve it")
    row.state, row.approved_by = "approved", actor.name
    return await _done(uow, actor, "budget.approved", row)


async def adjust(
    uow: UnitOfWork, actor: audit.Actor, code: str, year: int, scheme: str, amount: Fen, reason: str
) -> BudgetVersionRow:
    """A mid-year adjustment: a new version (agreed by its maker, with a reason) of an approved
    budget; the approved one stays in force until another finance user approves the new one."""
    s = uow.session
    row = await _newest(s, year, scheme, code)
    _expect(row, "approved")
    if amount <= 0 or not reason.strip():
        raise InvalidRequest("调整须有正数金额和理由 an adjustment needs a positive amount and a reason")
    new = BudgetVersionRow(
        region=row.region,
        year=year,
        scheme=scheme,
        institution_code=code,
        version=row.version + 1,
        state="agreed",
        amount=int(amount),
        expected_cases=row.expected_cases,
        per_case_quota=rules.quota(int(amount), row.expected_cases),
        history=row.history,
        reason=reason.strip(),
        made_by=actor.name,
        agreed_by=actor.name,
    )
    s.add(new)
    return await _done(uow, actor, "budget.adjusted", new)


async def read(session: AsyncSession, region: str, year: int, scheme: str, institution: str | None) -> dict[str, Any]:
    """Staff: the regional budget and each institution's newest version. An institution
    (``institution``): only its own, and only once proposed."""
    _scheme(scheme)
    regional = await _region(session, region, year, scheme)
    if regional is None:
        raise NotFound(f"{region} {year} {scheme} 无预算 no budget drafted")
    versions = await _current(session, region, year, scheme)
    if institution is not None:
        mine = [v for v in versions if v.institution_code == institution and v.state != "draft"]
        return {"year": year, "scheme": scheme, "institutions": [render_version(v) for v in mine]}
    return {
        "region": region,
        "year": year,
        "scheme": scheme,
        "base": to_wire(regional.base),
        "rate": str(regional.rate.normalize()),
        "amount": to_wire(regional.amount),
        "institutions": [render_version(v) for v in versions],
    }


async def history(session: AsyncSession, code: str, year: int, scheme: str, *, own: bool) -> list[dict[str, Any]]:
    """Every version of an institution's budget, oldest first (an institution: not drafts)."""
    _scheme(scheme)
    rows = (
        await session.scalars(
            select(BudgetVersionRow)
            .where(
                BudgetVersionRow.year == year,
                BudgetVersionRow.scheme == scheme,
                BudgetVersionRow.institution_code == code,
            )
            .order_by(BudgetVersionRow.version)
        )
    ).all()
    shown = [r for r in rows if not (own and r.state == "draft")]
    if not shown:
        raise NotFound(f"{code} 无 {year} 年 {scheme} 预算 no budget for {code}, {year}, {scheme}")
    return [render_version(r) for r in shown]


async def in_force(session: AsyncSession, code: str, year: int, scheme: str) -> BudgetVersionRow | None:
    """The newest approved version (what clearing and alerts should read)."""
    return await session.scalar(
        select(BudgetVersionRow)
        .where(
            BudgetVersionRow.year == year,
            BudgetVersionRow.scheme == scheme,
            BudgetVersionRow.institution_code == code,
            BudgetVersionRow.state == "approved",
        )
        .order_by(BudgetVersionRow.version.desc())
        .limit(1)
    )


def render_version(v: BudgetVersionRow) -> dict[str, Any]:
    return {
        "institution_code": v.institution_code,
        "year": v.year,
        "scheme": v.scheme,
        "version": v.version,
        "state": v.state,
        "amount": to_wire(v.amount),
        "expected_cases": v.expected_cases,
        "per_case_quota": None if v.per_case_quota is None else to_wire(v.per_case_quota),
        "counter_amount": None if v.counter_amount is None else to_wire(v.counter_amount),
        "reason": v.reason,
        "history": {
            **v.history,
            "fund_payments": [to_wire(p) for p in v.history.get("fund_payments", [])],
        },
    }
