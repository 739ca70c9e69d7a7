"""Preview, settle and cancel one bill.

The use cases ``preview_bill``, ``settle_bill`` and ``cancel_bill`` own their transaction on a
pooled asyncpg connection (``yibao.db.statements.transaction``) and redeem a member QR code in
it; ``preview``, ``settle`` and ``cancel`` are the same inside a transaction the caller holds.

The order inside ``settle`` is the design: claim the idempotency key (a concurrent retry
waits on it), lock the person-year row, then the paying account (always in that order, so
two bills cannot deadlock), compute the split purely from what is locked, and write the
settlement, its lines, the accumulators, the account debit, the trace codes and the
outbox event in the same transaction. Any refusal raises: the caller's transaction rolls
back and nothing is written.

Preview, settle and cancel take a :class:`~yibao.db.statements.Db`: the use cases run them
straight on an asyncpg connection (the hot path), anything holding an ORM session wraps it in
``SessionDb``. ``cancel`` reverses in one statement what ``settle`` wrote in one (``sql.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from sqlalchemy.exc import IntegrityError

from yibao import clock
from yibao.accounts.rules import refuse_after_death
from yibao.benefit import calculate
from yibao.benefit.inputs import (
    AccountState,
    Accrual,
    BenefitSplit,
    Bill,
    BillLine,
    ChronicState,
    PersonState,
    YearAccumulators,
)
from yibao.bill_settlement import render, sql
from yibao.bill_settlement.commands import SettleBill, bounds_problem
from yibao.bill_settlement.orm import ACCUMULATOR_FIELDS
from yibao.clock import CHINA
from yibao.config import Settings
from yibao.db.statements import Db, transaction
from yibao.db.uow import UnitOfWork
from yibao.errors import (
    AlreadyCancelled,
    ChronicNotRecognised,
    Duplicate,
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    NotEnrolled,
    NotFound,
    PersonDeceased,
    PersonNotFound,
    PrescriptionAlreadyDispensed,
    PrescriptionInvalid,
    ServiceDateInFuture,
    TraceCodeAlreadySettled,
    UnknownItem,
)
from yibao.events.names import SETTLEMENT_CANCELLED, SETTLEMENT_CREATED
from yibao.institutions.agreements import Institution, ensure_active
from yibao.maternity import allowance
from yibao.members import codes
from yibao.money import Fen
from yibao.monitoring.rules import (
    OVERLAP_VISIT_TYPES,
    SUPPLY_VISIT_TYPES,
    StayOverlap,
    Supply,
    apply_in_settlement,
    overlap_warning,
    oversupply_warnings,
    supplied_items,
)
from yibao.people import id_number as ids
from yibao.policy.params import ChronicDisease, PolicyParams
from yibao.reference import ReferenceData
from yibao.uuids import uuid7
from yibao.values import RuleWarning


@dataclass(frozen=True)
class SettleResult:
    body: bytes  # the exact JSON sent the first time; a retry gets the same bytes
    replayed: bool
    #: what the ``alongside`` writes read back (their ``columns``), when the caller gave some
    alongside: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Settled:
    """What ``settle`` knows once the answer is made, for a caller that answers in another
    vocabulary (the national envelope) without reading it again."""

    body: dict[str, Any]  # the answer (on a replay: the first answer, as stored)
    replayed: bool
    scheme: str | None  # the scheme the bill was settled in
    retiree: bool | None
    #: the patient's own account balance after the bill (fen; None without an account): the
    #: locked balance less the debit when it paid, else as committed when the patient was read
    balance: int | None


@dataclass(frozen=True)
class Alongside:
    """Writes of another module committed with the settlement in its one statement, so a caller
    that must record something with the bill (the national envelope: its visit and its reply)
    costs no round trip of its own. The owner module writes the SQL over its own tables:
    ``ctes`` are data-modifying CTEs (``name AS (…), …``, names and ``:params`` prefixed so as
    not to meet the settle's), ``columns`` the select expressions read back into
    ``SettleResult.alongside``. On a replay (no settlement written) they run on their own."""

    ctes: str
    columns: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class _Patient:
    person_id: int
    id_number: str
    state: PersonState
    year: int
    institution: Institution  # agreement fields as read in this transaction
    stay: StayOverlap | None = None
    supplies: Mapping[str, Supply] = field(default_factory=dict)  # running supplies of the bill's items


# ---------------------------------------------------------------- reading the inputs


#: the ``SERVICE_DATE_TOLERANCE_MINUTES`` default, for callers that pass no setting
DEFAULT_TOLERANCE = timedelta(minutes=Settings.model_fields["service_date_tolerance_minutes"].default)


def latest_service_date(tolerance: timedelta) -> date:
    """The latest service date a bill may carry now: today in China, or tomorrow within
    ``tolerance`` of midnight (a HIS clock running a little fast)."""
    return (clock.now() + tolerance).astimezone(CHINA).date()


def _validate(cmd: SettleBill, refs: ReferenceData, tolerance: timedelta) -> None:
    """What the request alone can refuse, before any person is read: amounts beyond the bounds
    (the schema refuses them first; this holds for every other caller), dates after today, unknown
    items, a traceability code twice in the bill."""
    problem = bounds_problem([(ln.line_no, ln.quantity, ln.unit_price) for ln in cmd.lines])
    if problem is not None:
        raise InvalidRequest(problem)
    latest = latest_service_date(tolerance)
    dated = [("service_date", cmd.service_date)] + [(f"line {ln.line_no}", ln.service_date) for ln in cmd.lines]
    for what, day in dated:
        if day > latest:
            raise ServiceDateInFuture(
                f"就诊日期 {day} 晚于今天 {what} {day} is after today ({clock.today()}, China time)"
            )
    seen: set[str] = set()
    for line in cmd.lines:
        if line.item_code not in refs.catalogue:
            raise UnknownItem(
                f"目录项目不存在 line {line.line_no}: unknown item {line.item_code!r}",
                line_no=line.line_no,
            )
        for code in line.trace_codes:
            if code in seen:
                raise InvalidRequest(f"traceability code {code!r} appears twice in the bill")
            seen.add(code)


async def _load_patient(db: Db, cmd: SettleBill, institution: Institution) -> _Patient:
    row = await db.fetchrow(sql.PATIENT, _patient_params(cmd, institution))
    return _patient(row, cmd, institution)


def _patient_params(cmd: SettleBill, institution: Institution) -> dict[str, Any]:
    return {
        "id": ids.parse(cmd.id_number).id_number,
        "d": cmd.service_date,
        "y": cmd.service_date.year,
        "region": institution.region,
        "inst": institution.code,
        "overlap": cmd.visit_type in OVERLAP_VISIT_TYPES,
        "supply_items": _supplied(cmd),
    }


def _supplied(cmd: SettleBill) -> list[str]:
    """The bill's items whose earlier supplies the patient statement reads (超量开药)."""
    return supplied_items(
        cmd.visit_type, cmd.prescription_id is not None, ((ln.item_code, ln.days_supply) for ln in cmd.lines)
    )


def _patient(row: Mapping[str, Any] | None, cmd: SettleBill, institution: Institution) -> _Patient:
    """The patient from a row of ``sql.PATIENT`` (or ``sql.CLAIM_AND_LOCK``), refusing whom the
    fund cannot pay for."""
    year = cmd.service_date.year
    if row is None or row["id"] is None:
        raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(ids.parse(cmd.id_number).id_number)}")
    death_date = row["death_date"]
    if death_date is not None and death_date < cmd.service_date:
        raise PersonDeceased(
            f"参保人已于 {death_date} 死亡 person died on {death_date}, before the service date {cmd.service_date}"
        )
    if row["scheme"] is None:
        raise NotEnrolled(f"未参保 person is not enrolled in any scheme for {year}")
    state = PersonState(
        scheme=row["scheme"],
        birth_date=row["birth_date"],
        gender=row["gender"],
        region=row["region"],
        groups=frozenset(row["groups"] or ()),
        coverage_start=row["coverage_start"],
        retiree=row["retiree"],
        continuous_years=row["continuous_years"],
        zero_claim_credit=Fen(row["zero_claim_credit"]),
        cross_region_filed=bool(row["filed"]),
    )
    fresh = replace(
        institution,
        agreement=row["inst_agreement"] or institution.agreement,
        suspended_until=row["inst_suspended_until"],
    )
    stay = (
        StayOverlap(str(row["stay_id"]), row["stay_institution"], row["stay_admitted_on"], row["stay_discharged_on"])
        if row["stay_id"] is not None
        else None
    )
    supplies = {
        s["item_code"]: Supply(
            s["item_code"], date.fromisoformat(s["starts_on"]), date.fromisoformat(s["ends_on"]), s["settlement_id"]
        )
        for s in (orjson.loads(row["supplies"]) if row["supplies"] else ())
    }
    return _Patient(row["id"], row["id_number"], state, year, fresh, stay, supplies)


