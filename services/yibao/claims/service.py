"""Manual reimbursement claims (零星报销): file → tiered approval → settled (source = manual) → paid.

Use cases take ``(uow, actor, ...)``, write their audit entry and commit. The claim's money is
computed and stored by ``yibao.bill_settlement.manual`` (the sole writer of settlements) in the
approval's transaction; this noun writes only its own tables (claims, steps, claimed invoices,
the number series).

Approval tiers are policy data (``manual_reimbursement.approval_tiers``) on the fund amount the
claim would pay, recomputed at every approval (the person's accumulators may have moved since
filing). Step ``k`` of a round is first review (first reviewer), second review (second
reviewer), final approval (admin; ``admin_step``); admin may take any step. No person takes two
steps of one round, and the clerk who filed the claim takes none (``SAME_ACTOR``). A return for
more material ends the round: the resubmitted claim starts again with a new due date.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.bill_settlement import manual
from yibao.bill_settlement.commands import LineCommand, SettleBill
from yibao.claims import calendar, render
from yibao.claims.orm import ClaimedInvoiceRow, ReimbursementClaimRow, ReimbursementStepRow
from yibao.db.statements import SessionDb
from yibao.db.uow import UnitOfWork
from yibao.errors import (
    ClaimTooOld,
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    InvalidState,
    InvoiceAlreadyClaimed,
    NotFound,
    PersonNotFound,
    PolicyNotFound,
    SameActor,
)
from yibao.money import Fen, yuan_to_fen
from yibao.people import id_number as ids
from yibao.people.orm import PersonRow
from yibao.policy.params import ManualReimbursementParams
from yibao.reference import ReferenceData
from yibao.uuids import uuid7

KINDS = ("cross_region_unsettled", "emergency", "non_designated", "maternity", "other")
CHANNELS = ("counter", "service_point", "app")
#: the name of approval step k (1-based) of a round
STEP_NAMES = ("first_review", "second_review", "final_approval")
#: who may take step k below the admin step (admin may take any)
STEP_ROLES = ("first_reviewer", "second_reviewer")
REVIEWER_ROLES = ("first_reviewer", "second_reviewer", "admin")
OPEN = ("received", "in_review")


@dataclass(frozen=True)
class ClaimLine:
    line_no: int
    item_code: str
    quantity: Decimal
    unit_price: Fen
    service_date: date


@dataclass(frozen=True)
class Attachment:
    sha256: str
    name: str
    type: str


@dataclass(frozen=True)
class Payee:
    kind: str  # own_account / other_account
    name: str
    bank: str
    account_no: str
    relation: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FileClaim:
    """What a clerk (or the member's app) files: one visit paid out of pocket."""

    id_number: str
    kind: str
    channel: str
    visit_type: str
    service_date: date
    lines: tuple[ClaimLine, ...]
    invoice_numbers: tuple[str, ...]
    payee: Payee
    institution_code: str | None = None
    care_name: str | None = None
    care_region: str | None = None
    care_level: int | None = None
    admitted_on: date | None = None
    discharged_on: date | None = None
    diagnoses: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())
    delivery_type: str | None = None  # maternity_inpatient: vaginal / caesarean
    babies: int | None = None  # maternity_inpatient

    def fingerprint(self) -> str:
        plain = asdict(self)
        for later in ("delivery_type", "babies"):  # absent as before they existed: old keys match
            if plain[later] is None:
                del plain[later]
        return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------- helpers


def _place(refs: ReferenceData, cmd: FileClaim | ReimbursementClaimRow) -> manual.CarePlace:
    if cmd.institution_code is not None:
        inst = refs.institutions.get(cmd.institution_code)
        if inst is None or inst.code == manual.OFF_REGISTER:
            raise InvalidRequest(f"定点机构 {cmd.institution_code} 不存在 unknown institution {cmd.institution_code!r}")
        return manual.CarePlace(inst.code, inst.name, inst.region, inst.level)
    if not cmd.care_name or cmd.care_region is None or cmd.care_level is None:
        raise InvalidRequest(
            "就医机构须为定点机构编码或名称+地区+等级 give institution_code, or care_name, care_region and care_level"
        )
    return manual.CarePlace(None, cmd.care_name, cmd.care_region, cmd.care_level)


