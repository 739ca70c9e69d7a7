"""Money the fund pays before a bill is due: prepayments (预付金) to institutions, and procured
goods (集采) paid straight to the supplier and then deducted from the institution's payable.

Steps in the caller's transaction (no audit, no commit); the use cases are in ``yibao.payouts.service``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.deductions import service as deductions
from yibao.errors import (
    FundBelowMinimum,
    IdempotencyConflict,
    InvalidRequest,
    InvalidState,
    NotFound,
    PrepaymentAboveLimit,
    SameActor,
)
from yibao.institutions.orm import InstitutionRow
from yibao.ledger import position
from yibao.ledger.postings import post_pair
from yibao.money import ZERO, Fen, to_wire
from yibao.payouts.orm import PrepaymentRow
from yibao.policy.repository import load_active
from yibao.procurement import service as procurement


async def _institution(session: AsyncSession, code: str) -> None:
    if await session.get(InstitutionRow, code) is None:
        raise NotFound(f"定点机构 {code} 不存在 institution not found")


KINDS = ("ordinary", "procurement")


def _request_hash(institution_code: str, year: int, amount: Fen, reason: str, kind: str = "ordinary") -> str:
    body: list[object] = [institution_code, year, int(amount), reason]
    if kind != "ordinary":  # an ordinary request hashes as before kinds existed (stored keys still replay)
        body.append(kind)
    canonical = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def request_prepayment(
    session: AsyncSession,
    institution_code: str,
    year: int,
    amount: Fen,
    reason: str,
    requested_by: str,
    idempotency_key: str | None,
    kind: str = "ordinary",
) -> tuple[PrepaymentRow, bool]:
    """A prepayment request, sized by rule (:func:`check_limit`, :func:`check_procurement_limit`)
    and idempotent on the requester's ``idempotency_key``: the same key and
    body again is the first request (``False``: nothing written); the same key with another body
    is ``IDEMPOTENCY_CONFLICT``. A concurrent twin waits on the key's unique index, then replays."""
    if not idempotency_key:
        raise InvalidRequest("缺少 Idempotency-Key 请求头 the Idempotency-Key header is required")
    if amount <= 0:
        raise InvalidRequest("预付金必须为正数 a prepayment must be positive")
    if kind not in KINDS:
        raise InvalidRequest(f"预付金类型无效 kind must be one of {', '.join(KINDS)}")
    await _institution(session, institution_code)
    digest = _request_hash(institution_code, year, amount, reason, kind)
    # one request of an institution at a time (the limits count what earlier requests took), so a
    # concurrent twin waits here, then finds the first under its key and replays it
    await session.execute(select(InstitutionRow.code).where(InstitutionRow.code == institution_code).with_for_update())
    key = (PrepaymentRow.requested_by == requested_by) & (PrepaymentRow.idempotency_key == idempotency_key)
    if await session.scalar(select(PrepaymentRow.id).where(key)) is None:  # a replay answers as first sized
        if kind == "procurement":
            await check_procurement_limit(session, institution_code, year, amount)
        else:
            await check_limit(session, institution_code, year, amount)
    new_id = await session.scalar(
        insert(PrepaymentRow)
        .values(
            institution_code=institution_code,
            year=year,
            amount=int(amount),
            state="requested",
            reason=reason,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
            request_hash=digest,
            kind=kind,
        )
        .on_conflict_do_nothing(
            index_elements=[PrepaymentRow.requested_by, PrepaymentRow.idempotency_key],
            index_where=PrepaymentRow.idempotency_key.isnot(None),
        )
        .returning(PrepaymentRow.id)
    )
    row = await session.scalar(select(PrepaymentRow).where(key))
    assert row is not None  # inserted now, or the first request's
    if new_id is None and row.request_hash != digest:
        raise IdempotencyConflict(
            "幂等键已用于不同的预付金申请 this Idempotency-Key was used for a different prepayment request"
        )
    return row, new_id is not None


