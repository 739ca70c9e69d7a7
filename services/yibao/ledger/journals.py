"""Manual journal entries (手工记账) for what no feature posts: interest, fiscal subsidies (a
receivable from the treasury and its receipt), other income and spending.

Maker-checker: one staff member proposes (with a reason), another approves, and only the
approval posts (movement ``manual``, source ``manual:<id>``); the proposer cannot approve
(``SAME_ACTOR``). Both steps are audited; approving again answers the posted entry as it is."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from yibao import audit, clock
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest, InvalidState, NotFound, SameActor
from yibao.ledger.income import FUND
from yibao.ledger.orm import ManualJournalRow
from yibao.ledger.position import FUNDS, SCHEMES
from yibao.ledger.postings import post_pair
from yibao.money import Fen, to_wire

#: kind → (debit account, credit account)
KINDS: dict[str, tuple[str, str]] = {
    "interest": ("bank", "interest"),
    "fiscal_subsidy_receivable": ("treasury_receivable", "fiscal_subsidies"),
    "fiscal_subsidy_receipt": ("bank", "treasury_receivable"),
    "other_income": ("bank", "other_income"),
    "other_spending": ("other_spending", "bank"),
}


async def propose(
    uow: UnitOfWork,
    actor: audit.Actor,
    *,
    kind: str,
    scheme: str,
    fund: str,
    amount: Fen,
    business_date: date,
    reason: str,
) -> ManualJournalRow:
    """A proposed entry (nothing posted yet); audited (``ledger.journal.proposed``), committed."""
    if kind not in KINDS:
        raise InvalidRequest(f"记账类型无效 kind must be one of {', '.join(KINDS)}")
    if scheme not in SCHEMES:
        raise InvalidRequest(f"险种无效 scheme must be one of {', '.join(SCHEMES)}")
    if fund not in FUNDS or fund == "pooled":
        raise InvalidRequest("基金无效 fund must be one of basic, critical_illness, assistance, personal_account")
    if amount <= 0:
        raise InvalidRequest("金额必须为正数 the amount must be positive")
    if not reason.strip():
        raise InvalidRequest("须填写记账理由 a manual entry needs a reason")
    if business_date > clock.today():
        raise InvalidRequest("记账日期晚于今天 business_date is after today")
    s = uow.session
    row = ManualJournalRow(
        kind=kind,
        scheme=scheme,
        fund=fund,
        amount=int(amount),
        business_date=business_date,
        reason=reason.strip(),
        state="proposed",
        made_by=actor.name,
    )
    s.add(row)
    await s.flush()
    await audit.record(s, actor, "ledger.journal.proposed", ("manual_journal", str(row.id)), render(row))
    await uow.commit()
    return row


async def approve(uow: UnitOfWork, actor: audit.Actor, journal_id: int) -> ManualJournalRow:
    """Approve and post; audited (``ledger.journal.posted``), committed. Safe to retry."""
    s = uow.session
    row = await s.scalar(select(ManualJournalRow).where(ManualJournalRow.id == journal_id).with_for_update())
    if row is None:
        raise NotFound(f"手工记账 {journal_id} 不存在 manual journal entry not found")
    if row.made_by == actor.name:
        raise SameActor("记账人不能审核自己的分录 the maker cannot approve their own entry")
    if row.state == "posted":
        return row
    if row.state != "proposed":
        raise InvalidState(f"分录状态为 {row.state} the entry is {row.state}")
    debit, credit = KINDS[row.kind]
    await post_pair(
        s,
        movement="manual",
        source=f"manual:{row.id}",
        institution_code=FUND,
        fund=row.fund,
        debit=debit,
        credit=credit,
        amount=row.amount,
        business_date=row.business_date,
        scheme=row.scheme,
    )
    row.state, row.checked_by, row.checked_at = "posted", actor.name, clock.now()
    await s.flush()
    await audit.record(s, actor, "ledger.journal.posted", ("manual_journal", str(row.id)), render(row))
    await uow.commit()
    return row


def render(row: ManualJournalRow) -> dict[str, Any]:
    debit, credit = KINDS[row.kind]
    return {
        "id": row.id,
        "kind": row.kind,
        "scheme": row.scheme,
        "fund": row.fund,
        "debit": debit,
        "credit": credit,
        "amount": to_wire(Fen(row.amount)),
        "business_date": row.business_date.isoformat(),
        "reason": row.reason,
        "state": row.state,
        "made_by": row.made_by,
        "checked_by": row.checked_by,
    }
