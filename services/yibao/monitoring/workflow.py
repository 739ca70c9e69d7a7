"""The suspect workflow and agreement actions (DOMAIN §6).

    new ──push──▶ pushed ──refund──▶ refunded                      (institution self-corrects)
                    │  └──appeal──▶ appealed
                    └───────────────────┴──first review──▶ first_reviewed
                                          ──second review (another person)──▶ confirmed | dismissed

Every transition is a use case: it locks the suspect row, checks the state (``INVALID_STATE``
otherwise), writes its audit entry and commits, so the API and any job act and audit alike.
An institution only ever reaches its own suspects (others are ``NOT_FOUND``, so it cannot even
learn they exist). ``confirmed`` books the amount as a ``violation`` deduction and, with a
penalty multiple, a ``penalty`` deduction (both idempotent on ``suspect:<id>``), then re-grades
the institution's credit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.db.uow import UnitOfWork
from yibao.deductions.service import book
from yibao.errors import Forbidden, InvalidRequest, InvalidState, NotFound, SameActor
from yibao.institutions.orm import InstitutionRow
from yibao.money import Fen, to_wire
from yibao.monitoring.orm import AgreementActionRow, SuspectRow
from yibao.monitoring.rules import RuleSet

VISIBLE_TO_INSTITUTION = ("pushed", "refunded", "appealed", "first_reviewed", "confirmed", "dismissed")
ACTIONS = ("talk", "suspend", "terminate", "reinstate")
#: who may decide each review stage (admin always may)
REVIEW_ROLES = {"first": "first_reviewer", "second": "second_reviewer"}


def render(row: SuspectRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "rule_version": row.rule_version,
        "institution_code": row.institution_code,
        "person_id": row.person_id,
        "service_date": row.service_date.isoformat() if row.service_date else None,
        "evidence_key": row.evidence_key,
        "evidence": row.evidence,
        "amount": to_wire(row.amount),
        "status": row.status,
        "detected_at": row.detected_at.isoformat(),
        "pushed_at": row.pushed_at.isoformat() if row.pushed_at else None,
        "appeal_text": row.appeal_text,
        "attachments": row.attachments or [],
        "first_reviewer": row.first_reviewer,
        "first_decision": row.first_decision,
        "second_reviewer": row.second_reviewer,
        "penalty_multiple": row.penalty_multiple,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }


def render_action(row: AgreementActionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "institution_code": row.institution_code,
        "action": row.action,
        "days": row.days,
        "suspended_until": row.suspended_until.isoformat() if row.suspended_until else None,
        "reason": row.reason,
        "actor": row.actor,
    }


def _scoped(stmt: Select[SuspectRow], institution_code: str | None) -> Select[SuspectRow]:
    """An institution sees only its own suspects, and only once pushed."""
    if institution_code is None:
        return stmt
    return stmt.where(SuspectRow.institution_code == institution_code, SuspectRow.status.in_(VISIBLE_TO_INSTITUTION))


async def _lock(session: AsyncSession, suspect_id: int, institution_code: str | None = None) -> SuspectRow:
    row = await session.scalar(
        _scoped(select(SuspectRow).where(SuspectRow.id == suspect_id), institution_code).with_for_update()
    )
    if row is None:
        raise NotFound(f"疑点 {suspect_id} 不存在 suspect not found")
    return row


def _expect(row: SuspectRow, *states: str, step: str) -> None:
    if row.status not in states:
        raise InvalidState(
            f"疑点状态 {row.status} 不允许 {step}: suspect {row.id} is {row.status}; {step} needs {' / '.join(states)}"
        )


async def _move(
    session: AsyncSession, row: SuspectRow, status: str, actor: audit.Actor, detail: dict[str, Any]
) -> None:
    before = row.status
    row.status = status
    row.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session, actor, f"suspect.{status}", ("suspect", str(row.id)), {"from": before, "to": status, **detail}
    )


async def get(session: AsyncSession, suspect_id: int, institution_code: str | None = None) -> SuspectRow:
    row = await session.scalar(_scoped(select(SuspectRow).where(SuspectRow.id == suspect_id), institution_code))
    if row is None:
        raise NotFound(f"疑点 {suspect_id} 不存在 suspect not found")
    return row


async def list_page(
    session: AsyncSession,
    *,
    scope: str | None = None,
    institution_code: str | None = None,
    status: str | None = None,
    rule_id: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Newest first (keyset on id); ``scope`` = the institution asking (its pushed suspects only)."""
    stmt = _scoped(select(SuspectRow), scope)
    if scope is None and institution_code:
        stmt = stmt.where(SuspectRow.institution_code == institution_code)
    if status:
        stmt = stmt.where(SuspectRow.status == status)
    if rule_id:
        stmt = stmt.where(SuspectRow.rule_id == rule_id)
    if cursor:
        stmt = stmt.where(SuspectRow.id < cursor)
    rows = (await session.scalars(stmt.order_by(SuspectRow.id.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return {"items": [render(r) for r in page], "next_cursor": page[-1].id if len(rows) > limit else None}


def _institution_of(actor: audit.Actor) -> str:
    if actor.kind != "institution":
        raise Forbidden("仅定点机构可操作 only the institution the suspect was pushed to may do this")
    return actor.name


async def push(uow: UnitOfWork, actor: audit.Actor, suspect_id: int) -> SuspectRow:
    """Inspector sends the suspect to its institution (it becomes visible there)."""
    row = await _lock(uow.session, suspect_id)
    _expect(row, "new", step="push")
    row.pushed_at = clock.now()
    await _move(uow.session, row, "pushed", actor, {})
    await uow.commit()
    return row


async def refund(uow: UnitOfWork, actor: audit.Actor, suspect_id: int, note: str) -> SuspectRow:
    """Self-correction: the institution accepts; the amount is deducted at the next daily settle."""
    institution_code = _institution_of(actor)
    session = uow.session
    row = await _lock(session, suspect_id, institution_code)
    _expect(row, "pushed", step="refund")
    if row.amount > 0:
        await book(
            session,
            institution_code=row.institution_code,
            fund="basic",
            kind="violation",
            source=f"suspect:{row.id}",
            amount=Fen(row.amount),
            due_on=clock.today() + timedelta(days=1),
            note=f"self-correction of {row.rule_id}",
        )
    row.decided_at = clock.now()
    await _move(session, row, "refunded", actor, {"note": note})
    await uow.commit()
    return row


async def appeal(
    uow: UnitOfWork, actor: audit.Actor, suspect_id: int, text: str, attachments: Sequence[Mapping[str, Any]]
) -> SuspectRow:
    row = await _lock(uow.session, suspect_id, _institution_of(actor))
    _expect(row, "pushed", step="appeal")
    row.appeal_text = text
    row.attachments = [dict(a) for a in attachments]
    await _move(uow.session, row, "appealed", actor, {"attachments": len(attachments)})
    await uow.commit()
    return row


def _check_multiple(rules: RuleSet, multiple: int | None) -> None:
    if multiple is None:
        return
    bounds = rules.params("penalty")
    lo, hi = int(bounds["min_multiple"]), int(bounds["max_multiple"])
    if not lo <= multiple <= hi:
        raise InvalidRequest(f"处罚倍数须在 {lo}–{hi} 之间 penalty multiple must be between {lo} and {hi}")


def check_reviewer(stage: str, role: str) -> None:
    """The first review needs a first reviewer, the second a second reviewer (or an admin)."""
    needed = REVIEW_ROLES[stage]
    if role not in (needed, "admin"):
        raise Forbidden(f"需要角色 {needed} the {stage} review needs role {needed}")


async def review(
    uow: UnitOfWork,
    actor: audit.Actor,
    rules: RuleSet,
    suspect_id: int,
    *,
    stage: str,
    decision: str,
    multiple: int | None,
    note: str,
) -> SuspectRow:
    """One review step (``stage`` first or second), audited and committed."""
    step = _first_review if stage == "first" else _second_review
    row = await step(uow.session, rules, suspect_id, actor, decision, multiple, note)
    await uow.commit()
    return row


async def _first_review(
    session: AsyncSession,
    rules: RuleSet,
    suspect_id: int,
    actor: audit.Actor,
    decision: str,
    multiple: int | None,
    note: str,
) -> SuspectRow:
    row = await _lock(session, suspect_id)
    _expect(row, "pushed", "appealed", step="first review")
    _check_multiple(rules, multiple)
    row.first_reviewer, row.first_decision, row.first_note = actor.name, decision, note
    row.first_penalty_multiple = multiple if decision == "confirm" else None
    await _move(
        session, row, "first_reviewed", actor, {"decision": decision, "penalty_multiple": multiple, "note": note}
    )
    return row


async def _second_review(
    session: AsyncSession,
    rules: RuleSet,
    suspect_id: int,
    actor: audit.Actor,
    decision: str,
    multiple: int | None,
    note: str,
) -> SuspectRow:
    """Final decision by another person; ``confirm`` books the deductions and re-grades credit."""
    row = await _lock(session, suspect_id)
    _expect(row, "first_reviewed", step="second review")
    if row.first_reviewer == actor.name:  # maker-checker
        raise SameActor(f"复核须由另一人完成 {actor.name} did the first review of suspect {row.id}")
    multiple = multiple if multiple is not None else row.first_penalty_multiple
    _check_multiple(rules, multiple)
    row.second_reviewer, row.second_note, row.decided_at = actor.name, note, clock.now()
    if decision == "dismiss":
        await _move(session, row, "dismissed", actor, {"note": note})
        return row
    row.penalty_multiple = multiple
    due = clock.today() + timedelta(days=1)
    source = f"suspect:{row.id}"
    if row.amount > 0:
        await book(
            session,
            institution_code=row.institution_code,
            fund="basic",
            kind="violation",
            source=source,
            amount=Fen(row.amount),
            due_on=due,
            note=f"confirmed {row.rule_id}",
        )
        if multiple:
            await book(
                session,
                institution_code=row.institution_code,
                fund="basic",
                kind="penalty",
                source=source,
                amount=Fen(row.amount * multiple),
                due_on=due,
                note=f"penalty {multiple}× for {row.rule_id}",
            )
    await _move(session, row, "confirmed", actor, {"note": note, "penalty_multiple": multiple})
    await regrade(session, rules, row.institution_code, actor)
    return row


def grade_for(violations: int, thresholds: Mapping[str, Any]) -> str:
    """A–D from the confirmed violations in the window (pure; thresholds are rule data)."""
    grade = "A"
    for g in ("B", "C", "D"):
        if g in thresholds and violations >= int(thresholds[g]):
            grade = g
    return grade


async def regrade(session: AsyncSession, rules: RuleSet, institution_code: str, actor: audit.Actor) -> str:
    """Re-grade an institution's credit in the caller's transaction (audited when it changes)."""
    params = rules.params("credit_grade")
    since = clock.now() - timedelta(days=int(params["window_days"]))
    count = await session.scalar(
        select(func.count())
        .select_from(SuspectRow)
        .where(
            SuspectRow.institution_code == institution_code,
            SuspectRow.status == "confirmed",
            SuspectRow.decided_at >= since,
        )
    )
    grade = grade_for(int(count or 0), params["thresholds"])
    before = await session.scalar(
        select(InstitutionRow.credit_grade).where(InstitutionRow.code == institution_code).with_for_update()
    )
    if before != grade:
        await session.execute(
            update(InstitutionRow).where(InstitutionRow.code == institution_code).values(credit_grade=grade)
        )
        await audit.record(
            session,
            actor,
            "institution.credit_graded",
            ("institution", institution_code),
            {"from": before, "to": grade, "confirmed_violations": int(count or 0)},
        )
    return grade


async def agreement_action(
    uow: UnitOfWork,
    actor: audit.Actor,
    institution_code: str,
    action: str,
    *,
    reason: str,
    days: int | None = None,
    suspect_id: int | None = None,
) -> AgreementActionRow:
    """Talk (recorded only), suspend for N days, terminate, or reinstate. Settlements read the
    agreement inside their own transaction, so the change applies to the next bill everywhere."""
    if action == "suspend" and days is None:
        raise InvalidRequest("暂停须指定天数 suspend needs `days`")
    if action not in ACTIONS:
        raise InvalidRequest(f"unknown agreement action {action!r}; one of {', '.join(ACTIONS)}")
    session = uow.session
    inst = await session.scalar(select(InstitutionRow).where(InstitutionRow.code == institution_code).with_for_update())
    if inst is None:
        raise NotFound(f"定点机构 {institution_code} 不存在 institution not found")
    until = None
    if action == "suspend":
        if days is None or days < 1:
            raise InvalidRequest("暂停须指定天数 suspend needs days ≥ 1")
        until = clock.today() + timedelta(days=days - 1)
        inst.agreement, inst.suspended_until = "suspended", until
    elif action == "terminate":
        if inst.agreement == "terminated":
            raise InvalidState(f"{institution_code} 协议已解除 agreement already terminated")
        inst.agreement, inst.suspended_until = "terminated", None
    elif action == "reinstate":
        if inst.agreement == "active":
            raise InvalidState(f"{institution_code} 协议有效 agreement already active")
        inst.agreement, inst.suspended_until = "active", None
    row = AgreementActionRow(
        institution_code=institution_code,
        action=action,
        days=days,
        suspended_until=until,
        reason=reason,
        suspect_id=suspect_id,
        actor=actor.name,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor,
        f"agreement.{action}",
        ("institution", institution_code),
        {
            "days": days,
            "suspended_until": until.isoformat() if until else None,
            "reason": reason,
            "suspect_id": suspect_id,
            "agreement": inst.agreement,
        },
    )
    await uow.commit()
    return row
