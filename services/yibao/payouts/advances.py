"""Money the fund pays before a bill is due: prepayments (预付金) to institutions, and procured
goods (集采) paid straight to the supplier and then deducted from the institution's payable.

Steps in the caller's transaction (no audit, no commit); the use cases are in ``yibao.payouts.service``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.deductions import service as deductions
from yibao.errors import InvalidRequest, InvalidState, NotFound, SameActor
from yibao.institutions.orm import InstitutionRow
from yibao.ledger.postings import post_pair
from yibao.money import Fen
from yibao.payouts.orm import PrepaymentRow


async def _institution(session: AsyncSession, code: str) -> None:
    if await session.get(InstitutionRow, code) is None:
        raise NotFound(f"定点机构 {code} 不存在 institution not found")


async def request_prepayment(
    session: AsyncSession, institution_code: str, year: int, amount: Fen, reason: str, requested_by: str
) -> PrepaymentRow:
    if amount <= 0:
        raise InvalidRequest("预付金必须为正数 a prepayment must be positive")
    await _institution(session, institution_code)
    row = PrepaymentRow(
        institution_code=institution_code,
        year=year,
        amount=int(amount),
        state="requested",
        reason=reason,
        requested_by=requested_by,
    )
    session.add(row)
    await session.flush()
    return row


async def approve_prepayment(session: AsyncSession, prepayment_id: int, approver: str) -> PrepaymentRow:
    """Maker-checker; approval pays the advance out (prepayment ← bank) on the basic fund."""
    row = await session.scalar(select(PrepaymentRow).where(PrepaymentRow.id == prepayment_id).with_for_update())
    if row is None:
        raise NotFound(f"预付金 {prepayment_id} 不存在 prepayment not found")
    if row.state != "requested":
        raise InvalidState(f"预付金状态为 {row.state} prepayment is {row.state}, only a request can be approved")
    if row.requested_by == approver:
        raise SameActor("申请人不能审批自己的预付金 the requester cannot approve the prepayment")
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
    return row


async def pay_supplier(
    session: AsyncSession, *, institution_code: str, supplier: str, fund: str, amount: Fen, reference: str
) -> tuple[int, bool]:
    """Pay a supplier for procured goods an institution received; book a ``procured_goods``
    deduction so the next daily settles take it from the institution. Idempotent on ``reference``:
    (deduction id, ``False`` when this reference was already paid)."""
    await _institution(session, institution_code)
    row = await deductions.book(
        session,
        institution_code=institution_code,
        fund=fund,
        kind="procured_goods",
        source=reference,
        amount=amount,
        due_on=clock.today(),
        note=f"supplier {supplier}",
    )
    if row.amount != int(amount) or row.institution_code != institution_code:
        raise InvalidState(f"参考号 {reference} 已用于另一笔付款 reference already used for another payment")
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