async def _account_payer(db: Db, cmd: SettleBill, patient: _Patient, policy: PolicyParams) -> int | None:
    """Whose personal account pays: the patient's own, or a bound relative's (family sharing)."""
    if not cmd.use_personal_account:
        return None
    if not cmd.account_payer_id_number:
        return patient.person_id
    payer_id = ids.parse(cmd.account_payer_id_number).id_number
    if payer_id == patient.id_number:
        return patient.person_id
    row = await db.fetchrow(sql.PAYER, {"patient": patient.person_id, "payer": payer_id})
    if row is None:
        raise PersonNotFound(f"账户支付人不存在 no person with ID {ids.mask(payer_id)}")
    allowed = policy.employee.family_sharing_relations
    if row["relation"] is None or row["relation"] not in allowed:
        raise Forbidden("家庭共济未绑定 the account holder has not bound this person for family sharing")
    refuse_after_death(row["death_date"], cmd.service_date, "bill")  # the holder's account after death
    return int(row["id"])


async def _account_balance(db: Db, payer_id: int | None, *, lock: bool) -> int | None:
    if payer_id is None:
        return None
    balance: int | None = await db.fetchval(sql.LOCK_ACCOUNT if lock else sql.ACCOUNT_BALANCE, {"person_id": payer_id})
    return balance


