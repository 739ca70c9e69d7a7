"""Smart monitoring (智能监控): rules as data, suspects and their review, agreement actions, alerts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from api.deps import Reader, RefsDep, RuntimeDep, SessionDep, StaffUser, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS
from api.schemas.monitoring import (
    AgreementActionRead,
    AgreementActionRequest,
    AlertPage,
    AppealRequest,
    RefundRequest,
    RegionSwitch,
    ReviewRequest,
    RuleChange,
    RuleRead,
    SuspectPage,
    SuspectRead,
)
from yibao import audit
from yibao.auth.tokens import StaffPrincipal
from yibao.institutions.agreements import Institution
from yibao.monitoring import alerts, repository, workflow
from yibao.monitoring.rules import RuleConfig

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring 智能监控"])

Inspector = Annotated[StaffPrincipal, Depends(require_staff("inspector"))]
AlertReader = Annotated[StaffPrincipal, Depends(require_staff("inspector", "finance"))]
SuspectId = Annotated[int, Path(ge=1, le=2**62)]
Cursor = Annotated[int | None, Query(ge=1, le=2**62, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200)]
REVIEW_EXAMPLE = {"stage": "second", "decision": "confirm", "penalty_multiple": 2, "note": "查实"}


def _rule(r: RuleConfig) -> dict[str, Any]:
    return {
        "rule_id": r.rule_id,
        "name": r.name,
        "stage": r.stage,
        "mode": r.mode,
        "locked": r.locked,
        "enabled": r.enabled,
        "regions": dict(r.regions),
        "params": dict(r.params),
        "version": r.version,
    }


def _actor(reader: Institution | StaffPrincipal) -> audit.Actor:
    return audit.Actor("institution", reader.code) if isinstance(reader, Institution) else reader.actor


def _scope(reader: Institution | StaffPrincipal) -> str | None:
    return reader.code if isinstance(reader, Institution) else None


# ---------------------------------------------------------------- rules


@router.get("/rules", response_model=list[RuleRead], responses=ERRORS, summary="Every rule in force (规则)")
async def list_rules(_: Inspector, session: SessionDep) -> Any:
    rules = await repository.load_rules(session)
    return JSON([_rule(r) for r in rules.rules.values()])


@router.patch(
    "/rules/{rule_id}",
    response_model=RuleRead,
    responses=ERRORS,
    summary="Publish a new version of a rule: mode, parameters, default switch (audited, no deploy)",
    description="Earlier versions stay as history; the settlement path picks the change up at once in this "
    "process and within `REFERENCE_CACHE_SECONDS` in the others. Locked rules refuse changes.",
)
async def change_rule(
    rule_id: Annotated[str, Path(max_length=40)],
    body: Annotated[RuleChange, Body(openapi_examples={"shorter window": {"value": {"params": {"days": 10}}}})],
    staff: Inspector,
    uow: UowDep,
    runtime: RuntimeDep,
) -> Any:
    rule = await repository.change(
        uow, staff.actor, rule_id, mode=body.mode, params=body.params, enabled=body.enabled, note=body.note
    )
    runtime.refs.invalidate()
    return JSON(_rule(rule))


@router.put(
    "/rules/{rule_id}/regions/{region}",
    response_model=RuleRead,
    responses=ERRORS,
    summary="Switch a rule on or off for one pooling region (audited)",
)
async def switch_rule(
    rule_id: Annotated[str, Path(max_length=40)],
    region: Annotated[str, Path(pattern=r"^\d{6}$")],
    body: RegionSwitch,
    staff: Inspector,
    uow: UowDep,
    runtime: RuntimeDep,
) -> Any:
    rule = await repository.switch_region(uow, staff.actor, rule_id, region, body.enabled)
    runtime.refs.invalidate()
    return JSON(_rule(rule))


# ---------------------------------------------------------------- suspects


@router.get(
    "/suspects",
    response_model=SuspectPage,
    responses=ERRORS,
    summary="Suspects, newest first (keyset); an institution sees only its own pushed suspects",
)
async def list_suspects(
    reader: Reader,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    rule_id: Annotated[str | None, Query(max_length=40)] = None,
    institution_code: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Any:
    page = await workflow.list_page(
        session,
        scope=_scope(reader),
        institution_code=institution_code,
        status=status,
        rule_id=rule_id,
        cursor=cursor,
        limit=limit,
    )
    return JSON(page)


@router.get("/suspects/{suspect_id}", response_model=SuspectRead, responses=ERRORS, summary="One suspect")
async def get_suspect(suspect_id: SuspectId, reader: Reader, session: SessionDep) -> Any:
    return JSON(workflow.render(await workflow.get(session, suspect_id, _scope(reader))))


@router.post(
    "/suspects/{suspect_id}/push",
    response_model=SuspectRead,
    responses=ERRORS,
    summary="Push a new suspect to its institution (inspector)",
)
async def push(suspect_id: SuspectId, staff: Inspector, uow: UowDep) -> Any:
    return JSON(workflow.render(await workflow.push(uow, staff.actor, suspect_id)))


@router.post(
    "/suspects/{suspect_id}/refund",
    response_model=SuspectRead,
    responses=ERRORS,
    summary="Institution self-corrects (退回): the amount is deducted at the next daily settle",
)
async def refund(suspect_id: SuspectId, body: RefundRequest, reader: Reader, uow: UowDep) -> Any:
    return JSON(workflow.render(await workflow.refund(uow, _actor(reader), suspect_id, body.note)))


@router.post(
    "/suspects/{suspect_id}/appeal",
    response_model=SuspectRead,
    responses=ERRORS,
    summary="Institution appeals (申诉) with a text and attachment links",
)
async def appeal(suspect_id: SuspectId, body: AppealRequest, reader: Reader, uow: UowDep) -> Any:
    attachments = [a.model_dump() for a in body.attachments]
    return JSON(workflow.render(await workflow.appeal(uow, _actor(reader), suspect_id, body.text, attachments)))


@router.post(
    "/suspects/{suspect_id}/review",
    response_model=SuspectRead,
    responses=ERRORS,
    summary="First review (first_reviewer) or second review (second_reviewer, another person)",
    description="`confirm` at the second review books the amount (kind `violation`) and, with a penalty "
    "multiple, amount × multiple (kind `penalty`) for the next daily settle, and re-grades the institution.",
)
async def review(
    suspect_id: SuspectId,
    body: Annotated[
        ReviewRequest,
        Body(openapi_examples={"confirm": {"value": REVIEW_EXAMPLE}}),
    ],
    staff: StaffUser,
    uow: UowDep,
    runtime: RuntimeDep,
    refs: RefsDep,
) -> Any:
    workflow.check_reviewer(body.stage, staff.role)
    row = await workflow.review(
        uow,
        staff.actor,
        refs.rules,
        suspect_id,
        stage=body.stage,
        decision=body.decision,
        multiple=body.penalty_multiple,
        note=body.note,
    )
    runtime.refs.invalidate()  # the credit grade may have changed
    return JSON(workflow.render(row))


# ---------------------------------------------------------------- agreement actions


@router.post(
    "/institutions/{code}/agreement-actions",
    status_code=201,
    response_model=AgreementActionRead,
    responses=ERRORS,
    summary="Talk, suspend for N days, terminate or reinstate an agreement (takes effect on the next bill)",
)
async def agreement_action(
    code: Annotated[str, Path(max_length=20)],
    body: Annotated[
        AgreementActionRequest,
        Body(openapi_examples={"suspend": {"value": {"action": "suspend", "days": 30, "reason": "分解住院查实"}}}),
    ],
    staff: Inspector,
    uow: UowDep,
    runtime: RuntimeDep,
) -> Any:
    row = await workflow.agreement_action(
        uow, staff.actor, code, body.action, reason=body.reason, days=body.days, suspect_id=body.suspect_id
    )
    runtime.refs.invalidate()
    return JSON(workflow.render_action(row), status_code=201)


# ---------------------------------------------------------------- alerts


@router.get("/alerts", response_model=AlertPage, responses=ERRORS, summary="Alerts, newest first (keyset)")
async def list_alerts(
    _: AlertReader,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Any:
    return JSON(await alerts.list_page(session, kind=kind, period=period, cursor=cursor, limit=limit))
