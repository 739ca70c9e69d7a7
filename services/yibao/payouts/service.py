"""Use cases of paying institutions: each writes its audit entry and commits.

The API, the settlement worker's jobs and the CLI call these, so a daily settle, an approval
or a payment is audited the same way wherever it starts. Maker-checker (``SAME_ACTOR``) is
checked in the steps (``disbursement``, ``advances``) against the actor's name.
"""

from __future__ import annotations

from datetime import date

from yibao import audit
from yibao.db.uow import UnitOfWork
from yibao.money import Fen
from yibao.payouts import advances, daily_settle, disbursement
from yibao.payouts.daily_settle import DailySettleResult
from yibao.payouts.orm import DisbursementOrderRow, PrepaymentRow


async def settle_day(uow: UnitOfWork, actor: audit.Actor, day: date) -> DailySettleResult:
    """日结算 of ``day``: the draft order, prepared by ``actor`` (who may then not approve it).
    Re-running a settled day returns its order and writes nothing."""
    result = await daily_settle.settle_day(uow.session, day, actor.name)
    if result.created:
        await audit.record(
            uow.session,
            actor,
            "disbursement.prepared",
            ("disbursement_order", str(result.order_id)),
            {"settle_date": day.isoformat(), "total_fen": result.total, "lines": result.lines},
        )
    await uow.commit()
    return result


async def approve_order(uow: UnitOfWork, actor: audit.Actor, order_id: int) -> DisbursementOrderRow:
    """Approve a draft; a retry (the order already approved or paid) answers it as it is,
    unaudited, since nothing changed."""
    order, changed = await disbursement.approve(uow.session, order_id, actor.name)
    if changed:
        await audit.record(
            uow.session,
            actor,
            "disbursement.approved",
            ("disbursement_order", str(order.id)),
            {"settle_date": order.settle_date.isoformat(), "total_fen": order.total},
        )
    await uow.commit()
    return order


async def pay_order(uow: UnitOfWork, actor: audit.Actor, order_id: int) -> DisbursementOrderRow:
    """Pay an approved order once; a retry answers the paid order and pays nothing more."""
    order, changed = await disbursement.pay(uow.session, order_id, actor.name)
    if changed:
        await audit.record(
            uow.session,
            actor,
            "disbursement.paid",
            ("disbursement_order", str(order.id)),
            {"total_fen": order.total, "bank_file_sha256": order.bank_file_sha256},
        )
    await uow.commit()
    return order


async def request_prepayment(
    uow: UnitOfWork,
    actor: audit.Actor,
    institution_code: str,
    year: int,
    amount: Fen,
    reason: str,
    idempotency_key: str | None,
    kind: str = "ordinary",
) -> tuple[PrepaymentRow, bool]:
    """The request and ``True``; or, for a retry under the same key and body, the first request
    and ``False`` (nothing written, not audited again)."""
    row, created = await advances.request_prepayment(
        uow.session, institution_code, year, amount, reason, actor.name, idempotency_key, kind
    )
    if created:
        await audit.record(
            uow.session,
            actor,
            "prepayment.requested",
            ("prepayment", str(row.id)),
            {"institution_code": institution_code, "year": year, "amount_fen": int(amount), "kind": kind},
        )
    await uow.commit()
    return row, created


async def approve_prepayment(uow: UnitOfWork, actor: audit.Actor, prepayment_id: int) -> PrepaymentRow:
    """Approve and pay out a request; a retry answers the prepayment as it is and pays nothing."""
    row, changed = await advances.approve_prepayment(uow.session, prepayment_id, actor.name)
    if changed:
        await audit.record(
            uow.session, actor, "prepayment.approved", ("prepayment", str(row.id)), {"amount_fen": row.amount}
        )
    await uow.commit()
    return row


async def pay_supplier(
    uow: UnitOfWork,
    actor: audit.Actor,
    *,
    institution_code: str,
    supplier: str,
    fund: str,
    amount: Fen,
    reference: str,
) -> int:
    """The deduction id; the same ``reference`` again pays nothing more (and is not audited again)."""
    deduction_id, created = await advances.pay_supplier(
        uow.session, institution_code=institution_code, supplier=supplier, fund=fund, amount=amount, reference=reference
    )
    if created:
        await audit.record(
            uow.session,
            actor,
            "supplier.paid",
            ("deduction", str(deduction_id)),
            {"institution_code": institution_code, "supplier": supplier, "amount_fen": int(amount)},
        )
    await uow.commit()
    return deduction_id