async def _accumulators(db: Db, person_id: int, year: int, *, lock: bool) -> YearAccumulators:
    """The person-year accumulators; ``lock``: create the row on the first bill of the year,
    lock and read it in one round trip."""
    params = {"person_id": person_id, "year": year}
    row = await db.fetchrow(sql.LOCK_PERSON_YEAR if lock else sql.ACCUMULATORS, params)
    return YearAccumulators() if row is None else _year_accumulators(row)


def _year_accumulators(row: Mapping[str, Any]) -> YearAccumulators:
    return YearAccumulators(**{f: row[f] for f in ACCUMULATOR_FIELDS})


def _bill(cmd: SettleBill, institution: Institution, refs: ReferenceData) -> Bill:
    return Bill(
        visit_type=cmd.visit_type,  # type: ignore[arg-type]
        service_date=cmd.service_date,
        institution_level=institution.level,
        institution_region=institution.region,
        admitted_on=cmd.admitted_on,
        discharged_on=cmd.discharged_on,
        third_party_liable=cmd.third_party_liable,
        delivery_type=cmd.delivery_type,
        babies=cmd.babies or 1,
        lines=tuple(
            BillLine(
                line_no=ln.line_no,
                item=refs.catalogue[ln.item_code],
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                service_date=ln.service_date,
                days_supply=ln.days_supply,
                trace_codes=ln.trace_codes,
            )
            for ln in cmd.lines
        ),
    )


@dataclass(frozen=True)
class _Computed:
    patient: _Patient
    payer_id: int | None  # who pays from an account (the patient, or a relative's account)
    split: BenefitSplit
    balance: int | None  # that account's balance before the bill
    rx_days: Mapping[str, int | None]  # a prescription's days of supply per item


async def _compute(
    db: Db,
    refs: ReferenceData,
    institution: Institution,
    cmd: SettleBill,
    *,
    locked: Mapping[str, Any] | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    refuse: bool = True,
) -> _Computed:
    """The split from locked (settle: ``locked`` is the row of ``sql.CLAIM_AND_LOCK``) or current
    (preview) figures, who pays from an account and its balance before the bill, and, for a
    prescription-backed bill, the prescription's days of supply per item (``item_supplies``)."""
    lock = locked is not None
    ensure_active(institution, clock.today())
    _validate(cmd, refs, tolerance)
    patient = _patient(locked, cmd, institution) if lock else await _load_patient(db, cmd, institution)
    ensure_active(patient.institution, clock.today())  # takes effect at once, whatever the cache says
    policy = refs.policy(patient.state.region, patient.year)
    payer_id = await _account_payer(db, cmd, patient, policy)
    accumulators = (
        _year_accumulators(locked)
        if locked is not None
        else await _accumulators(db, patient.person_id, patient.year, lock=False)
    )
    balance = await _account_balance(db, payer_id, lock=lock)
    account = (
        AccountState(holder_is_patient=payer_id == patient.person_id, balance=Fen(balance))
        if balance is not None
        else None
    )
    state = replace(patient.state, accumulators=accumulators, account=account)
    bill = _bill(cmd, institution, refs)
    downgraded: RuleWarning | None = None
    if cmd.visit_type == "chronic_outpatient":
        bill, chronic_state, downgraded = await _recognised(db, cmd, patient, policy, bill)
        state = replace(state, chronic=chronic_state)
    rx_days: Mapping[str, int | None] = {}
    if cmd.prescription_id is not None:
        rx_days, rx_diagnoses = await _check_prescription(db, cmd, patient)
        bill = replace(bill, prescribed=True)
        dual = await _dual_channel(db, cmd, patient, policy, rx_diagnoses)
        if dual is not None:  # 双通道: the chronic tier of the recognised disease
            bill = replace(bill, chronic_disease=dual.disease)
            state = replace(state, chronic=dual)
    split = calculate(bill, state, policy)
    overlap = overlap_warning(cmd.visit_type, cmd.service_date, patient.stay)
    oversupply = oversupply_warnings(
        cmd.service_date, _supplied(cmd), patient.supplies, refs.rules.params("oversupply")
    )
    extra = (*(w for w in (downgraded, overlap) if w is not None), *oversupply)
    warnings = apply_in_settlement(refs.rules, institution.region, split.warnings, extra, refuse=refuse)
    split = replace(split, warnings=warnings)  # block-mode rules raise RULE_BLOCKED here
    return _Computed(patient, payer_id if account else None, split, balance, rx_days)


