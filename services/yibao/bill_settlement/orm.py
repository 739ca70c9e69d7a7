from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.benefit.inputs import Accrual, YearAccumulators
from yibao.db.base import Base, FenColumn

#: the person-year accumulators, named once by the benefit core (``YearAccumulators``); a
#: settlement's ``Accrual`` moves exactly these, and ``person_years`` has a column for each
ACCUMULATOR_FIELDS = tuple(f.name for f in fields(YearAccumulators))


class PersonYearRow(Base):
    """Running per person-year accumulators; the row every settlement of the person locks."""

    __tablename__ = "person_years"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    inpatient_admissions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    basic_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    chronic_deductible_used: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    outpatient_deductible_used: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    outpatient_pool_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    policy_range_self_pay: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    critical_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    assistance_base: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    assistance_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    fund_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    personal_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    maternity_prenatal_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


if tuple(f.name for f in fields(Accrual)) != ACCUMULATOR_FIELDS or not set(ACCUMULATOR_FIELDS) <= set(
    PersonYearRow.__table__.columns.keys()
):  # the statements of ``sql.py`` are built from these names: drift must fail at import, not mid-bill
    raise TypeError("Accrual, YearAccumulators and person_years must name the same accumulators")


class SettlementRow(Base):
    __tablename__ = "settlements"
    __table_args__ = (
        Index("ix_settlements_institution_settled_at", "institution_code", "settled_at", "id"),
        Index("ix_settlements_person_service_date", "person_id", "service_date"),
        # a person's settled inpatient stays: the in-settlement overlap check runs on every
        # outpatient/pharmacy bill; without this the planner AND-ed the big partial unique index
        # into it (5.7 ms → 0.05 ms per bill, measured by bench/rules_cost.py)
        Index(
            "ix_settlements_inpatient_stays",
            "person_id",
            "discharged_on",
            postgresql_where=text("visit_type = 'inpatient' AND status = 'settled'"),
        ),
        # one open settlement per visit: a HIS retry under a new key cannot charge twice
        Index(
            "uq_settlements_open_visit",
            "institution_code",
            "visit_no",
            unique=True,
            postgresql_where=text("status = 'settled'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    id_number: Mapped[str] = mapped_column(String(18))
    account_payer_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    visit_no: Mapped[str] = mapped_column(String(64))
    visit_type: Mapped[str] = mapped_column(String(20))
    scheme: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(SmallInteger)
    admitted_on: Mapped[date | None] = mapped_column(Date)
    discharged_on: Mapped[date | None] = mapped_column(Date)
    service_date: Mapped[date] = mapped_column(Date)
    diagnoses: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    procedures: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    status: Mapped[str] = mapped_column(String(10))  # settled / cancelled
    settled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    policy_version: Mapped[str] = mapped_column(String(60))
    admission_order: Mapped[int | None] = mapped_column(SmallInteger)
    funds_off: Mapped[bool] = mapped_column(Boolean)
    cross_region: Mapped[bool] = mapped_column(Boolean)
    third_party_liable: Mapped[bool] = mapped_column(Boolean)
    total: Mapped[int] = mapped_column(FenColumn)
    full_self_pay: Mapped[int] = mapped_column(FenColumn)
    over_cap_self_pay: Mapped[int] = mapped_column(FenColumn)
    pre_self_pay: Mapped[int] = mapped_column(FenColumn)
    policy_range: Mapped[int] = mapped_column(FenColumn)
    deductible: Mapped[int] = mapped_column(FenColumn)
    basic_fund: Mapped[int] = mapped_column(FenColumn)
    critical_illness: Mapped[int] = mapped_column(FenColumn)
    medical_assistance: Mapped[int] = mapped_column(FenColumn)
    fund_total: Mapped[int] = mapped_column(FenColumn)
    personal_part: Mapped[int] = mapped_column(FenColumn)
    personal_account: Mapped[int] = mapped_column(FenColumn)
    cash: Mapped[int] = mapped_column(FenColumn)
    accrual: Mapped[dict[str, int]] = mapped_column(JSONB)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    explanation: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    # realtime (a bill settled at the counter) or manual (a reimbursement claim, yibao.claims)
    source: Mapped[str] = mapped_column(String(10), server_default="realtime")
    # chronic_outpatient and 双通道 pharmacy bills: the recognised disease (policy code) and the basic
    # fund paid under it, which its per-disease annual limit (``chronic_disease_years``) accrued;
    # cancel subtracts it
    chronic_disease: Mapped[str | None] = mapped_column(String(20))
    chronic_disease_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    # the disease's name (as the policy version named it) and the recognition the bill was paid
    # under: chronic_outpatient bills and 双通道 pharmacy bills (the answer names them)
    chronic_disease_name: Mapped[str | None] = mapped_column(String(60))
    chronic_recognition_id: Mapped[uuid.UUID | None] = mapped_column()
    # pharmacy: the e-prescription this bill dispensed (``prescription_dispensings``; cancel frees it)
    prescription_id: Mapped[str | None] = mapped_column(String(40))
    # employees' maternity bills: what the maternity fund paid (in fund_total; its own ledger fund)
    maternity_fund: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    # maternity_inpatient: vaginal / caesarean, and the babies delivered (the allowance reads them)
    delivery_type: Mapped[str | None] = mapped_column(String(10))
    babies: Mapped[int | None] = mapped_column(SmallInteger)


#: The bills an institution answers for (its lists, its national 3201/3202 totals, the monthly
#: reconcile, its DIP cases): those it settled at its counter. A counter claim (``source`` manual) is
#: stored under the institution where the care was given, but the bureau paid it to the person.
BILLED_BY_INSTITUTION = SettlementRow.source == "realtime"
#: the same rule for raw SQL over ``settlements`` (unaliased)
BILLED_BY_INSTITUTION_SQL = "source = 'realtime'"


class ChronicDiseaseYearRow(Base):
    """The basic fund paid this year on one recognised disease (its annual limit, DOMAIN §9).

    Written only by the settle and cancel statements, always while the person-year row is
    locked, so the person-year lock serialises it too."""

    __tablename__ = "chronic_disease_years"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    disease: Mapped[str] = mapped_column(String(20), primary_key=True)
    basic_paid: Mapped[int] = mapped_column(FenColumn, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PrescriptionDispensingRow(Base):
    """An e-prescription dispensed by a pharmacy bill: its primary key makes "dispensed once" a
    constraint; the cancel of the bill deletes the row (the prescription may be dispensed again)."""

    __tablename__ = "prescription_dispensings"

    rx_id: Mapped[str] = mapped_column(ForeignKey("prescriptions.rx_id"), primary_key=True)
    settlement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"))
    institution_code: Mapped[str] = mapped_column(String(20))
    dispensed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ItemSupplyRow(Base):
    """A supply of one item dispensed to one person: a settled line of an outpatient, chronic or
    pharmacy bill with days of supply (its own, or its e-prescription's), covering ``starts_on`` up
    to the day before ``ends_on``. The 超量开药 rule (``monitoring.rules.oversupply_warnings``) reads
    the person's running supplies of a new bill's items in the patient statement. Written by the
    settle statement, deleted by the cancel (a cancelled bill supplied nothing)."""

    __tablename__ = "item_supplies"
    __table_args__ = (Index("ix_item_supplies_person_item_ends_on", "person_id", "item_code", "ends_on"),)

    settlement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(BigInteger)  # the settlement's (no foreign key: one check less per line)
    item_code: Mapped[str] = mapped_column(String(40))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # the first day without supply: starts_on + days of supply


class SettlementLineRow(Base):
    __tablename__ = "settlement_lines"

    settlement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_code: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    unit_price: Mapped[int] = mapped_column(FenColumn)
    service_date: Mapped[date] = mapped_column(Date)
    days_supply: Mapped[int | None] = mapped_column(Integer)
    trace_codes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    amount: Mapped[int] = mapped_column(FenColumn)
    full_self_pay: Mapped[int] = mapped_column(FenColumn)
    over_cap_self_pay: Mapped[int] = mapped_column(FenColumn)
    pre_self_pay: Mapped[int] = mapped_column(FenColumn)
    policy_range: Mapped[int] = mapped_column(FenColumn)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(40)))


class TraceCodeRow(Base):
    """A drug box's traceability code: its primary key makes "settled once, ever" a constraint."""

    __tablename__ = "trace_codes"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    settlement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"))
    institution_code: Mapped[str] = mapped_column(String(20))
    settled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdempotencyKeyRow(Base):
    """The first answer to an ``Idempotency-Key``; a retry with the same body gets it back."""

    __tablename__ = "idempotency_keys"

    institution_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    settlement_id: Mapped[uuid.UUID | None] = mapped_column()
    # the exact bytes of the first answer, so a retry is byte-for-byte identical
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
