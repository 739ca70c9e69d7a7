"""E-prescriptions (电子处方流转, DOMAIN §9): a hospital issues, a pharmacy reads with the
patient's pickup code and dispenses by settling a pharmacy bill with `prescription_id`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query

from api.deps import CurrentInstitution, RefsDep, RuntimeDep, SessionDep, UowDep
from api.responses import JSON
from api.schemas.common import ERRORS
from api.schemas.prescriptions import EXAMPLE_PRESCRIPTION, PrescriptionCreate, PrescriptionRead
from yibao import audit
from yibao.prescriptions import service

router = APIRouter(prefix="/api/v1/prescriptions", tags=["prescriptions 电子处方"])


@router.post(
    "",
    status_code=201,
    response_model=PrescriptionRead,
    responses=ERRORS,
    summary="Issue an e-prescription (hospital key)",
    description="Valid 3 days by default; the answer carries the `pickup_code` the patient shows at a pharmacy. "
    "A pharmacy bill settles it once with `prescription_id` (cancelling that bill gives it back). "
    "`rx_id` is the hospital's own number, unique (`DUPLICATE`, 409).",
)
async def issue(
    body: Annotated[PrescriptionCreate, Body(openapi_examples={"metformin": {"value": EXAMPLE_PRESCRIPTION}})],
    institution: CurrentInstitution,
    uow: UowDep,
    refs: RefsDep,
) -> Any:
    actor = audit.Actor("institution", institution.code)
    return JSON(await service.issue(uow, actor, refs, institution.code, body.to_command()), status_code=201)


@router.get(
    "/{rx_id}",
    response_model=PrescriptionRead,
    responses=ERRORS,
    summary="Read a prescription: the issuing hospital, or a pharmacy with the patient's consent",
    description="Another institution (a pharmacy) reads it only with the patient's consent: the `pickup_code` "
    "printed for the patient, or the patient's member QR code (医保码) in `X-Member-Code` — valid, unused and "
    "the prescription's own person; reading does not consume it (the bill that dispenses the prescription "
    "does). Without consent: 404, whether or not it exists; an expired or used member code: "
    "`MEMBER_CODE_EXPIRED` / `MEMBER_CODE_USED`.",
)
async def read(
    rx_id: str,
    institution: CurrentInstitution,
    session: SessionDep,
    runtime: RuntimeDep,
    pickup_code: Annotated[str | None, Query(max_length=20)] = None,
    member_code: Annotated[
        str | None, Header(alias="X-Member-Code", max_length=2000, description="the patient's member QR code")
    ] = None,
) -> Any:
    secret = runtime.settings.member_code_secret.get_secret_value()
    consent = service.Consent(pickup_code=pickup_code, member_code=member_code, code_secret=secret)
    return JSON(await service.read(session, institution.code, rx_id, consent))


@router.post(
    "/{rx_id}/cancel",
    response_model=PrescriptionRead,
    responses=ERRORS,
    summary="Cancel a prescription not yet dispensed (the issuing hospital)",
)
async def cancel(rx_id: str, institution: CurrentInstitution, uow: UowDep) -> Any:
    actor = audit.Actor("institution", institution.code)
    return JSON(await service.cancel(uow, actor, institution.code, rx_id))