async def _recognised(
    db: Db, cmd: SettleBill, patient: _Patient, policy: PolicyParams, bill: Bill
) -> tuple[Bill, ChronicState | None, RuleWarning | None]:
    """The chronic tier's gate (DOMAIN §9): the bill names its disease (``chronic_disease``, or
    the policy's first disease covering one of its diagnoses); the bill's diagnoses, if any, must
    fall under the disease's ICD-10 prefixes; the person needs an approved recognition of it
    valid on the service date, at the designated institution where the disease requires one.
    Without it the policy's ``chronic_unrecognised`` decides: refuse (``CHRONIC_NOT_RECOGNISED``)
    or settle as an ordinary outpatient bill with a warning."""
    chronic = policy.chronic
    code = cmd.chronic_disease
    disease = chronic.diseases.get(code) if code else chronic.for_diagnoses(cmd.diagnoses)
    problem: str | None = None
    if disease is None:
        problem = (
            f"病种 {code} 不在政策目录中 chronic disease {code!r} is not in policy {policy.version}"
            if code
            else "门慢门特单据须注明病种 a chronic_outpatient bill must name its chronic_disease (or its diagnosis)"
        )
    elif cmd.diagnoses and not any(disease.covers(d) for d in cmd.diagnoses):
        problem = (
            f"诊断不属于病种 {disease.code} none of the bill's diagnoses {list(cmd.diagnoses)} falls under "
            f"{disease.code} {disease.name} (ICD-10 {', '.join(disease.icd10_prefixes)})"
        )
    else:
        state, problem = await _recognition(db, cmd, patient, disease)
        if state is not None:
            return replace(bill, chronic_disease=disease.code), state, None
    if chronic.unrecognised == "outpatient":
        warning = RuleWarning(
            rule="chronic_not_recognised",
            message=f"{problem}; settled as an ordinary outpatient bill (policy chronic_unrecognised)",
        )
        return replace(bill, visit_type="outpatient", chronic_disease=None), None, warning
    raise ChronicNotRecognised(problem)


async def _recognition(
    db: Db, cmd: SettleBill, patient: _Patient, disease: ChronicDisease
) -> tuple[ChronicState | None, str]:
    """The person's approved recognition of ``disease`` valid on the service date, at this
    institution where the disease requires a designated one; else ``None`` and why not."""
    row = await db.fetchrow(
        sql.CHRONIC_RECOGNITION,
        {
            "person_id": patient.person_id,
            "year": patient.year,
            "disease": disease.code,
            "d": cmd.service_date,
            "inst": patient.institution.code,
        },
    )
    if row is None:
        return None, f"未认定病种 {disease.code} {disease.name}: no approved recognition valid on {cmd.service_date}"
    if disease.designated_institution_required and row["designated_institution"] != patient.institution.code:
        return None, (
            f"病种 {disease.code} 须在定点机构 {row['designated_institution']} 就医 the recognition of "
            f"{disease.code} names designated institution {row['designated_institution']}"
        )
    return ChronicState(disease.code, row["id"], Fen(row["disease_paid"])), ""


async def _dual_channel(
    db: Db, cmd: SettleBill, patient: _Patient, policy: PolicyParams, rx_diagnoses: tuple[str, ...]
) -> ChronicState | None:
    """双通道 (DOMAIN §9): the recognition a prescription-backed pharmacy bill is paid under, the
    chronic tier's gate applied to the prescription's diagnoses: the first disease (in policy
    order) covering one of them that the person holds a recognition of, valid on the service
    date and, where the disease requires a designated institution, naming this pharmacy. None:
    the bill stays what a prescription-backed pharmacy bill is without it."""
    for disease in policy.chronic.diseases.values():
        if any(disease.covers(d) for d in rx_diagnoses):
            state, _ = await _recognition(db, cmd, patient, disease)
            if state is not None:
                return state
    return None


