"""Recognition (认定) of a chronic or special outpatient disease (DOMAIN §9).

A clerk files an application for a person and a disease of the policy (the diagnosis must fall
under the disease's ICD-10 prefixes; evidence as references to scanned documents); a first
reviewer, then a second reviewer approve it (admin may take either step), or either rejects it.
No person takes two steps of one recognition, nor reviews one they filed (``SAME_ACTOR``). An
approved recognition is valid from the day of approval for the disease's ``validity_months``;
past ``valid_to`` it reads as ``expired``; an admin may revoke it. Use cases take
``(uow, actor, ...)``, write their audit entry and commit.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.chronic.orm import ChronicRecognitionRow
from yibao.db.uow import UnitOfWork
from yibao.errors import (
    Duplicate,
    Forbidden,
    InvalidRequest,
    InvalidState,
    NotFound,
    PersonNotFound,
    PolicyNotFound,
    SameActor,
)
from yibao.people import id_number as ids
from yibao.people.orm import PersonRow
from yibao.policy.params import ChronicDisease
from yibao.reference import ReferenceData
from yibao.uuids import uuid7

STATUSES = ("applied", "first_reviewed", "approved", "rejected", "revoked", "expired")
OPEN = ("applied", "first_reviewed")
#: who may take review step k (admin may take any)
STEP_ROLES = ("first_reviewer", "second_reviewer")


@dataclass(frozen=True)
class Evidence:
    sha256: str
    name: str
    type: str


@dataclass(frozen=True)
class Application:
    id_number: str
    disease: str
    diagnosis: str
    evidence: tuple[Evidence, ...]
    designated_institution: str | None = None


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def valid_to(valid_from: date, months: int) -> date:
    """The last day of validity: ``months`` after ``valid_from``, less a day."""
    return add_months(valid_from, months) - timedelta(days=1)


def status_on(row: ChronicRecognitionRow, today: date) -> str:
    if row.status == "approved" and row.valid_to is not None and row.valid_to < today:
        return "expired"
    return row.status


def render(row: ChronicRecognitionRow, refs: ReferenceData | None = None) -> dict[str, Any]:
    today = clock.today()
    name = None
    if refs is not None:
        try:
            disease = refs.policy(row.region, today.year).chronic.diseases.get(row.disease)
            name = disease.name if disease else None
        except PolicyNotFound:  # the name is a courtesy; a missing year's policy leaves it out
            name = None
    return {
        "id": str(row.id),
        "id_number": ids.mask(row.id_number),
        "region": row.region,
        "disease": row.disease,
        "disease_name": name,
        "diagnosis": row.diagnosis,
        "evidence": row.evidence,
        "designated_institution": row.designated_institution,
        "status": status_on(row, today),
        "filed_by": row.filed_by,
        "filed_at": row.filed_at.isoformat(),
        "first_reviewed_by": row.first_reviewed_by,
        "first_reviewed_at": row.first_reviewed_at.isoformat() if row.first_reviewed_at else None,
        "approved_by": row.approved_by,
        "approved_at": row.approved_at.isoformat() if row.approved_at else None,
        "valid_from": row.valid_from.isoformat() if row.valid_from else None,
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
        "closed_by": row.closed_by,
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "reason": row.reason,
    }


def _disease(refs: ReferenceData, region: str, code: str) -> ChronicDisease:
    policy = refs.policy(region, clock.today().year)
    disease = policy.chronic.diseases.get(code)
    if disease is None:
        known = ", ".join(policy.chronic.diseases) or "none"
        raise InvalidRequest(
            f"病种 {code} 不在政策目录中 unknown chronic disease {code!r} (policy {policy.version}: {known})"
        )
    return disease


async def _person(session: AsyncSession, id_number: str) -> PersonRow:
    number = ids.parse(id_number).id_number
    person = await session.scalar(select(PersonRow).where(PersonRow.id_number == number))
    if person is None:
        raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(number)}")
    return person


async def _get(session: AsyncSession, recognition_id: str, *, lock: bool = False) -> ChronicRecognitionRow:
    try:
        rid = uuid.UUID(recognition_id)
    except ValueError:
        raise NotFound(f"认定 {recognition_id} 不存在 recognition not found") from None
    stmt = select(ChronicRecognitionRow).where(ChronicRecognitionRow.id == rid)
    row = await session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"认定 {recognition_id} 不存在 recognition not found")
    return row


def _me(actor: audit.Actor) -> str:
    return f"{actor.kind}:{actor.name}"


#: who may file an application: the counter (clerk, admin), a hospital by its key, the member
FILERS = ("clerk", "admin", "institution", "member")


async def apply(
    uow: UnitOfWork,
    actor: audit.Actor,
    refs: ReferenceData,
    cmd: Application,
    *,
    person_id: int | None = None,
    filer_role: str = "member",
) -> dict[str, Any]:
    """File an application (申请); one open application per person and disease (``DUPLICATE``).
    ``person_id``: the member applying in the app, for themselves (``cmd.id_number`` unused);
    ``filer_role``: the staff role, ``institution`` or ``member`` (``FILERS`` may file)."""
    if filer_role not in FILERS:
        raise Forbidden(f"需要角色 clerk this action needs role clerk (or a hospital's key), not {filer_role}")
    session = uow.session
    if person_id is not None:
        own = await session.get(PersonRow, person_id)
        if own is None:
            raise PersonNotFound("参保人不存在 no such person")
        person = own
    else:
        person = await _person(session, cmd.id_number)
    disease = _disease(refs, person.region, cmd.disease)
    if not disease.covers(cmd.diagnosis):
        raise InvalidRequest(
            f"诊断 {cmd.diagnosis} 不属于病种 {disease.code} the diagnosis is not under {disease.code} {disease.name} "
            f"(ICD-10 {', '.join(disease.icd10_prefixes)})"
        )
    institution = cmd.designated_institution
    if institution is not None and institution not in refs.institutions:
        raise InvalidRequest(f"定点机构 {institution} 不存在 unknown designated institution {institution!r}")
    if institution is None and disease.designated_institution_required:
        raise InvalidRequest(f"病种 {disease.code} 须指定定点机构 {disease.code} requires a designated_institution")
    open_ = await session.scalar(
        select(ChronicRecognitionRow.id).where(
            ChronicRecognitionRow.person_id == person.id,
            ChronicRecognitionRow.disease == disease.code,
            ChronicRecognitionRow.status.in_(OPEN),
        )
    )
    if open_ is not None:
        raise Duplicate(
            f"已有待审核的 {disease.code} 认定申请 an application of {disease.code} is under review: {open_}"
        )
    row = ChronicRecognitionRow(
        id=uuid7(),
        person_id=person.id,
        id_number=person.id_number,
        region=person.region,
        disease=disease.code,
        diagnosis=cmd.diagnosis.upper(),
        evidence=[{"sha256": e.sha256, "name": e.name, "type": e.type} for e in cmd.evidence],
        designated_institution=institution,
        status="applied",
        filed_by=_me(actor),
        filed_at=clock.now(),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Duplicate(
            f"已有待审核的 {disease.code} 认定申请 an application of {disease.code} is under review"
        ) from None
    await audit.record(
        session,
        actor,
        "chronic_recognition.applied",
        ("chronic_recognition", str(row.id)),
        {"disease": disease.code, "diagnosis": row.diagnosis, "evidence": len(row.evidence)},
    )
    body = render(row, refs)
    await uow.commit()
    return body


async def approve(
    uow: UnitOfWork, actor: audit.Actor, role: str, refs: ReferenceData, recognition_id: str
) -> dict[str, Any]:
    """The next review step: first review (first reviewer), then second review (second
    reviewer), which approves it from today for the disease's validity."""
    session = uow.session
    row = await _get(session, recognition_id, lock=True)
    if row.status not in OPEN:
        raise InvalidState(f"认定状态为 {row.status}，不能审核 the recognition is {row.status}, not under review")
    me = _me(actor)
    if me in (row.filed_by, row.first_reviewed_by):
        raise SameActor("同一人不能办理同一认定的两个环节 one person cannot take two steps of one recognition")
    step = 1 if row.status == "applied" else 2
    needed = STEP_ROLES[step - 1]
    if role not in (needed, "admin"):
        raise Forbidden(f"第 {step} 级审核需要角色 {needed} review step {step} needs role {needed}")
    now = clock.now()
    if step == 1:
        row.status, row.first_reviewed_by, row.first_reviewed_at = "first_reviewed", me, now
        action = "chronic_recognition.first_reviewed"
    else:
        disease = _disease(refs, row.region, row.disease)
        start = clock.today()
        row.status, row.approved_by, row.approved_at = "approved", me, now
        row.valid_from, row.valid_to = start, valid_to(start, disease.validity_months)
        action = "chronic_recognition.approved"
    await session.flush()
    await audit.record(
        session,
        actor,
        action,
        ("chronic_recognition", str(row.id)),
        {"step": step, "role": role, "valid_to": row.valid_to.isoformat() if row.valid_to else None},
    )
    body = render(row, refs)
    await uow.commit()
    return body


