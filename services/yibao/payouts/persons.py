"""Person-payee disbursement orders: paying people their approved reimbursement claims.

The same shape as the institutions' orders (``disbursement.py``): one order per business day
(``batch_date``) takes every approved claim not yet in an order; draft → approved (finance, not
the preparer: ``SAME_ACTOR``) → paid, with a bank file (one row per payee, the last line the
control total, checked against the order's total before it is written) and the postings
``person_payable → bank`` per fund, in one transaction. A paid order is final; each step is
safe to retry (a step already taken answers the order as it is and changes nothing).

The amount of a claim is its manual settlement's fund part (basic + critical illness +
assistance), read from the settlement, so the person is paid exactly what the ledger owes them.

Approved maternity allowances (``yibao.maternity``) are paid in the same orders: a line whose
``claim_id`` (and ``settlement_id``) is the allowance's id and ``claim_no`` its number; paying it
books the ``maternity`` fund's spending (``claims`` ← ``bank``), a returned transfer reverses it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.bill_settlement.orm import SettlementRow
from yibao.claims import service as claims
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidState, NotFound, SameActor
from yibao.ledger.postings import FUND_COLUMNS, post_pair, post_settlements
from yibao.maternity import service as maternity
from yibao.money import to_wire
from yibao.payouts.orm import PersonOrderLineRow, PersonOrderRow

BANK_FILE_HEADER = ("order_id", "batch_date", "claim_no", "payee_name", "bank", "account_no", "amount")
#: the funds a manual claim is paid from (never the personal account: the person paid cash);
#: an employee's maternity claim is paid from the maternity fund
PAID_FUNDS = ("basic", "critical_illness", "assistance", "maternity")


def render_order(order: PersonOrderRow, rows: list[PersonOrderLineRow] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": order.id,
        "batch_date": order.batch_date.isoformat(),
        "state": order.state,
        "total": to_wire(order.total),
        "line_count": order.line_count,
        "prepared_by": order.prepared_by,
        "approved_by": order.approved_by,
        "paid_by": order.paid_by,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "bank_file_sha256": order.bank_file_sha256,
    }
    if rows is not None:
        body["lines"] = [
            {
                "claim_id": str(r.claim_id),
                "claim_no": r.claim_no,
                "settlement_id": str(r.settlement_id),
                "payee_name": r.payee_name,
                "bank": r.bank,
                "account_no": r.account_no,
                "amount": to_wire(r.amount),
                "returned_at": r.returned_at.isoformat() if r.returned_at else None,
                "return_reason": r.return_reason,
            }
            for r in rows
        ]
    return body


async def _get(uow: UnitOfWork, order_id: int, *, lock: bool = False) -> PersonOrderRow:
    stmt = select(PersonOrderRow).where(PersonOrderRow.id == order_id)
    order = await uow.session.scalar(stmt.with_for_update() if lock else stmt)
    if order is None:
        raise NotFound(f"个人拨付单 {order_id} 不存在 person payout order not found")
    return order


async def _lines(uow: UnitOfWork, order_id: int) -> list[PersonOrderLineRow]:
    stmt = select(PersonOrderLineRow).where(PersonOrderLineRow.order_id == order_id)
    return list((await uow.session.scalars(stmt.order_by(PersonOrderLineRow.claim_no))).all())


async def read(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    return render_order(await _get(uow, order_id), await _lines(uow, order_id))


async def bank_file_of(uow: UnitOfWork, order_id: int) -> str:
    order = await _get(uow, order_id)
    if order.bank_file is None:
        raise NotFound(f"个人拨付单 {order_id} 尚未支付 order not paid yet, no bank file")
    return order.bank_file


async def prepare_order(uow: UnitOfWork, actor: audit.Actor, batch_date: date) -> tuple[dict[str, Any], bool]:
    """The day's order of every approved claim not yet in one; re-running the day answers its
    order. Nothing to pay is ``INVALID_STATE`` (no empty orders)."""
    session = uow.session
    existing = await session.scalar(select(PersonOrderRow).where(PersonOrderRow.batch_date == batch_date))
    if existing is not None:
        return render_order(existing, await _lines(uow, existing.id)), False
    live = select(PersonOrderLineRow.claim_id).where(PersonOrderLineRow.returned_at.is_(None))
    due = await claims.payable(session, live)
    allowances = await maternity.payable(session, live)
    if not due and not allowances:
        raise InvalidState("没有待支付的报销 no approved claim is waiting to be paid")
    settled = {
        s.id: s
        for s in (
            await session.scalars(select(SettlementRow).where(SettlementRow.id.in_([c.settlement_id for c in due])))
        ).all()
    }
    order = PersonOrderRow(batch_date=batch_date, state="draft", total=0, line_count=0, prepared_by=actor.name)
    session.add(order)
    await session.flush()
    rows = []
    for c in due:
        assert c.settlement_id is not None  # approved claims are settled
        s = settled[c.settlement_id]
        rows.append(
            PersonOrderLineRow(
                order_id=order.id,
                claim_id=c.id,
                settlement_id=s.id,
                claim_no=c.claim_no,
                institution_code=s.institution_code,
                payee_name=str(c.payee["name"]),
                bank=str(c.payee["bank"]),
                account_no=str(c.payee["account_no"]),
                amount=sum(int(getattr(s, FUND_COLUMNS[f])) for f in PAID_FUNDS),
            )
        )
    for a in allowances:
        assert a.payee is not None  # approved with its payee
        rows.append(
            PersonOrderLineRow(
                order_id=order.id,
                claim_id=a.id,
                settlement_id=a.id,  # the allowance is no settlement: its own id keeps the line unique
                claim_no=a.allowance_no,
                institution_code=a.institution_code,
                payee_name=str(a.payee["name"]),
                bank=str(a.payee["bank"]),
                account_no=str(a.payee["account_no"]),
                amount=a.amount,
            )
        )
    session.add_all(rows)
    order.total, order.line_count = sum(r.amount for r in rows), len(rows)
    await session.flush()
    await audit.record(
        session,
        actor,
        "person_disbursement.prepared",
        ("person_disbursement_order", str(order.id)),
        {"batch_date": batch_date.isoformat(), "total_fen": order.total, "lines": order.line_count},
    )
    body = render_order(order, rows)
    await uow.commit()
    return body, True


async def approve_order(uow: UnitOfWork, actor: audit.Actor, order_id: int) -> dict[str, Any]:
    order = await _get(uow, order_id, lock=True)
    if order.prepared_by == actor.name:
        raise SameActor("制单人不能审批自己的拨付单 the preparer of an order cannot approve it")
    if order.state == "draft":
        order.state, order.approved_by, order.approved_at = "approved", actor.name, clock.now()
        await uow.session.flush()
        await audit.record(
            uow.session,
            actor,
            "person_disbursement.approved",
            ("person_disbursement_order", str(order.id)),
            {"total_fen": order.total},
        )
    body = render_order(order)
    await uow.commit()
    return body


def bank_file(order: PersonOrderRow, rows: list[PersonOrderLineRow]) -> str:
    """CSV the bank imports; the last line is the control total (``TOTAL``, row count, sum)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BANK_FILE_HEADER)
    for r in rows:
        writer.writerow(
            (order.id, order.batch_date.isoformat(), r.claim_no, r.payee_name, r.bank, r.account_no, to_wire(r.amount))
        )
    total = sum(r.amount for r in rows)
    if total != order.total or len(rows) != order.line_count:  # the file must say what was approved
        raise InvalidState(f"控制总额不符 control total {to_wire(total)} ≠ approved order total {to_wire(order.total)}")
    writer.writerow(("TOTAL", len(rows), "", "", "", "", to_wire(total)))
    return out.getvalue()