@dataclass(frozen=True)
class Limit:
    """What an ordinary prepayment may be today (DOMAIN §11)."""

    maximum: Fen  # prepayment_months × average monthly fund payment, rounded down, − outstanding
    average_monthly_payment: Decimal  # fen, of the last ``lookback_months`` months
    months_of_balance: dict[str, Decimal | None]  # per scheme, pooled funds, today
    minimum_months: Decimal
    outstanding: Fen = ZERO  # ordinary prepayments of the year requested or paid, not yet recovered


async def limit(session: AsyncSession, institution_code: str, year: int) -> Limit:
    """The institution's prepayment limit today: the months and minimum are those of the policy
    of the institution's region for ``year`` (else the fund's own, see
    ``yibao.ledger.position.fund_params``); months of balance are not checked on a day before
    the fund's opening date (there is no position yet).

    The rule's amount is what the institution may hold at once: ordinary prepayments of the same
    institution and year already requested or paid out and not yet recovered at clearing count
    against it (the institution row is locked, so two requests cannot both take it)."""
    await session.execute(select(InstitutionRow.code).where(InstitutionRow.code == institution_code).with_for_update())
    policies = await load_active(session)
    fund = position.fund_params(policies)
    inst = await session.get(InstitutionRow, institution_code)
    regional = policies.get((inst.region, year)) if inst is not None else None
    rule = regional.fund if regional is not None else fund
    today = clock.today()
    average = await position.institution_monthly_payment(session, institution_code, today, rule.lookback_months)
    whole = int((rule.prepayment_months * average).to_integral_value(rounding=ROUND_FLOOR))
    outstanding = int(
        await session.scalar(
            select(func.coalesce(func.sum(PrepaymentRow.amount), 0)).where(
                PrepaymentRow.institution_code == institution_code,
                PrepaymentRow.year == year,
                PrepaymentRow.kind == "ordinary",
                PrepaymentRow.state.in_(("requested", "approved")),
            )
        )
        or 0
    )
    maximum = Fen(max(0, whole - outstanding))
    months: dict[str, Decimal | None] = {}
    if fund.opening_date is not None and today >= fund.opening_date:
        for scheme in position.SCHEMES:
            months[scheme] = (await position.position(session, fund, scheme, today)).months_of_balance
    return Limit(maximum, average, months, rule.prepayment_min_months_of_balance, Fen(outstanding))


async def check_limit(session: AsyncSession, institution_code: str, year: int, amount: Fen) -> Limit:
    """Refuse a prepayment above its computed maximum (``PREPAYMENT_ABOVE_LIMIT``, the maximum in
    the message), or while a scheme's months of balance are below the minimum (``FUND_BELOW_MINIMUM``)."""
    lim = await limit(session, institution_code, year)
    low = {s: m for s, m in lim.months_of_balance.items() if m is not None and m < lim.minimum_months}
    if low:
        shown = ", ".join(f"{s} {m}" for s, m in sorted(low.items()))
        raise FundBelowMinimum(
            f"基金累计结余可支付月数低于 {lim.minimum_months} 个月（{shown}），暂停普通预付 "
            f"months of balance below {lim.minimum_months} ({shown}): no ordinary prepayment"
        )
    if amount > lim.maximum:
        raise PrepaymentAboveLimit(
            f"预付金上限为 {to_wire(lim.maximum)} 元 the prepayment is above its computed maximum "
            f"{to_wire(lim.maximum)} (months × average monthly fund payment "
            f"{(lim.average_monthly_payment / 100).quantize(Decimal('0.01'))} of the last 12 months, "
            f"less {to_wire(lim.outstanding)} outstanding)",
            maximum=to_wire(lim.maximum),
        )
    return lim


