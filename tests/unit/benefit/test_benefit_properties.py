"""Property tests: for any bill, person and year so far, the identities hold exactly, no part
is negative, no fund exceeds what is left of its cap, and the result is deterministic. And
monotonicity: more spending (a bigger line, or more already paid towards a cap) never lowers
the person's share, and a higher level never pays more where the policy lowers the ratio.
The exact fen of single-line bills are checked against an independent oracle in
``test_benefit_oracle.py``."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date, timedelta
from decimal import Decimal

from helpers import AWAY, HOME, catalogue, check_identities, plain_a, policy, policy_range_bill
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
    with_account = calculate(bill, replace(person, account=AccountState(True, Fen(10**9))), policy())
    without = calculate(bill, replace(person, account=None), policy())
    assert with_account.totals.fund_total == without.totals.fund_total
    assert with_account.totals.cash == 0
    assert without.totals.cash == without.totals.personal_part


# ---------------------------------------------------------------- monotonicity


def _bigger(line: BillLine, extra_qty: Decimal, extra_price: int) -> BillLine:
    return replace(line, quantity=line.quantity + extra_qty, unit_price=Fen(line.unit_price + extra_price))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bill=bills(), person=people(), data=st.data())
def test_more_spending_never_lowers_the_persons_share(bill: Bill, person: PersonState, data: st.DataObject) -> None:
    """A bigger line (more units or a higher price) never lowers the personal part, even where a
    price cap or per-line rounding makes the funds' share of it smaller."""
    # given the same bill with one line made bigger
    i = data.draw(st.integers(0, len(bill.lines) - 1), label="line")
    extra_qty = Decimal(data.draw(st.integers(0, 500), label="extra qty (0.01)")) / 100
    extra_price = data.draw(st.integers(0 if extra_qty else 1, 100_000), label="extra price (fen)")
    grown = _bigger(bill.lines[i], extra_qty, extra_price)
    bigger = replace(bill, lines=(*bill.lines[:i], grown, *bill.lines[i + 1 :]))
    # when both are calculated
    small, large = calculate(bill, person, policy()).totals, calculate(bigger, person, policy()).totals
    # then the person pays at least as much
    assert large.total >= small.total
    assert large.personal_part >= small.personal_part, (small, large)


ALREADY_PAID = ("basic_paid", "outpatient_pool_paid", "critical_paid", "assistance_paid")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bill=bills(), person=people(), paid=st.sampled_from(ALREADY_PAID), more=fen_upto(100_000))
def test_more_paid_towards_a_cap_never_lowers_the_persons_share(
    bill: Bill, person: PersonState, paid: str, more: Fen
) -> None:
    """What a fund already paid this year only uses up its cap or limit: this bill's personal part
    can only grow (a cap reached moves money from the fund to the person, never back)."""
    acc = person.accumulators
    later = replace(person, accumulators=replace(acc, **{paid: getattr(acc, paid) + more}))
    before, after = calculate(bill, person, policy()).totals, calculate(bill, later, policy()).totals
    assert after.personal_part >= before.personal_part, (paid, before, after)


def _level_terms(scheme: str, visit: VisitType, level: int, retiree: bool) -> tuple[Decimal, Fen] | None:
    """(ratio, deductible due on a first bill) the policy sets at a level; None: not covered."""
    params = policy().scheme(scheme)
    if visit == "outpatient":
        op = params.outpatient_pooling
        return (op.ratio, op.annual_deductible) if level in op.levels else None
    by_level = params.inpatient if visit == "inpatient" else params.chronic_outpatient
    if level not in by_level.ratio_by_level or level not in by_level.deductible_by_level:
        return None
    ratio = by_level.ratio_by_level[level]
    if visit == "inpatient":
        ip = params.inpatient
        bonus = ip.retiree_ratio_bonus if scheme == "employee" and retiree else Decimal(0)
        ratio = min(ratio + bonus, ip.max_ratio)
    return ratio, by_level.deductible_by_level[level]


def _lowered_by_level(scheme: str, visit: VisitType, retiree: bool) -> list[tuple[int, int]]:
    """Adjacent levels where the policy pays no more at the higher one (lower or equal ratio, no
    lower deductible, or not covered at all there)."""
    pairs = []
    for lo in range(3):
        low, high = _level_terms(scheme, visit, lo, retiree), _level_terms(scheme, visit, lo + 1, retiree)
        if low is None:
            continue
        if high is None or (high[0] <= low[0] and high[1] >= low[1]):
            pairs.append((lo, lo + 1))
    return pairs


def test_the_default_policy_lowers_ratios_with_level() -> None:
    # the property below is only worth something if the policy really lowers ratios with level
    for scheme in ("resident", "employee"):
        assert _lowered_by_level(scheme, "inpatient", False) == [(1, 2), (2, 3)]
        assert _lowered_by_level(scheme, "chronic_outpatient", False) == [(0, 1), (1, 2), (2, 3)]
    assert _lowered_by_level("employee", "inpatient", True) == [(1, 2), (2, 3)]
    assert _lowered_by_level("resident", "outpatient", False) == [(0, 1), (1, 2)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    person=people(),
    visit=st.sampled_from(["inpatient", "chronic_outpatient", "outpatient"]),
    amount=st.integers(1, 30_000_000),
    region=st.sampled_from([HOME, AWAY]),
)
def test_a_higher_level_never_pays_more_where_the_policy_lowers_the_ratio(
    person: PersonState, visit: VisitType, amount: int, region: str
) -> None:
    pairs = _lowered_by_level(person.scheme, visit, person.retiree)
    price = f"{Decimal(amount) / 100:.2f}"
    for lo, hi in pairs:
        # given the same bill at two adjacent levels
        at = {
            level: calculate(policy_range_bill(visit, level, price, region=region), person, policy())
            for level in (lo, hi)
        }
        # then the higher level pays no more basic fund, and the person no less
        assert at[hi].totals.basic_fund <= at[lo].totals.basic_fund, (lo, hi, at[lo].totals, at[hi].totals)
        assert at[hi].totals.personal_part >= at[lo].totals.personal_part, (lo, hi)