async def pay_order(uow: UnitOfWork, actor: audit.Actor, order_id: int) -> dict[str, Any]:
    """approved → paid: bank file, postings (person_payable → bank, per fund) and the claims
    ``paid``, once. Paying a paid order again answers it as it is."""
    session = uow.session
    order = await _get(uow, order_id, lock=True)
    if order.state == "paid":
        body = render_order(order)
        await uow.commit()
        return body
    if order.state != "approved":
        raise InvalidState(f"拨付单状态为 {order.state}，不能支付 order is {order.state}, only an approved one is paid")
    rows = await _lines(uow, order.id)
    allowances = await maternity.by_ids(session, [r.claim_id for r in rows])
    for r in rows:
        if r.claim_id in allowances:  # the maternity fund pays the allowance now
            await post_pair(
                session,
                movement="maternity_allowance",
                source=f"person_order:{order.id}:{r.claim_no}",
                institution_code=r.institution_code,
                fund="maternity",
                debit="claims",
                credit="bank",
                amount=r.amount,
                business_date=clock.today(),
                scheme="employee",
            )
    rows_of_claims = [r for r in rows if r.claim_id not in allowances]
    await post_settlements(session, [r.settlement_id for r in rows_of_claims], ["settlement"])  # owed before paid
    settled = {
        s.id: s
        for s in (
            await session.scalars(
                select(SettlementRow).where(SettlementRow.id.in_([r.settlement_id for r in rows_of_claims]))
            )
        ).all()
    }
    for r in rows_of_claims:
        source = f"person_order:{order.id}:{r.claim_no}"
        await _post_claim_legs(session, "person_disbursement", source, r, settled[r.settlement_id], returned=False)
    order.bank_file = bank_file(order, rows)
    order.bank_file_sha256 = hashlib.sha256(order.bank_file.encode()).hexdigest()
    order.state, order.paid_by, order.paid_at = "paid", actor.name, clock.now()
    await claims.mark_paid(session, [r.claim_id for r in rows_of_claims], order.id, f"{actor.kind}:{actor.name}")
    await maternity.mark_paid(session, list(allowances), order.id)
    await session.flush()
    await audit.record(
        session,
        actor,
        "person_disbursement.paid",
        ("person_disbursement_order", str(order.id)),
        {"total_fen": order.total},
    )
    body = render_order(order)
    await uow.commit()
    return body