async def check_procurement_limit(session: AsyncSession, institution_code: str, year: int, amount: Fen) -> Fen:
    """A procurement (集采) prepayment for ``year`` is at most the policy's ratio (default 45 %) of
    the institution's procurement amount of ``year`` − 1, once: what earlier procurement
    prepayments of the year took counts against it (the institution row is locked, so two
    requests cannot both take it). Above: ``PREPAYMENT_ABOVE_LIMIT`` with what is left."""
    await session.execute(select(InstitutionRow.code).where(InstitutionRow.code == institution_code).with_for_update())
    policies = await load_active(session)
    inst = await session.get(InstitutionRow, institution_code)
    regional = policies.get((inst.region, year)) if inst is not None else None
    ratio = (regional.fund if regional is not None else position.fund_params(policies)).procurement_prepayment_ratio
    volume = await procurement.volume(session, institution_code, year - 1)
    taken = await session.scalar(
        select(func.coalesce(func.sum(PrepaymentRow.amount), 0)).where(
            PrepaymentRow.institution_code == institution_code,
            PrepaymentRow.year == year,
            PrepaymentRow.kind == "procurement",
        )
    )
    whole = int((ratio * (volume or 0)).to_integral_value(rounding=ROUND_FLOOR))
    left = Fen(max(0, whole - int(taken or 0)))
    if amount > left:
        recorded = "无采购记录 no procurement record" if volume is None else f"采购额 {to_wire(volume)}"
        already = to_wire(Fen(int(taken or 0)))
        raise PrepaymentAboveLimit(
            f"集采预付金上限为 {to_wire(left)} 元（{year - 1} 年{recorded} × {ratio}，已预付 {already}）"
            f" the procurement prepayment is above its computed maximum {to_wire(left)}",
            maximum=to_wire(left),
        )
    return left


async def approve_prepayment(session: AsyncSession, prepayment_id: int, approver: str) -> tuple[PrepaymentRow, bool]:
    """Maker-checker; approval pays the advance out (prepayment ← bank) on the basic fund.
    Safe to retry: a prepayment already approved (or recovered) is returned as it is, with
    ``False`` (nothing paid)."""
    row = await session.scalar(select(PrepaymentRow).where(PrepaymentRow.id == prepayment_id).with_for_update())
    if row is None:
        raise NotFound(f"预付金 {prepayment_id} 不存在 prepayment not found")
    if row.requested_by == approver:
        raise SameActor("申请人不能审批自己的预付金 the requester cannot approve the prepayment")
    if row.state in ("approved", "recovered"):
        return row, False
    if row.state != "requested":
        raise InvalidState(f"预付金状态为 {row.state} prepayment is {row.state}, only a request can be approved")
    row.state, row.approved_by, row.approved_at = "approved", approver, clock.now()
    await post_pair(
        session,
        movement="prepayment",
        source=f"prepayment:{row.id}",
        institution_code=row.institution_code,
        fund="basic",
        debit="prepayment",
        credit="bank",
        amount=row.amount,
        business_date=clock.today(),
    )
    await session.flush()
    return row, True


async def pay_supplier(
    session: AsyncSession, *, institution_code: str, supplier: str, fund: str, amount: Fen, reference: str
) -> tuple[int, bool]:
    """Pay a supplier for procured goods an institution received; book a ``procured_goods``
    deduction so the next daily settles take it from the institution. Idempotent on ``reference``:
    (deduction id, ``False`` when this reference was already paid); the same reference for
    another institution, supplier, fund or amount is ``IDEMPOTENCY_CONFLICT`` (nothing paid)."""
    await _institution(session, institution_code)
    note = f"supplier {supplier}"
    row = await deductions.book(
        session,
        institution_code=institution_code,
        fund=fund,
        kind="procured_goods",
        source=reference,
        amount=amount,
        due_on=clock.today(),
        note=note,
    )
    if (row.institution_code, row.fund, row.amount, row.note) != (institution_code, fund, int(amount), note):
        raise IdempotencyConflict(
            f"参考号 {reference} 已用于另一笔付款 reference {reference} was already used for another payment"
        )
    created = await post_pair(
        session,
        movement="supplier_payment",
        source=reference,
        institution_code=institution_code,
        fund=fund,
        debit="supplier",
        credit="bank",
        amount=int(amount),
        business_date=clock.today(),
    )
    return row.id, created
