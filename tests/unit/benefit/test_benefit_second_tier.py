"""Steps 4–5: critical illness and medical assistance (hand-computed).

Scenario used throughout: resident inpatient at level 2, first admission, P = 20500.00 →
deductible 500.00, basic (20500 − 500) × 0.70 = 14000.00, policy-range self-pay S = 6500.00.
Employee variant: level 2, P = 10600.00 → basic (10600 − 600) × 0.90 = 9000.00, S = 1600.00.
Resident CI: threshold 10000; 0.60 to 50000, 0.65 to 100000, 0.70 above; cap 400000.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers import acc, check_identities, fen, person, policy, policy_range_bill

from yibao.benefit import Accrual, BenefitSplit, PersonState, calculate
from yibao.benefit.assistance import pick_group
from yibao.money import Fen
from yibao.policy.params import AssistanceGroup


def _resident(patient: PersonState) -> BenefitSplit:
    split = calculate(policy_range_bill("inpatient", 2, "20500.00"), patient, policy())
    assert split.totals.basic_fund == fen("14000.00")
    check_identities(split)
    return split


def _employee(patient: PersonState) -> BenefitSplit:
    split = calculate(policy_range_bill("inpatient", 2, "10600.00"), patient, policy())
    assert split.totals.basic_fund == fen("9000.00")
    assert split.totals.critical_illness == 0
    check_identities(split)
    return split


@pytest.mark.parametrize(
    ("before", "payout"),
    [
        ("0.00", "0.00"),  # 6500 stays below 10000
        ("3500.00", "0.00"),  # reaches exactly 10000
        ("8000.00", "2700.00"),  # 8000 → 14500: 0.60 × 4500
        ("45000.00", "3975.00"),  # 45000 → 51500: 0.60 × 5000 + 0.65 × 1500
        ("99000.00", "4500.00"),  # 99000 → 105500: 0.65 × 1000 + 0.70 × 5500
        ("200000.00", "4550.00"),  # all in the top band: 0.70 × 6500
    ],
)
def test_critical_illness_bands(before: str, payout: str) -> None:
    split = _resident(person(acc=acc(policy_range_self_pay=before)))
    assert split.totals.critical_illness == fen(payout)
    assert split.accrual.policy_range_self_pay == fen("6500.00")
    assert split.accrual.critical_paid == fen(payout)
    assert split.accrual.assistance_base == fen("6500.00") - fen(payout)
    (note,) = [e for e in split.explanation if e.part == "critical_illness"]
    assert note.rule == "resident.critical_illness.tiers"
    assert "g(" in note.detail
    assert "left 400000.00" in note.detail


def test_critical_illness_crossing_threshold_totals() -> None:
    split = _resident(person(acc=acc(policy_range_self_pay="8000.00")))
    t = split.totals
    assert (t.fund_total, t.personal_part) == (fen("16700.00"), fen("3800.00"))
    assert split.accrual == Accrual(
        inpatient_admissions=1,
        basic_paid=fen("14000.00"),
        policy_range_self_pay=fen("6500.00"),
        critical_paid=fen("2700.00"),
        assistance_base=fen("3800.00"),
        fund_paid=fen("16700.00"),
        personal_paid=fen("3800.00"),
    )


def test_critical_illness_rounds_only_the_difference() -> None:
    # chronic L2, P = 0.03: basic 3 × 0.65 = 1.95 → 2 fen, S = 1 fen; C = 10000.00:
    # g diff = 0.60 × 1 fen = 0.6 → 1 fen (≤ S).
    split = calculate(
        policy_range_bill("chronic_outpatient", 2, "0.03"),
        person(acc=acc(policy_range_self_pay="10000.00")),
        policy(),
    )
    assert split.totals.basic_fund == 2
    assert split.totals.critical_illness == 1
    assert split.totals.personal_part == 0
    check_identities(split)


def test_critical_illness_is_additive_over_bills() -> None:
    # one S of 6500.00 from 8000.00 == two bills splitting it (no rounding loss here)
    whole = _resident(person(acc=acc(policy_range_self_pay="8000.00")))
    first = calculate(
        policy_range_bill("chronic_outpatient", 2, "10000.00"),  # S = 3500.00
        person(acc=acc(policy_range_self_pay="8000.00")),
        policy(),
    )
    second = calculate(
        policy_range_bill("chronic_outpatient", 2, "8571.43"),  # S = 8571.43 − 5571.43 = 3000
        person(acc=acc(policy_range_self_pay="11500.00")),
        policy(),
    )
    assert first.accrual.policy_range_self_pay + second.accrual.policy_range_self_pay == fen("6500.00")
    assert first.totals.critical_illness + second.totals.critical_illness == (whole.totals.critical_illness)


def test_employee_has_no_critical_illness() -> None:
    split = _employee(person("employee", acc=acc(policy_range_self_pay="200000.00")))
    assert split.totals.critical_illness == 0
    (note,) = [e for e in split.explanation if e.part == "critical_illness"]
    assert "no critical-illness tier" in note.detail


def test_poor_group_halved_threshold_and_bonus() -> None:
    # min_living chronic L2, P = 20000.00: basic 13000.00, S = 7000.00;
    # CI threshold 5000: 0.65 × 2000 = 1300.00; assistance base 5700.00,
    # (5700 − 1000) × 0.70 = 3290.00.
    split = calculate(
        policy_range_bill("chronic_outpatient", 2, "20000.00"),
        person(groups={"min_living"}),
        policy(),
    )
    t = split.totals
    assert t.basic_fund == fen("13000.00")
    assert t.critical_illness == fen("1300.00")
    assert t.medical_assistance == fen("3290.00")
    assert t.fund_total == fen("17590.00")
    assert t.personal_part == fen("2410.00")
    (note,) = [e for e in split.explanation if e.part == "critical_illness"]
    assert note.rule == "resident.critical_illness.poor_groups"
    assert "10000.00 × 0.50 = 5000.00" in note.detail
    check_identities(split)


@pytest.mark.parametrize(
    ("groups", "before", "payout"),
    [
        ((), "4000.00", "300.00"),  # 4000 → 10500: 0.60 × 500
        (("marginal",), "4000.00", "3575.00"),  # threshold 5000: 0.65 × 5500
        # boundaries unchanged: 45000 → 51500: 0.65 × 5000 + 0.70 × 1500
        (("destitute",), "45000.00", "4300.00"),
        (("orphan", "marginal"), "99000.00", "4825.00"),  # 0.70 × 1000 + 0.75 × 5500
    ],
)
def test_poor_group_tiers(groups: tuple[str, ...], before: str, payout: str) -> None:
    split = _resident(person(groups=set(groups), acc=acc(policy_range_self_pay=before)))
    assert split.totals.critical_illness == fen(payout)


def test_poor_group_has_no_cap() -> None:
    # 60000 → 66500 in the second band: poor 0.70 × 6500 = 4550.00 even with 500000 paid
    poor = _resident(
        person(
            groups={"severe_disability"},
            acc=acc(policy_range_self_pay="60000.00", critical_paid="500000.00"),
        )
    )
    assert poor.totals.critical_illness == fen("4550.00")
    assert "no cap" in " ".join(e.detail for e in poor.explanation)
    # a non-poor person at the cap gets nothing
    capped = _resident(person(acc=acc(policy_range_self_pay="60000.00", critical_paid="400000.00")))
    assert capped.totals.critical_illness == 0


@pytest.mark.parametrize(
    ("years", "zero_claim", "paid", "payout"),
    [
        (0, "0.00", "0.00", "3975.00"),  # uncapped raw payout
        (3, "0.00", "399500.00", "500.00"),  # cap 400000, no continuity yet
        (4, "0.00", "402000.00", "1000.00"),  # 3000 × (4 − 3): cap 403000
        (6, "3000.00", "411000.00", "1000.00"),  # 9000 + 3000: cap 412000
        (0, "6000.00", "405000.00", "1000.00"),  # zero-claim only: cap 406000
        (40, "9000.00", "479000.00", "1000.00"),  # 111000 + 9000 → 20 % = 80000: cap 480000
        (40, "9000.00", "480000.00", "0.00"),
    ],
)
def test_critical_illness_cap_with_incentives(years: int, zero_claim: str, paid: str, payout: str) -> None:
    split = _resident(
        person(
            continuous_years=years,
            zero_claim_credit=zero_claim,
            acc=acc(policy_range_self_pay="45000.00", critical_paid=paid),
        )
    )
    assert split.totals.critical_illness == fen(payout)
    (note,) = [e for e in split.explanation if e.part == "critical_illness"]
    assert "incentives" in note.detail


@pytest.mark.parametrize(
    ("groups", "before", "paid", "payout", "group"),
    [
        (("min_living",), "0.00", "0.00", "420.00", "min_living"),  # (1600 − 1000) × 0.70
        (("min_living",), "500.00", "0.00", "770.00", "min_living"),  # (2100 − 1000) × 0.70
        (("min_living",), "5000.00", "0.00", "1120.00", "min_living"),  # 1600 × 0.70
        (("destitute",), "0.00", "0.00", "1440.00", "destitute"),  # T 0: 1600 × 0.90
        (("poverty_monitoring",), "0.00", "0.00", "0.00", "poverty_monitoring"),  # below 2000
        (("poverty_monitoring",), "1000.00", "0.00", "360.00", "poverty_monitoring"),  # 600×0.6
        (("marginal", "min_living"), "0.00", "0.00", "420.00", "min_living"),
        (("destitute", "marginal", "severe_disability"), "0.00", "0.00", "1440.00", "destitute"),
        (("min_living", "severe_disability"), "0.00", "0.00", "420.00", "min_living"),  # tie
        (("min_living",), "0.00", "79800.00", "200.00", "min_living"),  # limit 80000
        (("min_living",), "0.00", "80000.00", "0.00", "min_living"),
        (("marginal",), "5000.00", "59900.00", "100.00", "marginal"),  # limit 60000
    ],
)
def test_assistance_by_group(groups: tuple[str, ...], before: str, paid: str, payout: str, group: str) -> None:
    split = _employee(person("employee", groups=set(groups), acc=acc(assistance_base=before, assistance_paid=paid)))
    assert split.totals.medical_assistance == fen(payout)
    assert split.accrual.assistance_base == fen("1600.00")
    assert split.accrual.assistance_paid == fen(payout)
    (note,) = [e for e in split.explanation if e.part == "medical_assistance"]
    assert note.rule == f"medical_assistance.groups.{group}"


def test_assistance_without_group() -> None:
    split = _employee(person("employee"))
    assert split.totals.medical_assistance == 0
    assert split.accrual.assistance_base == fen("1600.00")
    assert not [e for e in split.explanation if e.part == "medical_assistance"]


def test_assistance_after_critical_illness_on_the_remaining_base() -> None:
    # resident destitute, C = 45000.00: CI 4300.00 (poor bands), base 6500 − 4300 = 2200.00,
    # threshold 0: 2200 × 0.90 = 1980.00
    split = _resident(person(groups={"destitute"}, acc=acc(policy_range_self_pay="45000.00")))
    t = split.totals
    assert (t.critical_illness, t.medical_assistance) == (fen("4300.00"), fen("1980.00"))
    assert t.personal_part == fen("220.00")
    assert split.accrual.assistance_base == fen("2200.00")


def test_assistance_on_chronic_outpatient() -> None:
    # employee chronic L2 0.85: P 10000.00 → basic 8500.00, S 1500.00, destitute 0.90 → 1350.00
    split = calculate(
        policy_range_bill("chronic_outpatient", 2, "10000.00"),
        person("employee", groups={"destitute"}),
        policy(),
    )
    assert split.totals.medical_assistance == fen("1350.00")
    check_identities(split)


def test_pick_group_tie_breaks() -> None:
    def grp(name: str, threshold: int, ratio: str, limit: int) -> AssistanceGroup:
        return AssistanceGroup(name, threshold=Fen(threshold), ratio=Decimal(ratio), annual_limit=Fen(limit))

    table = {
        "a": grp("a", 1000, "0.70", 100),
        "b": grp("b", 500, "0.70", 100),  # lower threshold wins
        "c": grp("c", 500, "0.70", 200),  # then higher limit
        "d": grp("d", 500, "0.70", 200),  # then name
        "e": grp("e", 0, "0.60", 999),
    }
    assert pick_group(frozenset({"a", "b"}), table) == table["b"]
    assert pick_group(frozenset({"a", "b", "c"}), table) == table["c"]
    assert pick_group(frozenset({"d", "c"}), table) == table["c"]
    assert pick_group(frozenset({"e", "a"}), table) == table["a"]
    assert pick_group(frozenset({"unknown"}), table) is None
    assert pick_group(frozenset(), table) is None
