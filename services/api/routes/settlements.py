"""Settlement API for hospital HIS and pharmacy POS (the contract integrators code against)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from api.deps import CurrentInstitution, Reader, RefsDep, RuntimeDep, SessionDep
from api.responses import JSON
from api.runtime import Runtime
from api.schemas.common import ERRORS, Day, IdempotencyKey
from api.schemas.settlements import EXAMPLE_REQUEST, SettlementPage, SettlementRead, SettleRequest
from yibao.bill_settlement import queries, service
from yibao.institutions.agreements import Institution

router = APIRouter(prefix="/api/v1/settlements", tags=["settlements 结算"])

RequestBody = Annotated[SettleRequest, Body(openapi_examples={"inpatient": {"value": EXAMPLE_REQUEST}})]


@router.post(
    "/preview",
    response_model=SettlementRead,
    responses=ERRORS,
    summary="Pre-settle a bill (预结算): the split, nothing written",
)
async def preview(body: RequestBody, institution: CurrentInstitution, refs: RefsDep, runtime: RuntimeDep) -> Any:
    secret = runtime.settings.member_code_secret.get_secret_value()
    cmd = body.to_command()
    return JSON(
        await service.preview_bill(
            runtime.pg,
            refs,
            institution,
            cmd,
            member_code=body.member_code,
            code_secret=secret,
            tolerance=_tolerance(runtime),
        )
    )


def _tolerance(runtime: Runtime) -> timedelta:
    """How far ahead of now a service date may be (setting ``SERVICE_DATE_TOLERANCE_MINUTES``)."""
    return timedelta(minutes=runtime.settings.service_date_tolerance_minutes)


@router.post(
    "",
    status_code=201,
    response_model=SettlementRead,
    responses=ERRORS,
    summary="Settle a bill (结算): basic fund, critical illness, assistance, account, cash",
    description=(
        "Requires `Idempotency-Key`: a retry with the same key and body returns the first answer "
        "(same body, no second charge); the same key with another body is `IDEMPOTENCY_CONFLICT`. "
        "Identify the patient by `id_number` or by the `member_code` from their app: an expired code is "
        "`MEMBER_CODE_EXPIRED` (422), a code used by another request `MEMBER_CODE_USED` (409); a retry of "
        "the request that used it still replays its first answer."
    ),
)
async def settle(
    body: RequestBody,
    institution: CurrentInstitution,
    refs: RefsDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey,
) -> Any:
    secret = runtime.settings.member_code_secret.get_secret_value()
    cmd = body.to_command()
    result = await service.settle_bill(
        runtime.pg,
        refs,
        institution,
        cmd,
        idempotency_key,
        member_code=body.member_code,
        code_secret=secret,
        tolerance=_tolerance(runtime),
    )
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return Response(result.body, status_code=201, headers=headers, media_type="application/json")


@router.post(
    "/{settlement_id}/cancel",
    response_model=SettlementRead,
    responses=ERRORS,
    summary="Cancel a settlement (撤销): reverses the bill and every accumulator it moved",
)
async def cancel(settlement_id: str, institution: CurrentInstitution, runtime: RuntimeDep) -> Any:
    return JSON(await service.cancel_bill(runtime.pg, institution, settlement_id))


def _scope(reader: Institution | Any) -> str | None:
    return reader.code if isinstance(reader, Institution) else None


@router.get("/{settlement_id}", response_model=SettlementRead, responses=ERRORS, summary="One settlement")
async def get(settlement_id: str, reader: Reader, session: SessionDep) -> Any:
    return JSON(await queries.get(session, settlement_id, _scope(reader)))


@router.get(
    "",
    response_model=SettlementPage,
    responses=ERRORS,
    summary="List settlements, newest first (keyset pagination)",
)
async def list_settlements(
    reader: Reader,
    session: SessionDep,
    date_from: Annotated[Day | None, Query(alias="from", description="settlement day ≥ (China time)")] = None,
    date_to: Annotated[Day | None, Query(alias="to", description="settlement day ≤ (China time)")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    return JSON(await queries.list_page(session, _scope(reader), date_from, date_to, cursor, limit))
