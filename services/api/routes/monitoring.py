"""Smart monitoring (智能监控): rules as data, suspects and their review, agreement actions, alerts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from sqlalchemy import select

from api.deps import Reader, RuntimeDep, SessionDep, StaffUser, UowDep, require_staff
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
from yibao.auth.tokens import StaffPrincipal
from yibao.errors import Forbidden, InvalidRequest
from yibao.institutions.agreements import Institution
from yibao.money import to_wire
from yibao.monitoring import repository, workflow
from yibao.monitoring.orm import AlertRow, SuspectRow
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


def _institution(reader: Institution | StaffPrincipal) -> Institution:
    if not isinstance(reader, Institution):
        raise Forbidden("仅定点机构可操作 only the institution the suspect was pushed to may do this")
    return reader


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
        uow.session, rule_id, by=staff.name, mode=body.mode, params=body.params, enabled=body.enabled, note=body.note
    )
    out = _rule(rule)
    await uow.commit()
    runtime.refs.invalidate()
    return JSON(out)


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
    await repository.switch_region(uow.session, rule_id, region, body.enabled, by=staff.name)
    rule = (await repository.load_rules(uow.session)).get(rule_id)
    await uow.commit()
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
    stmt = select(SuspectRow)
    if isinstance(reader, Institution):
        stmt = stmt.where(
            SuspectRow.institution_code == reader.code, SuspectRow.status.in_(workflow.VISIBLE_TO_INSTITUTION)
        )
    elif institution_code:
        stmt = stmt.where(SuspectRow.institution_code == institution_code)
    if status:
        stmt = stmt.where(SuspectRow.status == status)
    if rule_id:
        stmt = stmt.where(SuspectRow.rule_id == rule_id)
    if cursor:
        stmt = stmt.where(SuspectRow.id < cursor)
    rows = (await session.scalars(stmt.order_by(SuspectRow.id.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return JSON(
        {"items": [workflow.render(r) for r in page], "next_cursor": page[-1].id if len(rows) > limit else None}
    )


@router.get("/suspects/{suspect_id}", response_model=SuspectRead, responses=ERRORS, summary="One suspect")
async def get_suspect(suspect_id: SuspectId, reader: Reader, session: SessionDep) -> Any:
    code = reader.code if isinstance(reader, Institution) else None
    return JSON(workflow.render(await workflow.get(session, suspect_id, code)))


@router.post(
    "/suspects/{suspect_id}/push",
    response_model=SuspectRead,
    responses=ERRORS,
    summary="Push a new suspect to its institution (inspector)",
)
async def push(suspect_id: SuspectId, staff: Inspector, uow: UowDep) -> Any:
    out = workflow.render(await workflow.push(uow.session, suspect_id, staff.name))
    await uow.commit()
    return JSON(out)


@router.post(
    "/suspects/{suspect_id}/refund",
    response_model=SuspectRead,
    responses=ERRORS,
    summary="Institution self-corrects (退回): the amount is deducted at the next daily settle",
)
async def refund(suspect_id: SuspectId, body: RefundRequest, reader: Reader, uow: UowDep) -> Any:
    inst = _institution(reader)
    out = workflow.render(await workflow.refund(uow.session, inst.code, suspect_id, body.note))
    await uow.commit()
    return JSON(out)


@router.post(
    "/suspects/{suspect_id}/appeal",
    response_model=SuspectRead,
    responses=ERRORS,
    summary="Institution appeals (申诉) with a text and attachment links",
)
async def appeal(suspect_id: SuspectId, body: AppealRequest, reader: Reader, uow: UowDep) -> Any:
    inst = _institution(reader)
    attachments = [a.model_dump() for a in body.attachments]
    out = workflow.render(await workflow.appeal(uow.session, inst.code, suspect_id, body.text, attachments))
    await uow.commit()
    return JSON(out)


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
) -> Any:
    role = "first_reviewer" if body.stage == "first" else "second_reviewer"
    if staff.role not in (role, "admin"):
        raise Forbidden(f"需要角色 {role} the {body.stage} review needs role {role}")
    refs = await runtime.refs.get()
    step = workflow.first_review if body.stage == "first" else workflow.second_review
    row = await step(uow.session, refs.rules, suspect_id, staff.name, body.decision, body.penalty_multiple, body.note)
    out = workflow.render(row)
    await uow.commit()
    runtime.refs.invalidate()  # the credit grade may have changed
    return JSON(out)


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
    if body.action == "suspend" and body.days is None:
        raise InvalidRequest("暂停须指定天数 suspend needs `days`")
    row = await workflow.agreement_action(
        uow.session,
        code,
        body.action,
        staff=staff.name,
        reason=body.reason,
        days=body.days,
        suspect_id=body.suspect_id,
    )
    out = {
        "id": row.id,
        "institution_code": row.institution_code,
        "action": row.action,
        "days": row.days,
        "suspended_until": row.suspended_until.isoformat() if row.suspended_until else None,
        "reason": row.reason,
        "actor": row.actor,
    }
    await uow.commit()
    runtime.refs.invalidate()
    return JSON(out, status_code=201)


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
    stmt = select(AlertRow)
    if kind:
        stmt = stmt.where(AlertRow.kind == kind)
    if period:
        stmt = stmt.where(AlertRow.period == period)
    if cursor:
        stmt = stmt.where(AlertRow.id < cursor)
    rows = (await session.scalars(stmt.order_by(AlertRow.id.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    items = [
        {
            "id": r.id,
            "kind": r.kind,
            "period": r.period,
            "subject": r.subject,
            "amount": to_wire(r.amount) if r.amount is not None else None,
            "detail": r.detail,
        }
        for r in page
    ]
    return JSON({"items": items, "next_cursor": page[-1].id if len(rows) > limit else None})