def _bill(claim: ReimbursementClaimRow) -> SettleBill:
    return SettleBill(
        id_number=claim.id_number,
        visit_no=claim.claim_no,
        visit_type=claim.visit_type,
        service_date=claim.service_date,
        admitted_on=claim.admitted_on,
        discharged_on=claim.discharged_on,
        diagnoses=tuple(claim.diagnoses),
        procedures=tuple(claim.procedures),
        delivery_type=claim.delivery_type,
        babies=claim.babies,
        lines=tuple(
            LineCommand(
                line_no=int(ln["line_no"]),
                item_code=str(ln["item_code"]),
                quantity=Decimal(str(ln["quantity"])),
                unit_price=Fen(int(ln["unit_price"])),
                service_date=date.fromisoformat(str(ln["service_date"])),
            )
            for ln in claim.lines
        ),
    )


async def _person(session: AsyncSession, id_number: str) -> PersonRow:
    idn = ids.parse(id_number).id_number
    person = await session.scalar(select(PersonRow).where(PersonRow.id_number == idn))
    if person is None:
        raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(idn)}")
    return person


def _params(
    refs: ReferenceData, person: PersonRow, year: int, fallback: int | None = None
) -> ManualReimbursementParams:
    """The person's region's rules of ``year``; ``fallback``: the year to use while ``year``'s
    policy is not loaded yet (a claim received in early January for care of the year before)."""
    try:
        return refs.policy(person.region, year).manual_reimbursement
    except PolicyNotFound:
        if fallback is None or fallback == year:
            raise
        return refs.policy(person.region, fallback).manual_reimbursement


async def _fund_estimate(session: AsyncSession, refs: ReferenceData, claim: ReimbursementClaimRow) -> int:
    institution = manual.institution_for(refs, _place(refs, claim))
    body = await manual.preview_manual(SessionDb(session), refs, institution, _bill(claim))
    return int(yuan_to_fen(body["totals"]["fund_total"]))


async def _next_claim_no(session: AsyncSession, year: int) -> str:
    n = await session.scalar(
        text(
            "INSERT INTO reimbursement_claim_numbers (year, last) VALUES (:y, 1) "
            "ON CONFLICT (year) DO UPDATE SET last = reimbursement_claim_numbers.last + 1 RETURNING last"
        ),
        {"y": year},
    )
    return f"MR{year}{int(n):06d}"


async def _step(
    session: AsyncSession,
    claim: ReimbursementClaimRow,
    step: str,
    actor: str,
    *,
    role: str | None = None,
    reason: str | None = None,
    fund_estimate: int | None = None,
) -> None:
    session.add(
        ReimbursementStepRow(
            claim_id=claim.id,
            step=step,
            actor=actor,
            role=role,
            reason=reason,
            fund_estimate=fund_estimate,
            at=clock.now(),
        )
    )
    claim.updated_at = clock.now()
    await session.flush()


async def _steps(session: AsyncSession, claim_id: uuid.UUID) -> list[ReimbursementStepRow]:
    stmt = select(ReimbursementStepRow).where(ReimbursementStepRow.claim_id == claim_id)
    return list((await session.scalars(stmt.order_by(ReimbursementStepRow.id))).all())


async def _get(session: AsyncSession, claim_id: str, *, lock: bool = False) -> ReimbursementClaimRow:
    try:
        cid = uuid.UUID(claim_id)
    except ValueError:
        raise NotFound(f"报销申请 {claim_id} 不存在 claim not found") from None
    stmt = select(ReimbursementClaimRow).where(ReimbursementClaimRow.id == cid)
    claim = await session.scalar(stmt.with_for_update() if lock else stmt)
    if claim is None:
        raise NotFound(f"报销申请 {claim_id} 不存在 claim not found")
    return claim


