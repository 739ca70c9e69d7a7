"""Paying institutions: disbursement orders (daily settle results), prepayments, supplier payments.

Staff read the county's orders (every line, the total, who prepared, approved and paid); an
institution reads only its own share of them (its lines and their sum, no staff names)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from api.deps import Reader, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, FIRST_DAY, LAST_DAY, IdempotencyKey, csv_file, fen
from api.schemas.payouts import (
    InstitutionOrderDetailRead,
    InstitutionOrderPage,
    OrderDetailRead,
    OrderPage,
    OrderRead,
    PrepaymentCreate,
    PrepaymentRead,
    SupplierPaymentCreate,
    SupplierPaymentRead,
)
from yibao.auth.tokens import StaffPrincipal
from yibao.institutions.agreements import Institution
from yibao.payouts import disbursement, render, service

router = APIRouter(prefix="/api/v1/payouts", tags=["payouts 拨付"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]
RETRY = "Safe to retry: the same step on an order (prepayment) already past it answers it as it is and pays nothing."


def _scope(reader: Institution | StaffPrincipal) -> str | None:
    return reader.code if isinstance(reader, Institution) else None


@router.get(
    "/orders",
    response_model=OrderPage | InstitutionOrderPage,
    responses=ERRORS,
    summary="Disbursement orders, newest settle date first (keyset: before)",
    description="Staff: every order with the county's total. An institution: the orders with a line of its own, "
    "each with its own sum and line count (`InstitutionOrderPage`), no staff names.",
)
async def list_orders(
    reader: Reader,
    session: SessionDep,
    before: Annotated[
        date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="cursor: settle dates before this one")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    return JSON(await disbursement.list_page(session, before=before, limit=limit, institution_code=_scope(reader)))


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetailRead | InstitutionOrderDetailRead,
    responses=ERRORS,
    summary="One order with its lines (an institution sees its own)",
    description="Staff: the whole order (`OrderDetailRead`). An institution: its own lines and their sum "
    "(`InstitutionOrderDetailRead`); an order without a line of its own is `NOT_FOUND`.",
)
async def get_order(order_id: int, reader: Reader, session: SessionDep) -> Any:
    return JSON(await disbursement.read(session, order_id, _scope(reader)))


@router.post(
    "/orders/{order_id}/approve",
    response_model=OrderRead,
    responses=ERRORS,
    summary="Approve a draft (finance, not the preparer)",
    description=RETRY,
)
async def approve(order_id: int, staff: Finance, uow: UowDep) -> Any:
    return JSON(render.order(await service.approve_order(uow, staff.actor, order_id)))


@router.post(
    "/orders/{order_id}/pay",
    response_model=OrderRead,
    responses=ERRORS,
    summary="Pay an approved order: bank file + postings, final",
    description=RETRY,
)
async def pay(order_id: int, staff: Finance, uow: UowDep) -> Any:
    return JSON(render.order(await service.pay_order(uow, staff.actor, order_id)))


@router.get(
    "/orders/{order_id}/bank-file",
    response_class=Response,
    responses=csv_file("CSV: one row per payee, then `TOTAL,<rows>,,,,<sum>` (the bank's control total)"),
    summary="The paid order's bank file (CSV)",
)
async def bank_file(order_id: int, _: Finance, session: SessionDep) -> Response:
    return Response(await disbursement.bank_file_of(session, order_id), media_type="text/csv")


@router.post(
    "/prepayments",
    status_code=201,
    response_model=PrepaymentRead,
    responses=ERRORS,
    summary="Request a prepayment (预付金)",
    description="Requires `Idempotency-Key` (per requester): a retry with the same key and body answers the "
    "same prepayment (header `Idempotent-Replayed: true`, nothing written); the same key with another body "
    "is `IDEMPOTENCY_CONFLICT` (409).",
)
async def request_prepayment(
    body: PrepaymentCreate,
    staff: Finance,
    uow: UowDep,
    idempotency_key: IdempotencyKey,
) -> Any:
    row, created = await service.request_prepayment(
        uow, staff.actor, body.institution_code, body.year, fen(body.amount), body.reason, idempotency_key, body.kind
    )
    headers = None if created else {"Idempotent-Replayed": "true"}
    return JSON(render.prepayment(row), status_code=201, headers=headers)


@router.post(
    "/prepayments/{prepayment_id}/approve",
    response_model=PrepaymentRead,
    responses=ERRORS,
    summary="Approve and pay out a prepayment",
    description=RETRY,
)
async def approve_prepayment(prepayment_id: int, staff: Finance, uow: UowDep) -> Any:
    return JSON(render.prepayment(await service.approve_prepayment(uow, staff.actor, prepayment_id)))


@router.post(
    "/supplier-payments",
    status_code=201,
    response_model=SupplierPaymentRead,
    responses=ERRORS,
    summary="Pay a supplier for procured goods (集采) and deduct it from the institution's payable",
    description="Idempotent on `reference`: the same payment again answers the first (nothing paid); the same "
    "reference for another institution, supplier, fund or amount is `IDEMPOTENCY_CONFLICT` (409).",
)
async def supplier_payment(body: SupplierPaymentCreate, staff: Finance, uow: UowDep) -> Any:
    deduction_id = await service.pay_supplier(
        uow,
        staff.actor,
        institution_code=body.institution_code,
        supplier=body.supplier,
        fund=body.fund,
        amount=fen(body.amount),
        reference=body.reference,
    )
    return JSON({"deduction_id": deduction_id, "reference": body.reference}, status_code=201)
