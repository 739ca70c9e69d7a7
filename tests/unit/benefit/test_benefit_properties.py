"""Property tests: for any bill, person and year so far, the identities hold exactly, no part
is negative, no fund exceeds what is left of its cap, and the result is deterministic."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta
from decimal import Decimal

from helpers import AWAY, HOME, catalogue, check_identities, plain_a, policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.benefit import (
    AccountState,
    BenefitSplit,
    Bill,
    BillLine,
    PersonState,
    Totals,
    YearAccumulators,
    calculate,
)
from yibao.benefit.inputs import Scheme, VisitType
from yibao.money import Fen, share
from yibao.policy.params import GROUPS

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
YEAR_START = date(2026, 1, 1)
ITEMS = [*catalogue().values(), plain_a(), plain_a(price_cap="50.00")]
TOTALS_FIELDS = {f.name for f in fields(Totals)}


def fen_upto(yuan: int) -> st.SearchStrategy[Fen]:
    return st.integers(min_value=0, max_value=yuan * 100).map(Fen)


@st.composite
def bills(draw: st.DrawFn) -> Bill:
    visit_type: VisitType = draw(st.sampled_from(["outpatient", "chronic_outpatient", "inpatient", "pharmacy"]))
    service_date = YEAR_START + timedelta(days=draw(st.integers(0, 364)))
    n = draw(st.integers(1, 30))
    bill_lines = tuple(
        BillLine(
            line_no=i,
            item=draw(st.sampled_from(ITEMS)),
            quantity=Decimal(draw(st.integers(1, 10_000))) / 100,
            unit_price=Fen(draw(st.integers(1, 500_000))),
            service_date=service_date - timedelta(days=draw(st.integers(0, 3))),
            days_supply=draw(st.none() | st.integers(1, 120)),
            trace_codes=draw(st.sampled_from([(), (f"T{i}",)])),
        )
        for i in range(1, n + 1)
    )
    admitted = service_date - timedelta(days=draw(st.integers(0, 40)))
    return Bill(
        visit_type=visit_type,
        service_date=service_date,
        institution_level=draw(st.integers(0, 3)),
        institution_region=draw(st.sampled_from([HOME, HOME, AWAY])),
        lines=bill_lines,
        admitted_on=admitted if visit_type == "inpatient" else None,
        discharged_on=service_date if visit_type == "inpatient" else None,
        third_party_liable=draw(st.integers(0, 3)) == 0,
    )


@st.composite
def people(draw: st.DrawFn) -> PersonState:
    scheme: Scheme = draw(st.sampled_from(["resident", "employee"]))
    accumulators = YearAccumulators(
        inpatient_admissions=draw(st.integers(0, 5)),
        basic_paid=draw(fen_upto(320_000)),
        chronic_deductible_used=draw(fen_upto(500)),
        outpatient_deductible_used=draw(fen_upto(300)),
        outpatient_pool_paid=draw(fen_upto(2_500)),
        policy_range_self_pay=draw(fen_upto(300_000)),
        critical_paid=draw(fen_upto(500_000)),
        assistance_base=draw(fen_upto(100_000)),
        assistance_paid=draw(fen_upto(90_000)),
        fund_paid=draw(fen_upto(500_000)),
        personal_paid=draw(fen_upto(500_000)),
    )
    account = draw(st.none() | st.builds(AccountState, holder_is_patient=st.booleans(), balance=fen_upto(20_000)))
    return PersonState(
        scheme=scheme,
        birth_date=date(1930, 1, 1) + timedelta(days=draw(st.integers(0, 96 * 365))),
        gender=draw(st.sampled_from(["M", "F"])),
        region=HOME,
        groups=frozenset(draw(st.sets(st.sampled_from(GROUPS), max_size=3))),
        coverage_start=YEAR_START + timedelta(days=draw(st.sampled_from([0, 0, 0, 90, 200]))),
        retiree=draw(st.booleans()),
        continuous_years=draw(st.integers(0, 40)),
        zero_claim_credit=draw(fen_upto(30_000)),
        cross_region_filed=draw(st.booleans()),
        accumulators=accumulators,
        account=account,
    )


def _caps_respected(split: BenefitSplit, bill: Bill, person: PersonState) -> None:
    pol = policy()
    scheme = pol.scheme(person.scheme)
    acc = person.accumulators
    t = split.totals
    second_tier = bill.visit_type in ("inpatient", "chronic_outpatient")
    if bill.visit_type == "outpatient":
        assert t.basic_fund <= max(0, scheme.outpatient_pooling.annual_cap - acc.outpatient_pool_paid)
    elif second_tier:
        assert t.basic_fund <= max(0, scheme.annual_cap - acc.basic_paid)
    else:
        assert t.basic_fund == 0
    self_pay = t.policy_range - t.basic_fund
    ci = scheme.critical_illness
    if not second_tier or ci is None or split.funds_off:
        assert t.critical_illness == 0
    else:
        assert t.critical_illness <= self_pay
        poor = bool(person.groups & ci.poor_groups)
        if not (poor and ci.poor_no_cap):
            inc = ci.incentives
            years = person.continuous_years
            continuity = (
                inc.continuous_step * (years - inc.continuous_years_from + 1)
                if years >= inc.continuous_years_from
                else 0
            )
            cap = ci.cap + min(share(ci.cap, inc.max_share_of_cap), continuity + person.zero_claim_credit)
            assert t.critical_illness <= max(0, cap - acc.critical_paid)
    eligible = [pol.assistance[g] for g in person.groups if g in pol.assistance]
    if not second_tier or not eligible or split.funds_off:
        assert t.medical_assistance == 0
    else:
        assert t.medical_assistance <= self_pay - t.critical_illness
        assert t.medical_assistance <= max(max(0, g.annual_limit - acc.assistance_paid) for g in eligible)
    if person.account is None:
        assert t.personal_account == 0
    else:
        assert t.personal_account <= person.account.balance


def _accrual_consistent(split: BenefitSplit, bill: Bill) -> None:
    a, t = split.accrual, split.totals
    assert a.inpatient_admissions == (1 if bill.visit_type == "inpatient" else 0)
    assert a.personal_paid == t.personal_part
    if split.funds_off:
        assert t.fund_total == t.deductible == 0
        assert a.fund_paid == a.basic_paid == a.policy_range_self_pay == a.assistance_base == 0
        return
    assert a.fund_paid == t.fund_total
    assert a.critical_paid == t.critical_illness
    assert a.assistance_paid == t.medical_assistance
    if bill.visit_type in ("inpatient", "chronic_outpatient"):
        assert a.basic_paid == t.basic_fund
        assert a.policy_range_self_pay == t.policy_range - t.basic_fund
        assert a.assistance_base == a.policy_range_self_pay - t.critical_illness
    else:
        assert a.basic_paid == a.policy_range_self_pay == a.assistance_base == 0
    if bill.visit_type == "outpatient":
        assert a.outpatient_pool_paid == t.basic_fund
        assert a.outpatient_deductible_used == t.deductible
    if bill.visit_type == "chronic_outpatient":
        assert a.chronic_deductible_used == t.deductible


@SETTINGS
@given(bill=bills(), person=people())
def test_identities_caps_and_determinism(bill: Bill, person: PersonState) -> None:
    split = calculate(bill, person, policy())
    check_identities(split)
    _caps_respected(split, bill, person)
    _accrual_consistent(split, bill)
    assert split.policy_version == policy().version
    assert split.cross_region == (bill.institution_region != person.region)
    assert split.funds_off == (bill.service_date < person.coverage_start or bill.third_party_liable)
    assert {e.part for e in split.explanation} <= TOTALS_FIELDS
    assert [ls.line_no for ls in split.lines] == [line.line_no for line in bill.lines]
    assert calculate(bill, person, policy()) == split


@settings(max_examples=100, deadline=None)
@given(bill=bills(), person=people())
def test_account_never_changes_the_fund_split(bill: Bill, person: PersonState) -> None:
    from dataclasses import replace

    with_account = calculate(bill, replace(person, account=AccountState(True, Fen(10**9))), policy())
    without = calculate(bill, replace(person, account=None), policy())
    assert with_account.totals.fund_total == without.totals.fund_total
    assert with_account.totals.cash == 0
    assert without.totals.cash == without.totals.personal_part