async def view(session: AsyncSession, claim: ReimbursementClaimRow) -> dict[str, Any]:
    return render.claim(claim, await _steps(session, claim.id), clock.today())


# ---------------------------------------------------------------- filing


async def file_claim(
    uow: UnitOfWork,
    actor: audit.Actor,
    refs: ReferenceData,
    cmd: FileClaim,
    idempotency_key: str | None,
    *,
    member_person_id: int | None = None,
) -> tuple[bytes, bool]:
    """Receive a claim: refused at once when the fund could never pay it (unknown person, care
    before coverage or after death, too old, an invoice already claimed, a visit settled at the
    counter); else ``received`` with its tier and due date. Returns (answer, replayed)."""
    if not idempotency_key:
        raise InvalidRequest("缺少 Idempotency-Key 请求头 the Idempotency-Key header is required")
    session = uow.session
    requester = f"{actor.kind}:{actor.name}"
    fingerprint = cmd.fingerprint()
    first = await _first_answer(session, requester, idempotency_key, fingerprint)
    if first is not None:
        return first, True
    if cmd.kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}")
    place = _place(refs, cmd)
    person = (
        await session.get(PersonRow, member_person_id)
        if member_person_id is not None
        else await _person(session, cmd.id_number)
    )
    if person is None:
        raise PersonNotFound("参保人不存在 person not found")
    today = clock.today()
    # the limits in force when the claim is received
    params = _params(refs, person, today.year, fallback=cmd.service_date.year)
    earliest = _years_before(today, params.claim_limit_years)
    if cmd.service_date < earliest:
        raise ClaimTooOld(
            f"就诊日期 {cmd.service_date} 超过 {params.claim_limit_years} 年报销时限 care on {cmd.service_date} is "
            f"older than the {params.claim_limit_years}-year limit (earliest {earliest})"
        )
    if cmd.service_date > today:
        raise InvalidRequest("就诊日期晚于今天 the service date is after today")
    invoices = sorted(set(cmd.invoice_numbers))
    if len(invoices) != len(cmd.invoice_numbers):
        raise InvalidRequest("发票号重复 an invoice number appears twice in the claim")
    taken = (
        await session.scalars(select(ClaimedInvoiceRow.invoice_no).where(ClaimedInvoiceRow.invoice_no.in_(invoices)))
    ).all()
    if taken:
        # a concurrent twin under the same key may have committed since the first look: replay it
        replay = await _first_answer(session, requester, idempotency_key, fingerprint)
        if replay is not None:
            return replay, True
        raise InvoiceAlreadyClaimed(
            f"发票 {', '.join(taken)} 已报销或正在报销 invoice {', '.join(taken)} is already claimed",
            invoices=list(taken),
        )
    claim = ReimbursementClaimRow(
        id=uuid7(),
        claim_no=await _next_claim_no(session, today.year),
        person_id=person.id,
        id_number=person.id_number,
        kind=cmd.kind,
        institution_code=place.institution_code,
        care_name=place.name if place.institution_code is None else None,
        care_region=place.region,
        care_level=place.level,
        visit_type=cmd.visit_type,
        admitted_on=cmd.admitted_on,
        discharged_on=cmd.discharged_on,
        delivery_type=cmd.delivery_type,
        babies=(cmd.babies or 1) if cmd.visit_type == "maternity_inpatient" else None,
        service_date=cmd.service_date,
        diagnoses=list(cmd.diagnoses),
        procedures=list(cmd.procedures),
        invoice_numbers=invoices,
        lines=[
            {
                "line_no": ln.line_no,
                "item_code": ln.item_code,
                "quantity": str(ln.quantity),
                "unit_price": int(ln.unit_price),
                "service_date": ln.service_date.isoformat(),
            }
            for ln in cmd.lines
        ],
        channel=cmd.channel,
        attachments=[asdict(a) for a in cmd.attachments],
        payee={k: v for k, v in asdict(cmd.payee).items() if v is not None},
        status="received",
        fund_estimate=0,
        approvals_needed=1,
        approvals=0,
        received_on=today,
        due_date=calendar.add_working_days(today, params.due_working_days),
        filed_by=requester,
        requester=requester,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
    )
    claim.fund_estimate = await _fund_estimate(session, refs, claim)
    claim.approvals_needed = params.approvals_for(claim.fund_estimate)
    session.add(claim)
    try:
        await session.flush()  # the claim first: its invoices and steps reference it
        session.add_all(ClaimedInvoiceRow(invoice_no=n, claim_id=claim.id) for n in invoices)
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        if "uq_reimbursement_claims_requester_key" in str(exc.orig):  # a concurrent twin filed first
            replay = await _first_answer(session, requester, idempotency_key, fingerprint)
            if replay is not None:
                return replay, True
        if "pk_claimed_invoices" in str(exc.orig):
            raise InvoiceAlreadyClaimed() from None
        raise
    await _step(session, claim, "filed", requester, fund_estimate=claim.fund_estimate)
    body = orjson.dumps(await view(session, claim))
    claim.response = body.decode()
    await audit.record(
        session,
        actor,
        "reimbursement.filed",
        ("reimbursement_claim", str(claim.id)),
        {"claim_no": claim.claim_no, "fund_estimate_fen": claim.fund_estimate, "channel": claim.channel},
    )
    await uow.commit()
    return body, False


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def _first_answer(session: AsyncSession, requester: str, key: str, fingerprint: str) -> bytes | None:
    row = (
        await session.execute(
            select(ReimbursementClaimRow.request_hash, ReimbursementClaimRow.response).where(
                ReimbursementClaimRow.requester == requester, ReimbursementClaimRow.idempotency_key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyConflict("幂等键已用于不同的报销申请 this Idempotency-Key was used for a different claim")
    return str(row.response).encode()


# ---------------------------------------------------------------- approval


def _round(steps: list[ReimbursementStepRow]) -> list[ReimbursementStepRow]:
    """The approvals of the current round (since filing or the last resubmission)."""
    start = max((i for i, s in enumerate(steps) if s.step in ("filed", "resubmitted")), default=0)
    return [s for s in steps[start:] if s.step in STEP_NAMES]


def _may_take(step_no: int, role: str, params: ManualReimbursementParams) -> bool:
    if role == "admin":
        return True
    if step_no >= params.admin_step:
        return False
    return step_no <= len(STEP_ROLES) and role == STEP_ROLES[step_no - 1]


async def approve(uow: UnitOfWork, actor: audit.Actor, role: str, refs: ReferenceData, claim_id: str) -> dict[str, Any]:
    """One approval step. The last one its tier needs settles the claim (``source = manual``)
    in the same transaction: the settlement and the claim's ``approved`` commit together."""
    session = uow.session
    claim = await _get(session, claim_id, lock=True)
    if claim.status not in OPEN:
        raise InvalidState(
            f"报销申请状态为 {claim.status}，不能审批 the claim is {claim.status}, not awaiting approval"
        )
    me = f"{actor.kind}:{actor.name}"
    steps = await _steps(session, claim.id)
    done = _round(steps)
    if me == claim.filed_by or me in {s.actor for s in done}:
        raise SameActor("同一人不能办理同一报销申请的两个环节 one person cannot take two steps of one claim")
    person = await session.get(PersonRow, claim.person_id)
    assert person is not None  # claims reference persons
    params = _params(refs, person, claim.service_date.year)  # the tiers of the year whose money it is
    step_no = len(done) + 1
    if not _may_take(step_no, role, params):
        needed_role = "admin" if step_no >= params.admin_step else STEP_ROLES[min(step_no, len(STEP_ROLES)) - 1]
        raise Forbidden(f"第 {step_no} 级审批需要角色 {needed_role} approval step {step_no} needs role {needed_role}")
    estimate = await _fund_estimate(session, refs, claim)
    needed = params.approvals_for(estimate)
    name = STEP_NAMES[min(step_no, len(STEP_NAMES)) - 1]
    await _step(session, claim, name, me, role=role, fund_estimate=estimate)
    claim.fund_estimate, claim.approvals_needed, claim.approvals = estimate, needed, step_no
    if step_no >= needed:
        institution = manual.institution_for(refs, _place(refs, claim))
        result = await manual.settle_manual(SessionDb(session), refs, institution, _bill(claim), str(claim.id))
        settled = orjson.loads(result.body)
        claim.settlement_id = uuid.UUID(settled["settlement_id"])
        claim.fund_estimate = int(yuan_to_fen(settled["totals"]["fund_total"]))
        claim.status = "approved"
        await _step(session, claim, "settled", me, fund_estimate=claim.fund_estimate)
    else:
        claim.status = "in_review"
    await session.flush()
    await audit.record(
        session,
        actor,
        f"reimbursement.{name}",
        ("reimbursement_claim", str(claim.id)),
        {"step": step_no, "needed": needed, "fund_estimate_fen": estimate, "status": claim.status},
    )
    body = await view(session, claim)
    await uow.commit()
    return body


async def return_claim(uow: UnitOfWork, actor: audit.Actor, role: str, claim_id: str, reason: str) -> dict[str, Any]:
    """Back to the person for more material; the round's approvals no longer count."""
    return await _close(uow, actor, role, claim_id, reason, "returned")


async def reject(uow: UnitOfWork, actor: audit.Actor, role: str, claim_id: str, reason: str) -> dict[str, Any]:
    """Refused for good, with the reason; its invoice numbers may be claimed again."""
    return await _close(uow, actor, role, claim_id, reason, "rejected")


async def _close(
    uow: UnitOfWork, actor: audit.Actor, role: str, claim_id: str, reason: str, status: str
) -> dict[str, Any]:
    if role not in REVIEWER_ROLES:
        raise Forbidden(f"需要审核角色 this needs one of the roles {', '.join(REVIEWER_ROLES)}")
    session = uow.session
    claim = await _get(session, claim_id, lock=True)
    allowed = OPEN + (("returned",) if status == "rejected" else ())
    if claim.status not in allowed:
        raise InvalidState(f"报销申请状态为 {claim.status} the claim is {claim.status}, it cannot be {status}")
    me = f"{actor.kind}:{actor.name}"
    if me == claim.filed_by:
        raise SameActor("经办人不能审核自己受理的申请 the clerk who filed a claim cannot review it")
    claim.status, claim.reason, claim.approvals = status, reason, 0
    if status == "rejected":
        await session.execute(delete(ClaimedInvoiceRow).where(ClaimedInvoiceRow.claim_id == claim.id))
    await _step(session, claim, status, me, role=role, reason=reason)
    await audit.record(
        session, actor, f"reimbursement.{status}", ("reimbursement_claim", str(claim.id)), {"reason": reason}
    )
    body = await view(session, claim)
    await uow.commit()
    return body


async def resubmit(
    uow: UnitOfWork,
    actor: audit.Actor,
    claim_id: str,
    attachments: tuple[Attachment, ...],
    *,
    person_id: int | None = None,
    refs: ReferenceData,
) -> dict[str, Any]:
    """A returned claim with the material asked for: received again, due again from today.
    ``person_id``: the member's own claims only (another's is ``NOT_FOUND``)."""
    session = uow.session
    claim = await _get(session, claim_id, lock=True)
    if person_id is not None and claim.person_id != person_id:
        raise NotFound(f"报销申请 {claim_id} 不存在 claim not found")
    if claim.status != "returned":
        raise InvalidState(
            f"报销申请状态为 {claim.status} the claim is {claim.status}, only a returned one is resubmitted"
        )
    person = await session.get(PersonRow, claim.person_id)
    assert person is not None
    today = clock.today()
    params = _params(refs, person, today.year, fallback=claim.service_date.year)
    claim.attachments = [*claim.attachments, *(asdict(a) for a in attachments)]
    claim.status, claim.approvals, claim.received_on = "received", 0, today
    claim.due_date = calendar.add_working_days(today, params.due_working_days)
    me = f"{actor.kind}:{actor.name}"
    await _step(session, claim, "resubmitted", me, reason=f"{len(attachments)} attachment(s) added")
    await audit.record(
        session, actor, "reimbursement.resubmitted", ("reimbursement_claim", str(claim.id)), {"added": len(attachments)}
    )
    body = await view(session, claim)
    await uow.commit()
    return body


# ---------------------------------------------------------------- reading


async def read(session: AsyncSession, claim_id: str, *, person_id: int | None = None) -> dict[str, Any]:
    claim = await _get(session, claim_id)
    if person_id is not None and claim.person_id != person_id:
        raise NotFound(f"报销申请 {claim_id} 不存在 claim not found")
    return await view(session, claim)


async def queue(
    session: AsyncSession,
    *,
    status: str | None = None,
    overdue: bool = False,
    person_id: int | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Claims, oldest due date first. ``overdue``: still awaiting a decision after the due date."""
    stmt = select(ReimbursementClaimRow)
    if status is not None:
        stmt = stmt.where(ReimbursementClaimRow.status == status)
    if overdue:
        stmt = stmt.where(ReimbursementClaimRow.status.in_(OPEN), ReimbursementClaimRow.due_date < clock.today())
    if person_id is not None:
        stmt = stmt.where(ReimbursementClaimRow.person_id == person_id)
    rows = (
        await session.scalars(
            stmt.order_by(ReimbursementClaimRow.due_date, ReimbursementClaimRow.claim_no).limit(limit)
        )
    ).all()
    return {"items": [render.summary(r, clock.today()) for r in rows]}


# ---------------------------------------------------------------- payouts (called by yibao.payouts.persons)


async def payable(session: AsyncSession, ordered: Any) -> list[ReimbursementClaimRow]:
    """Approved claims not yet in a payout order (``ordered``: a select of the claim ids already
    in one), locked, so one batch takes each once."""
    stmt = select(ReimbursementClaimRow).where(
        ReimbursementClaimRow.status == "approved", ReimbursementClaimRow.id.not_in(ordered)
    )
    return list((await session.scalars(stmt.order_by(ReimbursementClaimRow.claim_no).with_for_update())).all())


async def mark_paid(session: AsyncSession, claim_ids: list[uuid.UUID], order_id: int, by: str) -> None:
    """The claims of a paid order: ``paid``, with the order in their steps."""
    rows = (await session.scalars(select(ReimbursementClaimRow).where(ReimbursementClaimRow.id.in_(claim_ids)))).all()
    for claim in rows:
        claim.status = "paid"
        await _step(session, claim, "paid", by, reason=f"person order {order_id}")


async def mark_returned(session: AsyncSession, claim_id: uuid.UUID, order_id: int, reason: str, by: str) -> None:
    """The bank returned the claim's transfer: it waits for a corrected payee, then is paid again."""
    claim = await session.get(ReimbursementClaimRow, claim_id, with_for_update=True)
    assert claim is not None  # order lines reference claims
    claim.status = "transfer_returned"
    await _step(session, claim, "transfer_returned", by, reason=f"person order {order_id}: {reason}")


async def correct_payee(uow: UnitOfWork, actor: audit.Actor, claim_id: str, payee: Payee) -> dict[str, Any]:
    """A new payee for a claim whose transfer came back (or before it is paid): a returned claim
    is approved again and the next person order pays it."""
    session = uow.session
    claim = await _get(session, claim_id, lock=True)
    if claim.status in ("paid", "rejected"):
        raise InvalidState(f"报销申请状态为 {claim.status} the claim is {claim.status}: its payee can no longer change")
    before = dict(claim.payee)
    claim.payee = {k: v for k, v in asdict(payee).items() if v is not None}
    if claim.status == "transfer_returned":
        claim.status = "approved"
    me = f"{actor.kind}:{actor.name}"
    await _step(session, claim, "payee_corrected", me, reason=f"{before.get('account_no')} → {payee.account_no}")
    await audit.record(
        session,
        actor,
        "reimbursement.payee_corrected",
        ("reimbursement_claim", str(claim.id)),
        {"before": before, "after": claim.payee},
    )
    body = await view(session, claim)
    await uow.commit()
    return body