async def return_transfer(
    uow: UnitOfWork, actor: audit.Actor, order_id: int, claim_id: str, reason: str
) -> dict[str, Any]:
    """The bank returned one transfer of a paid order (wrong account, closed account …): the line
    is marked returned (the order and its bank file stay as paid), the money is owed to the person
    again (``bank → person_payable``), and the claim waits for a corrected payee; the next order
    pays it. Marking the same line again is ``INVALID_STATE``."""
    session = uow.session
    order = await _get(uow, order_id, lock=True)
    if order.state != "paid":
        raise InvalidState(f"拨付单状态为 {order.state} order is {order.state}: only a paid transfer can come back")
    line = next((r for r in await _lines(uow, order_id) if str(r.claim_id) == claim_id), None)
    if line is None:
        raise NotFound(f"拨付单 {order_id} 无报销 {claim_id} the order has no such claim")
    if line.returned_at is not None:
        raise InvalidState(f"该笔转账已于 {line.returned_at} 退回 this transfer was already returned")
    if (await maternity.by_ids(session, [line.claim_id])).get(line.claim_id) is not None:
        await _return_allowance(uow, actor, order, line, reason)
        body = render_order(order, await _lines(uow, order_id))
        await uow.commit()
        return body
    settlement = await session.get(SettlementRow, line.settlement_id)
    assert settlement is not None
    source = f"person_order:{order.id}:{line.claim_no}:returned"
    await _post_claim_legs(session, "person_disbursement_return", source, line, settlement, returned=True)
    await claims.mark_returned(session, line.claim_id, order.id, reason, f"{actor.kind}:{actor.name}")
    await _mark_returned(uow, actor, order, line, reason)
    body = render_order(order, await _lines(uow, order_id))
    await uow.commit()
    return body


async def _return_allowance(
    uow: UnitOfWork, actor: audit.Actor, order: PersonOrderRow, line: PersonOrderLineRow, reason: str
) -> None:
    """A maternity allowance's transfer came back: the maternity fund's spending is reversed and
    the allowance is pending again, for an approval with a corrected payee."""
    session = uow.session
    await post_pair(
        session,
        movement="maternity_allowance_return",
        source=f"person_order:{order.id}:{line.claim_no}:returned",
        institution_code=line.institution_code,
        fund="maternity",
        debit="bank",
        credit="claims",
        amount=line.amount,
        business_date=clock.today(),
        scheme="employee",
    )
    await maternity.mark_returned(session, line.claim_id)
    await _mark_returned(uow, actor, order, line, reason)


async def _post_claim_legs(
    session: AsyncSession,
    movement: str,
    source: str,
    line: PersonOrderLineRow,
    settlement: SettlementRow,
    *,
    returned: bool,
) -> None:
    """A claim's transfer, per fund that paid it: ``person_payable → bank`` when paid, the mirror
    when the bank returns it (amounts from the claim's settlement, the figures that were owed)."""
    debit, credit = ("bank", "person_payable") if returned else ("person_payable", "bank")
    for fund in PAID_FUNDS:
        await post_pair(
            session,
            movement=movement,
            source=source,
            institution_code=line.institution_code,
            fund=fund,
            debit=debit,
            credit=credit,
            amount=int(getattr(settlement, FUND_COLUMNS[fund])),
            business_date=clock.today(),
        )


async def _mark_returned(
    uow: UnitOfWork, actor: audit.Actor, order: PersonOrderRow, line: PersonOrderLineRow, reason: str
) -> None:
    """The line says it came back and why (the order stays paid), audited once for either kind of line."""
    line.returned_at, line.return_reason = clock.now(), reason
    await uow.session.flush()
    await audit.record(
        uow.session,
        actor,
        "person_disbursement.returned",
        ("person_disbursement_order", str(order.id)),
        {"claim_no": line.claim_no, "amount_fen": line.amount, "reason": reason},
    )
