"""Paying institutions: disbursement orders (daily settle results), prepayments, supplier payments."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from api.deps import Reader, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, fen
from api.schemas.payouts import PrepaymentCreate, SupplierPaymentCreate
from yibao.auth.tokens import StaffPrincipal
from yibao.errors import NotFound
from yibao.institutions.agreements import Institution
from yibao.payouts import advances, disbursement, render
from yibao.payouts.orm import DisbursementLineRow, DisbursementOrderRow

router = APIRouter(prefix="/api/v1/payouts", tags=["payouts 拨付"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


def _scope(reader: Institution | StaffPrincipal) -> str | None:
    return reader.code if isinstance(reader, Institution) else None


@router.get("/orders", responses=ERRORS, summary="Disbursement orders, newest settle date first (keyset: before)")
async def list_orders(
    reader: Reader,
    session: SessionDep,
    before: Annotated[date | None, Query(description="cursor: settle dates before this one")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    stmt = select(DisbursementOrderRow)
    if before:
        stmt = stmt.where(DisbursementOrderRow.settle_date < before)
    scope = _scope(reader)
    if scope:
        stmt = stmt.where(
            DisbursementOrderRow.id.in_(
                select(DisbursementLineRow.order_id).where(DisbursementLineRow.institution_code == scope)
            )
        )
    rows = (await session.scalars(stmt.order_by(DisbursementOrderRow.settle_date.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return JSON(
        {
            "items": [render.order(r) for r in page],
            "next_cursor": page[-1].settle_date.isoformat() if len(rows) > limit else None,
        }
    )


@router.get("/orders/{order_id}", responses=ERRORS, summary="One order with its lines (an institution sees its own)")
async def get_order(order_id: int, reader: Reader, session: SessionDep) -> Any:
    order = await disbursement.get(session, order_id)
    lines = await disbursement.lines(session, order_id, _scope(reader))
    if _scope(reader) and not lines:
        raise NotFound(f"拨付单 {order_id} 不存在 disbursement order not found")
    return JSON({**render.order(order), "lines": [render.line(r) for r in lines]})


@router.post("/orders/{order_id}/approve", responses=ERRORS, summary="Approve a draft (finance, not the preparer)")
async def approve(order_id: int, staff: Finance, uow: UowDep) -> Any:
    order = await disbursement.approve(uow.session, order_id, staff.name)
    body = render.order(order)
    await uow.commit()
    return JSON(body)


@router.post("/orders/{order_id}/pay", responses=ERRORS, summary="Pay an approved order: bank file + postings, final")
async def pay(order_id: int, staff: Finance, uow: UowDep) -> Any:
    order = await disbursement.pay(uow.session, order_id, staff.name)
    body = render.order(order)
    await uow.commit()
    return JSON(body)


@router.get("/orders/{order_id}/bank-file", responses=ERRORS, summary="The paid order's bank file (CSV)")
async def bank_file(order_id: int, _: Finance, session: SessionDep) -> Response:
    order = await disbursement.get(session, order_id)
    if order.bank_file is None:
        raise NotFound(f"拨付单 {order_id} 尚未支付 order not paid yet, no bank file")
    return Response(order.bank_file, media_type="text/csv")


@router.post("/prepayments", status_code=201, responses=ERRORS, summary="Request a prepayment (预付金)")
async def request_prepayment(body: PrepaymentCreate, staff: Finance, uow: UowDep) -> Any:
    row = await advances.request_prepayment(
        uow.session, body.institution_code, body.year, fen(body.amount), body.reason, staff.name
    )
    out = render.prepayment(row)
    await uow.commit()
    return JSON(out, status_code=201)


@router.post("/prepayments/{prepayment_id}/approve", responses=ERRORS, summary="Approve and pay out a prepayment")
async def approve_prepayment(prepayment_id: int, staff: Finance, uow: UowDep) -> Any:
    row = await advances.approve_prepayment(uow.session, prepayment_id, staff.name)
    out = render.prepayment(row)
    await uow.commit()
    return JSON(out)


@router.post(
    "/supplier-payments",
    status_code=201,
    responses=ERRORS,
    summary="Pay a supplier for procured goods (集采) and deduct it from the institution's payable",
)
async def supplier_payment(body: SupplierPaymentCreate, staff: Finance, uow: UowDep) -> Any:
    deduction_id = await advances.pay_supplier(
        uow.session,
        institution_code=body.institution_code,
        supplier=body.supplier,
        fund=body.fund,
        amount=fen(body.amount),
        reference=body.reference,
        staff=staff.name,
    )
    await uow.commit()
    return JSON({"deduction_id": deduction_id, "reference": body.reference}, status_code=201)
