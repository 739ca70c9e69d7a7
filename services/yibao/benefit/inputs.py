"""The value types that flow into and out of :func:`yibao.benefit.calculate`.

``CatalogueItem`` and ``RuleWarning`` are shared with the catalogue and the monitoring rules,
so they live in :mod:`yibao.values`.

All amounts are integer fen, all ratios ``Decimal``; every type is frozen so a calculation
can be replayed and compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from yibao.money import ZERO, Fen
from yibao.values import CatalogueItem, RuleWarning

VisitType = Literal[
    "outpatient", "chronic_outpatient", "inpatient", "pharmacy", "maternity_outpatient", "maternity_inpatient"
]
Scheme = Literal["resident", "employee"]


@dataclass(frozen=True)
class BillLine:
    line_no: int
    item: CatalogueItem
    quantity: Decimal  # > 0, may be fractional (e.g. 0.5 box)
    unit_price: Fen  # > 0
    service_date: date
    days_supply: int | None = None
    trace_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bill:
    visit_type: VisitType
    service_date: date  # inpatient: the discharge date
    institution_level: int  # 0 village … 3 tertiary
    institution_region: str
    lines: tuple[BillLine, ...]
    admitted_on: date | None = None
    discharged_on: date | None = None
    third_party_liable: bool = False
    #: chronic_outpatient, or a pharmacy bill paid under the chronic tier (双通道): the recognised
    #: disease's code (policy), set by the caller once it found the person's recognition
    chronic_disease: str | None = None
    prescribed: bool = False  # pharmacy: backed by a valid e-prescription of the region (checked by the caller)
    delivery_type: str | None = None  # maternity_inpatient: vaginal / caesarean
    babies: int = 1  # maternity_inpatient: babies delivered


@dataclass(frozen=True)
class YearAccumulators:
    """The person's running totals for the year *before* this bill (locked by the caller)."""

    inpatient_admissions: int = 0  # non-cancelled inpatient bills this year, any institution
    basic_paid: Fen = ZERO  # basic fund paid on inpatient + chronic (shares the annual cap)
    chronic_deductible_used: Fen = ZERO
    outpatient_deductible_used: Fen = ZERO
    outpatient_pool_paid: Fen = ZERO
    policy_range_self_pay: Fen = ZERO  # C: accumulated S of inpatient/chronic bills
    critical_paid: Fen = ZERO
    assistance_base: Fen = ZERO  # A: accumulated (S − critical) of inpatient/chronic bills
    assistance_paid: Fen = ZERO
    fund_paid: Fen = ZERO  # all funds, all visit types (zero-claim years come from this)
    personal_paid: Fen = ZERO  # the person's part, all visit types (return-to-poverty watch)
    maternity_prenatal_paid: Fen = ZERO  # employees: maternity fund paid on prenatal checks (its limit)


@dataclass(frozen=True)
class AccountState:
    """The personal account that would pay: the person's own, or a bound relative's."""

    holder_is_patient: bool
    balance: Fen


@dataclass(frozen=True)
class ChronicState:
    """The person's approved recognition of the bill's disease, valid on the service date, and
    the basic fund already paid this year on that disease (locked with the person-year row)."""

    disease: str
    recognition_id: str
    disease_paid: Fen = ZERO


@dataclass(frozen=True)
class PersonState:
    scheme: Scheme
    birth_date: date
    gender: Literal["M", "F"]
    region: str
    groups: frozenset[str]  # special groups valid on the service date
    coverage_start: date  # before it: waiting period, every fund pays 0
    retiree: bool = False
    continuous_years: int = 0
    zero_claim_credit: Fen = ZERO
    cross_region_filed: bool = False  # an approved filing covers the service date
    accumulators: YearAccumulators = field(default_factory=YearAccumulators)
    account: AccountState | None = None  # None: no account pays (not asked or none exists)
    chronic: ChronicState | None = None  # the recognition a chronic_outpatient (or 双通道) bill is paid under


@dataclass(frozen=True)
class Explanation:
    part: str  # a Totals field name, e.g. "basic_fund"
    rule: str  # the policy path that produced it, e.g. "resident.inpatient.ratio_by_level[2]"
    detail: str  # the arithmetic, in yuan, human-readable


@dataclass(frozen=True)
class LineSplit:
    line_no: int
    amount: Fen
    full_self_pay: Fen
    over_cap_self_pay: Fen
    pre_self_pay: Fen
    policy_range: Fen
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Totals:
    total: Fen
    full_self_pay: Fen
    over_cap_self_pay: Fen
    pre_self_pay: Fen
    policy_range: Fen
    deductible: Fen
    basic_fund: Fen
    critical_illness: Fen
    medical_assistance: Fen
    fund_total: Fen
    personal_part: Fen
    personal_account: Fen
    cash: Fen
    maternity_fund: Fen = ZERO  # employees' maternity bills: paid from the maternity fund (in fund_total)


@dataclass(frozen=True)
class Accrual:
    """How this bill moves the person-year accumulators; cancel subtracts exactly this."""

    inpatient_admissions: int = 0
    basic_paid: Fen = ZERO
    chronic_deductible_used: Fen = ZERO
    outpatient_deductible_used: Fen = ZERO
    outpatient_pool_paid: Fen = ZERO
    policy_range_self_pay: Fen = ZERO
    critical_paid: Fen = ZERO
    assistance_base: Fen = ZERO
    assistance_paid: Fen = ZERO
    fund_paid: Fen = ZERO
    personal_paid: Fen = ZERO
    maternity_prenatal_paid: Fen = ZERO


@dataclass(frozen=True)
class BenefitSplit:
    policy_version: str
    totals: Totals
    lines: tuple[LineSplit, ...]
    accrual: Accrual
    warnings: tuple[RuleWarning, ...]
    explanation: tuple[Explanation, ...]
    funds_off: bool  # waiting period or third-party injury
    admission_order: int | None  # inpatient: 1 for the first admission of the year
    cross_region: bool
    #: the bill's recognised disease (policy code) and the basic fund paid under it: what the
    #: disease's annual limit accrues (cancel subtracts it)
    chronic_disease: str | None = None
    chronic_disease_paid: Fen = ZERO
    chronic_disease_name: str | None = None
    chronic_recognition_id: str | None = None  # the recognition the bill was paid under