async def _close(
    uow: UnitOfWork,
    actor: audit.Actor,
    refs: ReferenceData,
    recognition_id: str,
    reason: str,
    status: str,
    allowed: tuple[str, ...],
) -> dict[str, Any]:
    session = uow.session
    row = await _get(session, recognition_id, lock=True)
    if status_on(row, clock.today()) not in allowed:
        raise InvalidState(
            f"认定状态为 {status_on(row, clock.today())} the recognition is {row.status}: cannot be {status}"
        )
    me = _me(actor)
    if status == "rejected" and me == row.filed_by:
        raise SameActor("申请人不能审核自己的申请 one cannot reject an application one filed")
    row.status, row.closed_by, row.closed_at, row.reason = status, me, clock.now(), reason
    await session.flush()
    await audit.record(
        session, actor, f"chronic_recognition.{status}", ("chronic_recognition", str(row.id)), {"reason": reason}
    )
    body = render(row, refs)
    await uow.commit()
    return body


async def reject(
    uow: UnitOfWork, actor: audit.Actor, refs: ReferenceData, recognition_id: str, reason: str
) -> dict[str, Any]:
    """Refused at either review step, with the reason."""
    return await _close(uow, actor, refs, recognition_id, reason, "rejected", OPEN)


async def revoke(
    uow: UnitOfWork, actor: audit.Actor, refs: ReferenceData, recognition_id: str, reason: str
) -> dict[str, Any]:
    """An approved recognition withdrawn (e.g. found ineligible at re-review); bills after it
    are no longer in the chronic tier."""
    return await _close(uow, actor, refs, recognition_id, reason, "revoked", ("approved",))