async def _check_prescription(
    db: Db, cmd: SettleBill, patient: _Patient
) -> tuple[dict[str, int | None], tuple[str, ...]]:
    """A pharmacy bill on an e-prescription (DOMAIN §9): the person's, of this pooling region,
    issued and not cancelled, valid on the service date, not dispensed yet, and every line an
    item of it within its quantity. Returns the prescribed days of supply per item (超量开药)
    and the prescription's diagnoses (双通道)."""
    rx = cmd.prescription_id
    row = await db.fetchrow(sql.PRESCRIPTION, {"rx_id": rx})
    problem: str | None = None
    if row is None or row["person_id"] != patient.person_id:
        problem = f"处方 {rx} 不存在 no prescription {rx!r} of this person"
    elif row["region"] != patient.institution.region:
        problem = (
            f"处方 {rx} 非本统筹区 the prescription is of region {row['region']}, not {patient.institution.region}"
        )
    elif row["status"] != "issued":
        problem = f"处方 {rx} 已{row['status']} the prescription is {row['status']}"
    elif not row["issued_on"] <= cmd.service_date <= row["valid_until"]:
        problem = f"处方 {rx} 已过期 the prescription is valid {row['issued_on']} to {row['valid_until']}"
    if problem is not None:
        raise PrescriptionInvalid(problem)
    assert row is not None
    if row["dispensed_by"] is not None:
        raise PrescriptionAlreadyDispensed(f"处方 {rx} 已调剂 prescription {rx} was already dispensed")
    items = orjson.loads(row["items_json"])
    prescribed = {i["item_code"]: Decimal(i["quantity"]) for i in items}
    billed: dict[str, Decimal] = {}
    for ln in cmd.lines:
        billed[ln.item_code] = billed.get(ln.item_code, Decimal(0)) + ln.quantity
    for code, quantity in billed.items():
        if code not in prescribed:
            raise PrescriptionInvalid(f"处方无此药品 {code} is not on prescription {rx}")
        if quantity > prescribed[code]:
            raise PrescriptionInvalid(f"超出处方数量 {code}: {quantity} billed, {prescribed[code]} prescribed on {rx}")
    return {i["item_code"]: i.get("days_supply") for i in items}, tuple(row["diagnoses"] or ())


def _body(
    settlement_id: str,
    status: str,
    institution: Institution,
    patient_id_number: str,
    cmd: SettleBill,
    split: BenefitSplit,
    settled_at: datetime | None,
    totals: dict[str, int],
) -> dict[str, Any]:
    return render.body(
        settlement_id=settlement_id,
        status=status,
        policy_version=split.policy_version,
        institution_code=institution.code,
        id_number=patient_id_number,
        visit_no=cmd.visit_no,
        visit_type=cmd.visit_type,
        service_date=cmd.service_date.isoformat(),
        settled_at=settled_at,
        cancelled_at=None,
        admission_order=split.admission_order,
        chronic=render.chronic(split.chronic_disease, split.chronic_disease_name, split.chronic_recognition_id),
        totals=totals,
        lines=render.split_lines(split, {ln.line_no: ln.item_code for ln in cmd.lines}),
        warnings=[{"rule": w.rule, "message": w.message} for w in split.warnings],
        explanation=[{"part": e.part, "rule": e.rule, "detail": e.detail} for e in split.explanation],
    )


# ---------------------------------------------------------------- commands


