"""Disbursement orders: draft → approved (finance, not the preparer) → paid (bank file).

Paying writes the bank file (CSV, one row per institution and fund with a control total line)
and the ``disbursement`` postings (payable → bank) in one transaction; a paid order is final.

``approve`` and ``pay`` are steps in the caller's transaction: they neither audit nor commit.
Both are safe to retry: the same step on an order already past it answers the order as it is
and changes (pays) nothing.
The use cases that do both are ``yibao.payouts.service.approve_order`` / ``pay_order``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.errors import InvalidState, NotFound, SameActor
from yibao.institutions.orm import InstitutionRow
from yibao.ledger.postings import post_pair
from yibao.money import to_wire
from yibao.payouts import render
from yibao.payouts.orm import DisbursementLineRow, DisbursementOrderRow

BANK_FILE_HEADER = ("order_id", "settle_date", "institution_code", "institution_name", "fund", "amount")


async def get(session: AsyncSession, order_id: int, *, lock: bool = False) -> DisbursementOrderRow:
    stmt = select(DisbursementOrderRow).where(DisbursementOrderRow.id == order_id)
    row = await session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"拨付单 {order_id} 不存在 disbursement order not found")
    return row


async def lines(session: AsyncSession, order_id: int, institution_code: str | None = None) -> list[DisbursementLineRow]:
    stmt = select(DisbursementLineRow).where(DisbursementLineRow.order_id == order_id)
    if institution_code is not None:
        stmt = stmt.where(DisbursementLineRow.institution_code == institution_code)
    return list(
        (await session.scalars(stmt.order_by(DisbursementLineRow.institution_code, DisbursementLineRow.fund))).all()
    )


async def list_page(
    session: AsyncSession, *, before: date | None = None, limit: int = 50, institution_code: str | None = None
) -> dict[str, Any]:
    """Orders, newest settle date first (keyset: ``before``). An institution's scope lists only
    the orders with a line of its own, each with its own sum and line count (never the county's)."""
    if institution_code:
        return await _own_page(session, institution_code, before, limit)
    stmt = select(DisbursementOrderRow)
    if before:
        stmt = stmt.where(DisbursementOrderRow.settle_date < before)
    rows = (await session.scalars(stmt.order_by(DisbursementOrderRow.settle_date.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return {
        "items": [render.order(r) for r in page],
        "next_cursor": page[-1].settle_date.isoformat() if len(rows) > limit else None,
    }


async def _own_page(session: AsyncSession, institution_code: str, before: date | None, limit: int) -> dict[str, Any]:
    own = DisbursementLineRow.institution_code == institution_code
    stmt = (
        select(DisbursementOrderRow, func.sum(DisbursementLineRow.net), func.count())
        .join(DisbursementLineRow, (DisbursementLineRow.order_id == DisbursementOrderRow.id) & own)
        .group_by(DisbursementOrderRow.id)
    )
    if before:
        stmt = stmt.where(DisbursementOrderRow.settle_date < before)
    rows = (await session.execute(stmt.order_by(DisbursementOrderRow.settle_date.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return {
        "items": [render.order_for_institution(o, institution_code, int(total), int(n)) for o, total, n in page],
        "next_cursor": page[-1][0].settle_date.isoformat() if len(rows) > limit else None,
    }


async def read(session: AsyncSession, order_id: int, institution_code: str | None = None) -> dict[str, Any]:
    """One order with its lines; an institution sees its own lines and their sum (no county
    total, no staff names), and no order without a line of its own (``NOT_FOUND``)."""
    order = await get(session, order_id)
    rows = await lines(session, order_id, institution_code)
    if institution_code is None:
        return {**render.order(order), "lines": [render.line(r) for r in rows]}
    if not rows:
        raise NotFound(f"拨付单 {order_id} 不存在 disbursement order not found")
    own = render.order_for_institution(order, institution_code, sum(r.net for r in rows), len(rows))
    return {**own, "lines": [render.line(r) for r in rows]}


async def bank_file_of(session: AsyncSession, order_id: int) -> str:
    order = await get(session, order_id)
    if order.bank_file is None:
        raise NotFound(f"拨付单 {order_id} 尚未支付 order not paid yet, no bank file")
    return order.bank_file


async def approve(session: AsyncSession, order_id: int, approver: str) -> tuple[DisbursementOrderRow, bool]:
    """Maker-checker: whoever prepared the order (ran the daily settle) cannot approve it.

    Safe to retry: an order already approved (or paid) is returned as it is, with ``False``
    (nothing changed)."""
    order = await get(session, order_id, lock=True)
    if order.prepared_by == approver:
        raise SameActor("制单人不能审批自己的拨付单 the preparer of an order cannot approve it")
    if order.state in ("approved", "paid"):
        return order, False
    if order.state != "draft":
        raise InvalidState(f"拨付单状态为 {order.state}，不能审批 order is {order.state}, only a draft can be approved")
    order.state, order.approved_by, order.approved_at = "approved", approver, clock.now()
    await session.flush()
    return order, True


def bank_file(order: DisbursementOrderRow, rows: list[DisbursementLineRow], names: dict[str, str]) -> str:
    """CSV the bank imports; the last line is the control total (``TOTAL``, row count, sum)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BANK_FILE_HEADER)
    paid = [r for r in rows if r.net > 0]
    for r in paid:
        writer.writerow(
            (
                order.id,
                order.settle_date.isoformat(),
                r.institution_code,
                names.get(r.institution_code, ""),
                r.fund,
                to_wire(r.net),
            )
        )
    writer.writerow(("TOTAL", len(paid), "", "", "", to_wire(sum(r.net for r in paid))))
    return out.getvalue()


async def pay(session: AsyncSession, order_id: int, payer: str) -> tuple[DisbursementOrderRow, bool]:
    """approved → paid: bank file + postings, once. A paid order is never changed: paying it
    again (a retry) returns it as it is, with ``False`` (nothing paid)."""
    order = await get(session, order_id, lock=True)
    if order.state == "paid":
        return order, False
    if order.state != "approved":
        raise InvalidState(f"拨付单状态为 {order.state}，不能支付 order is {order.state}, only an approved one is paid")
    rows = await lines(session, order.id)
    names = {code: name for code, name in await session.execute(select(InstitutionRow.code, InstitutionRow.name))}
    for r in rows:
        await post_pair(
            session,
            movement="disbursement",
            source=f"order:{order.id}:{r.institution_code}",
            institution_code=r.institution_code,
            fund=r.fund,
            debit="payable",
            credit="bank",
            amount=r.net,
            business_date=clock.today(),
            settle_date=order.settle_date,
        )
    order.bank_file = bank_file(order, rows, names)
    order.bank_file_sha256 = hashlib.sha256(order.bank_file.encode()).hexdigest()
    order.state, order.paid_by, order.paid_at = "paid", payer, clock.now()
    await session.flush()
    return order, True