async def read(
    session: AsyncSession, refs: ReferenceData, recognition_id: str, *, person_id: int | None = None
) -> dict[str, Any]:
    """One recognition; ``person_id``: only that person's (the member app), else ``NOT_FOUND``."""
    row = await _get(session, recognition_id)
    if person_id is not None and row.person_id != person_id:
        raise NotFound(f"认定 {recognition_id} 不存在 recognition not found")
    return render(row, refs)


async def search(
    session: AsyncSession,
    refs: ReferenceData,
    *,
    id_number: str | None = None,
    status: str | None = None,
    disease: str | None = None,
    expiring_before: date | None = None,
    limit: int = 100,
    person_id: int | None = None,
) -> dict[str, Any]:
    """Recognitions, newest first; ``expiring_before``: approved ones whose validity ends before it;
    ``person_id``: one person's (the member app)."""
    stmt = select(ChronicRecognitionRow)
    today = clock.today()
    if person_id is not None:
        stmt = stmt.where(ChronicRecognitionRow.person_id == person_id)
    if id_number is not None:
        stmt = stmt.where(ChronicRecognitionRow.person_id == (await _person(session, id_number)).id)
    if status is not None:
        if status not in STATUSES:
            raise InvalidRequest(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        if status == "expired":
            stmt = stmt.where(
                or_(
                    ChronicRecognitionRow.status == "expired",
                    and_(ChronicRecognitionRow.status == "approved", ChronicRecognitionRow.valid_to < today),
                )
            )
        elif status == "approved":
            stmt = stmt.where(ChronicRecognitionRow.status == "approved", ChronicRecognitionRow.valid_to >= today)
        else:
            stmt = stmt.where(ChronicRecognitionRow.status == status)
    if disease is not None:
        stmt = stmt.where(ChronicRecognitionRow.disease == disease)
    if expiring_before is not None:
        stmt = stmt.where(
            ChronicRecognitionRow.status == "approved",
            ChronicRecognitionRow.valid_to >= today,
            ChronicRecognitionRow.valid_to < expiring_before,
        )
    rows = (await session.scalars(stmt.order_by(ChronicRecognitionRow.filed_at.desc()).limit(limit))).all()
    return {"items": [render(r, refs) for r in rows]}


#: at most this many ids are named in a re-review run's result (the counts are complete)
_LISTED = 500


async def rereview(uow: UnitOfWork, actor: audit.Actor, day: date, days_ahead: int) -> dict[str, Any]:
    """The re-review job (复审): approved recognitions whose validity ended before ``day`` become
    ``expired`` (bills dated within their validity are still paid under them), and those ending
    within ``days_ahead`` days of ``day`` are listed for re-review. Safe to run again."""
    session = uow.session
    expired = (
        await session.scalars(
            update(ChronicRecognitionRow)
            .where(ChronicRecognitionRow.status == "approved", ChronicRecognitionRow.valid_to < day)
            .values(
                status="expired",
                closed_by=_me(actor),
                closed_at=clock.now(),
                reason=f"not renewed: validity ended before {day}",
            )
            .returning(ChronicRecognitionRow.id)
        )
    ).all()
    horizon = day + timedelta(days=days_ahead)
    due = (
        await session.scalars(
            select(ChronicRecognitionRow.id)
            .where(
                ChronicRecognitionRow.status == "approved",
                ChronicRecognitionRow.valid_to >= day,
                ChronicRecognitionRow.valid_to < horizon,
            )
            .order_by(ChronicRecognitionRow.valid_to, ChronicRecognitionRow.id)
        )
    ).all()
    result = {
        "date": day.isoformat(),
        "due_before": horizon.isoformat(),
        "expired": len(expired),
        "due": len(due),
        "expired_ids": sorted(str(i) for i in expired)[:_LISTED],
        "due_ids": [str(i) for i in due][:_LISTED],
    }
    await audit.record(
        session,
        actor,
        "chronic_recognition.rereview",
        ("chronic_rereview", day.isoformat()),
        {"expired": len(expired), "due": len(due), "due_before": horizon.isoformat()},
    )
    await uow.commit()
    return result


CSV_COLUMNS = (
    "id",
    "id_number",
    "disease",
    "disease_name",
    "diagnosis",
    "status",
    "designated_institution",
    "filed_at",
    "approved_at",
    "valid_from",
    "valid_to",
)


def to_csv(page: dict[str, Any]) -> str:
    """A page of :func:`search` as CSV (ID numbers masked, as in the JSON)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in page["items"]:
        writer.writerow(["" if item[c] is None else item[c] for c in CSV_COLUMNS])
    return out.getvalue()