async def preview(
    db: Db,
    refs: ReferenceData,
    institution: Institution,
    cmd: SettleBill,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """The same split as ``settle`` would give now, with nothing written or consumed."""
    done = await _compute(db, refs, institution, cmd, tolerance=tolerance)
    patient, split = done.patient, done.split
    codes = [c for ln in cmd.lines for c in ln.trace_codes]
    if codes:
        taken = await db.fetchval(sql.TRACE_CODE_TAKEN, {"codes": codes})
        if taken is not None:
            raise TraceCodeAlreadySettled(f"追溯码已结算 traceability code {taken} was already settled")
    return _body("", "preview", institution, patient.id_number, cmd, split, None, render.split_totals(split))


async def review(
    db: Db,
    refs: ReferenceData,
    institution: Institution,
    cmd: SettleBill,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> tuple[dict[str, Any], tuple[RuleWarning, ...]]:
    """The in-settlement monitoring rules on a bill as ``settle`` would apply them now (the same
    ``_compute``), nothing written or consumed: the preview body and the rules' hits, a
    ``block`` rule's hit reported instead of refusing the bill. What refuses a bill outright
    (unknown person or item, deceased, not enrolled …) still refuses."""
    done = await _compute(db, refs, institution, cmd, tolerance=tolerance, refuse=False)
    patient, split = done.patient, done.split
    body = _body("", "preview", institution, patient.id_number, cmd, split, None, render.split_totals(split))
    return body, split.warnings


async def _claim_and_lock(
    db: Db, institution: Institution, key: str, cmd: SettleBill
) -> tuple[Mapping[str, Any], bytes | None]:
    """Claim the key, read the patient and lock their person-year row (one round trip); or, for
    a retry, return the stored first answer. A concurrent twin waits here for the first."""
    fingerprint = cmd.fingerprint()
    params = {**_patient_params(cmd, institution), "key": key, "request_hash": fingerprint}
    row = await db.fetchrow(sql.CLAIM_AND_LOCK, params)
    assert row is not None  # the statement always returns one row
    if row["claimed"]:
        return row, None
    first = await db.fetchrow(sql.FIRST_ANSWER, {"institution_code": institution.code, "key": key})
    assert first is not None  # the key exists: claiming it conflicted
    if first["request_hash"] != fingerprint:
        raise IdempotencyConflict(
            "幂等键已用于不同的结算请求 this Idempotency-Key was used for a different request body"
        )
    return row, str(first["response"]).encode()


async def settle(
    db: Db,
    refs: ReferenceData,
    institution: Institution,
    cmd: SettleBill,
    idempotency_key: str,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    source: str = "realtime",
    alongside: Callable[[Settled], Alongside] | None = None,
) -> SettleResult:
    """Settle inside the caller's transaction, which must commit for the bill to count (and
    roll back on any exception: a refusal raises after some statements ran). ``source``:
    ``realtime`` (a bill at the counter) or ``manual`` (a reimbursement claim, ``manual.py``).
    ``alongside``: given what was settled, the caller's own writes to run in the settlement's
    statement (:class:`Alongside`); it decides nothing about the bill."""
    locked, first = await _claim_and_lock(db, institution, idempotency_key, cmd)
    if first is not None:
        if alongside is None:
            return SettleResult(first, replayed=True)
        own = locked["own_balance"]
        also = alongside(
            Settled(orjson.loads(first), True, locked["scheme"], locked["retiree"], None if own is None else int(own))
        )
        written = await db.fetchrow(sql.alongside_alone(also.ctes, also.columns), also.params)
        return SettleResult(first, replayed=True, alongside=written)

    done = await _compute(db, refs, institution, cmd, locked=locked, tolerance=tolerance)
    patient, payer_id, split, balance, rx_days = done.patient, done.payer_id, done.split, done.balance, done.rx_days
    settlement_id = uuid7()
    settled_at = clock.now()
    totals = render.split_totals(split)
    body = _body(str(settlement_id), "settled", institution, patient.id_number, cmd, split, settled_at, totals)
    raw = orjson.dumps(body)
    event_id, event = UnitOfWork.envelope(
        SETTLEMENT_CREATED, _event(settlement_id, institution, patient.person_id, cmd, totals, settled_at)
    )
    params = {
        **_settlement_params(settlement_id, institution, patient, payer_id, idempotency_key, cmd, split, settled_at),
        **totals,
        "warnings": orjson.dumps(body["warnings"]).decode(),
        "explanation": orjson.dumps(body["explanation"]).decode(),
        "lines": _lines_json(cmd, split),
        "supplies": _supplies_json(cmd, rx_days),
        "trace_codes": [c for ln in cmd.lines for c in ln.trace_codes],
        **_accrual_params(split.accrual),
        "account_debit": int(split.totals.personal_account) if payer_id is not None else 0,
        "event_id": event_id,
        "event_topic": SETTLEMENT_CREATED,
        "event": orjson.dumps(event).decode(),
        "response": raw.decode(),
        "source": source,
    }
    extra: Mapping[str, Any] | None = None
    try:
        if alongside is None:
            inserted = await db.fetchval(sql.RECORD_SETTLEMENT, params)
        else:
            own = locked["own_balance"]
            after = (
                balance - params["account_debit"]
                if payer_id == patient.person_id and balance is not None
                else (None if own is None else int(own))
            )
            also = alongside(Settled(body, False, patient.state.scheme, patient.state.retiree, after))
            if clash := params.keys() & also.params.keys():
                raise ValueError(f"alongside parameters {sorted(clash)} are the settle's own")
            extra = await db.fetchrow(sql.record_settlement_with(also.ctes, also.columns), {**params, **also.params})
            assert extra is not None  # the statement always returns one row
            inserted = extra["inserted_codes"]
    except (IntegrityError, asyncpg.UniqueViolationError) as exc:
        constraint = str(getattr(exc, "constraint_name", None) or getattr(exc, "orig", exc))
        if _DISPENSED in constraint:  # a concurrent bill of another person's key on the same prescription
            raise PrescriptionAlreadyDispensed(
                f"处方 {cmd.prescription_id} 已调剂 prescription {cmd.prescription_id} was already dispensed"
            ) from None
        if _OPEN_VISIT in constraint:
            raise Duplicate(
                f"就诊 {cmd.visit_no} 已结算 visit {cmd.visit_no} already has a settlement; "
                "cancel it first or retry with the original Idempotency-Key"
            ) from None
        raise
    if len(inserted) != len(params["trace_codes"]):  # the caller's transaction rolls back
        taken = sorted(set(params["trace_codes"]) - set(inserted))
        raise TraceCodeAlreadySettled(
            f"追溯码已结算 traceability code {', '.join(taken)} was already settled", codes=taken
        )
    if cmd.visit_type == "maternity_inpatient" and patient.state.scheme == "employee":
        # DOMAIN §10: the maternity allowance, without application, in this transaction (created once)
        policy = refs.policy(patient.state.region, patient.year)
        await allowance.create_on_delivery(
            db,
            policy.maternity,
            policy.version,
            settlement_id=settlement_id,
            institution_code=institution.code,
            person_id=patient.person_id,
            delivery=cmd.admitted_on or cmd.service_date,
            delivery_type=cmd.delivery_type or "vaginal",
            babies=cmd.babies or 1,
            at=settled_at,
        )
    return SettleResult(raw, replayed=False, alongside=extra)


_OPEN_VISIT = "uq_settlements_open_visit"  # one open settlement per (institution, visit)
_DISPENSED = "prescription_dispensings_pkey"  # an e-prescription is dispensed once


def _settlement_params(
    settlement_id: uuid.UUID,
    institution: Institution,
    patient: _Patient,
    payer_id: int | None,
    idempotency_key: str,
    cmd: SettleBill,
    split: BenefitSplit,
    settled_at: datetime,
) -> dict[str, Any]:
    """The ``settlements`` row (less totals, warnings and explanation) as statement parameters."""
    return {
        "id": settlement_id,
        "institution_code": institution.code,
        "person_id": patient.person_id,
        "id_number": patient.id_number,
        "account_payer_person_id": payer_id,
        "idempotency_key": idempotency_key,
        "visit_no": cmd.visit_no,
        "visit_type": cmd.visit_type,
        "scheme": patient.state.scheme,
        "year": patient.year,
        "admitted_on": cmd.admitted_on,
        "discharged_on": cmd.discharged_on,
        "service_date": cmd.service_date,
        "diagnoses": list(cmd.diagnoses),
        "procedures": list(cmd.procedures),
        "status": "settled",
        "settled_at": settled_at,
        "policy_version": split.policy_version,
        "admission_order": split.admission_order,
        "funds_off": split.funds_off,
        "cross_region": split.cross_region,
        "third_party_liable": cmd.third_party_liable,
        "accrual": orjson.dumps({f: int(getattr(split.accrual, f)) for f in ACCUMULATOR_FIELDS}).decode(),
        "chronic_disease": split.chronic_disease,
        "chronic_disease_paid": int(split.chronic_disease_paid),
        "chronic_disease_name": split.chronic_disease_name,
        "chronic_recognition_id": uuid.UUID(split.chronic_recognition_id) if split.chronic_recognition_id else None,
        "prescription_id": cmd.prescription_id,
        "delivery_type": cmd.delivery_type,
        "babies": (cmd.babies or 1) if cmd.visit_type == "maternity_inpatient" else None,
    }


def _accrual_params(accrual: Accrual) -> dict[str, Any]:
    """``d_<field>``: what this bill adds to each accumulator; ``accrues``: whether any moves."""
    deltas = {f"d_{f}": int(getattr(accrual, f)) for f in ACCUMULATOR_FIELDS}
    return {**deltas, "accrues": any(deltas.values())}


def _lines_json(cmd: SettleBill, split: BenefitSplit) -> str:
    """The ``settlement_lines`` rows as one JSON array (read by ``jsonb_to_recordset``)."""
    return orjson.dumps(
        [
            {
                "line_no": ln.line_no,
                "item_code": ln.item_code,
                "quantity": str(ln.quantity),
                "unit_price": int(ln.unit_price),
                "service_date": ln.service_date,
                "days_supply": ln.days_supply,
                "trace_codes": ln.trace_codes,
                "amount": int(sp.amount),
                "full_self_pay": int(sp.full_self_pay),
                "over_cap_self_pay": int(sp.over_cap_self_pay),
                "pre_self_pay": int(sp.pre_self_pay),
                "policy_range": int(sp.policy_range),
                "reasons": list(sp.reasons),
            }
            for ln, sp in zip(cmd.lines, split.lines, strict=True)
        ]
    ).decode()


def _supplies_json(cmd: SettleBill, rx_days: Mapping[str, int | None]) -> str:
    """The ``item_supplies`` rows of the bill (超量开药's facts) as one JSON array: each line that
    is a take-home supply, with its days of supply or, on a prescription-backed bill, the
    prescription's; computed here so the statement's plan does not depend on the prescription."""
    if cmd.visit_type not in SUPPLY_VISIT_TYPES:
        return "[]"
    rows = []
    for ln in cmd.lines:
        days = ln.days_supply if ln.days_supply is not None else rx_days.get(ln.item_code)
        if days:
            ends_on = ln.service_date + timedelta(days=days)
            rows.append(
                {"line_no": ln.line_no, "item_code": ln.item_code, "starts_on": ln.service_date, "ends_on": ends_on}
            )
    return orjson.dumps(rows).decode()


def _event(
    settlement_id: uuid.UUID,
    institution: Institution,
    person_id: int,
    cmd: SettleBill,
    totals: dict[str, int],
    at: datetime,
) -> dict[str, Any]:
    return {
        "settlement_id": str(settlement_id),
        "institution_code": institution.code,
        "person_id": person_id,
        "visit_type": cmd.visit_type,
        "service_date": cmd.service_date.isoformat(),
        "at": at.isoformat(),
        "third_party_liable": cmd.third_party_liable,
        "totals_fen": totals,
    }


async def cancel(db: Db, institution: Institution, settlement_id: str) -> dict[str, Any]:
    """Reverse the bill and every accumulator it moved, inside the caller's transaction; booked
    on the day of the cancel. Another institution's bill is ``NOT_FOUND``, a second cancel
    ``ALREADY_CANCELLED``. Lock order as in settle: person-year first, then the account."""
    sid = _uuid(settlement_id)
    row = await db.fetchrow(sql.LOCK_FOR_CANCEL, {"id": sid, "institution_code": institution.code})
    if row is None:
        raise NotFound(f"结算 {settlement_id} 不存在 settlement not found")
    if row["status"] == "cancelled":
        raise AlreadyCancelled(f"结算 {settlement_id} 已于 {row['cancelled_at']} 撤销 already cancelled")
    payer_id = row["account_payer_person_id"]
    if payer_id is not None and row["personal_account"]:
        await _account_balance(db, payer_id, lock=True)
    cancelled_at = clock.now()
    totals = {k: row[k] for k in render.TOTAL_FIELDS}
    event_id, event = UnitOfWork.envelope(
        SETTLEMENT_CANCELLED,
        {
            "settlement_id": str(row["id"]),
            "institution_code": row["institution_code"],
            "person_id": row["person_id"],
            "visit_type": row["visit_type"],
            "service_date": row["service_date"].isoformat(),
            "at": cancelled_at.isoformat(),
            "totals_fen": totals,
        },
    )
    accrual = orjson.loads(row["accrual"])
    deltas = {f"d_{f}": -int(accrual.get(f, 0)) for f in ACCUMULATOR_FIELDS}
    params = {
        "id": sid,
        "cancelled_at": cancelled_at,
        "person_id": row["person_id"],
        "year": row["year"],
        **deltas,
        "accrues": any(deltas.values()),
        "event_id": event_id,
        "event_topic": SETTLEMENT_CANCELLED,
        "event": orjson.dumps(event).decode(),
    }
    cancelled = await db.fetchval(sql.CANCEL_SETTLEMENT, params)
    assert cancelled == 1  # the row is locked and was settled; anything else rolls the caller back
    if row["visit_type"] == "maternity_inpatient":
        await allowance.void_on_cancel(db, sid, cancelled_at)  # an unpaid allowance goes with its delivery
    stored = {
        **row,
        "status": "cancelled",
        "cancelled_at": cancelled_at,
        "warnings": orjson.loads(row["warnings"]),
        "explanation": orjson.loads(row["explanation"]),
    }
    return render.from_record(stored, orjson.loads(row["lines"] or "[]"))


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"结算 {value} 不存在 settlement not found") from None


# ---------------------------------------------------------------- use cases (own their transaction)

_NO_KEY = "缺少 Idempotency-Key 请求头 the Idempotency-Key header is required"


async def preview_bill(
    pool: asyncpg.Pool,
    refs: ReferenceData,
    institution: Institution,
    cmd: SettleBill,
    *,
    member_code: str | None = None,
    code_secret: str = "",
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """``preview`` in a read-only transaction; a ``member_code`` names the patient (checked, not
    consumed) instead of ``cmd.id_number``. ``tolerance``: how far ahead of now a service date may be."""
    async with transaction(pool, readonly=True) as db:
        if member_code is not None:
            cmd = replace(cmd, id_number=await codes.peek(db, member_code, code_secret))
        return await preview(db, refs, institution, cmd, tolerance=tolerance)


async def review_bill(
    pool: asyncpg.Pool,
    refs: ReferenceData,
    institution: Institution,
    cmd: SettleBill,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> tuple[dict[str, Any], tuple[RuleWarning, ...]]:
    """``review`` in a read-only transaction."""
    async with transaction(pool, readonly=True) as db:
        return await review(db, refs, institution, cmd, tolerance=tolerance)


async def settle_bill(
    pool: asyncpg.Pool,
    refs: ReferenceData,
    institution: Institution,
    cmd: SettleBill,
    idempotency_key: str | None,
    *,
    member_code: str | None = None,
    code_secret: str = "",
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> SettleResult:
    """``settle`` in its own transaction on the hot path's pool. A ``member_code`` names the
    patient instead of ``cmd.id_number``; its use is written in the settlement's transaction,
    so a code is used exactly when its bill committed (a retry of the request still replays).
    ``tolerance``: how far ahead of now a service date may be."""
    if not idempotency_key:
        raise InvalidRequest(_NO_KEY)
    async with transaction(pool) as db:  # the hot path: asyncpg, no ORM session
        if member_code is not None:
            id_number = await codes.redeem(db, member_code, code_secret, institution.code, idempotency_key)
            cmd = replace(cmd, id_number=id_number)
        return await settle(db, refs, institution, cmd, idempotency_key, tolerance=tolerance)


async def cancel_bill(pool: asyncpg.Pool, institution: Institution, settlement_id: str) -> dict[str, Any]:
    """``cancel`` in its own transaction on the settle path's pool."""
    async with transaction(pool) as db:
        return await cancel(db, institution, settlement_id)
