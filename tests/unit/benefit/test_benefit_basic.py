"""Steps 2–3: deductible and basic fund per visit type, scheme and level (hand-computed)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from helpers import (
    AWAY,
    acc,
    bill,
    check_identities,
    fen,
    line,
    person,
    policy,
    policy_range_bill,
    rules,
)

from yibao.benefit import Accrual, calculate
from yibao.benefit.inputs import Scheme
from yibao.policy.params import PolicyParams


def _with_scheme(scheme: Scheme, **changes: Any) -> PolicyParams:
    base = policy()
    params = replace(base.scheme(scheme), **changes)
    return replace(base, resident=params) if scheme == "resident" else replace(base, employee=params)


# P = 10000.00 at each level, 1st vs 2nd admission.
#   resident: L1 200/0.90, L2 500/0.70, L3 1000/0.60; employee: L1 300/0.95, L2 600/0.90,
#   L3 900/0.85; repeat admissions pay half the deductible.
@pytest.mark.parametrize(
    ("scheme", "level", "admissions", "deductible", "basic"),
    [
        ("resident", 1, 0, "200.00", "8820.00"),  # (10000 − 200) × 0.90
        ("resident", 1, 1, "100.00", "8910.00"),  # (10000 − 100) × 0.90
        ("resident", 2, 0, "500.00", "6650.00"),  # 9500 × 0.70
        ("resident", 2, 1, "250.00", "6825.00"),  # 9750 × 0.70
        ("resident", 3, 0, "1000.00", "5400.00"),  # 9000 × 0.60
        ("resident", 3, 3, "500.00", "5700.00"),  # 4th admission still half: 9500 × 0.60
        ("employee", 1, 0, "300.00", "9215.00"),  # 9700 × 0.95
        ("employee", 1, 1, "150.00", "9357.50"),  # 9850 × 0.95
        ("employee", 2, 0, "600.00", "8460.00"),  # 9400 × 0.90
        ("employee", 2, 1, "300.00", "8730.00"),  # 9700 × 0.90
        ("employee", 3, 0, "900.00", "7735.00"),  # 9100 × 0.85
        ("employee", 3, 1, "450.00", "8117.50"),  # 9550 × 0.85
    ],
)
def test_inpatient_deductible_and_ratio_by_level_and_admission(
    scheme: Scheme, level: int, admissions: int, deductible: str, basic: str
) -> None:
    patient = person(scheme, acc=acc(inpatient_admissions=admissions))
    split = calculate(policy_range_bill("inpatient", level, "10000.00"), patient, policy())
    assert split.totals.deductible == fen(deductible)
    assert split.totals.basic_fund == fen(basic)
    assert split.admission_order == admissions + 1
    assert f"admission {admissions + 1} of the year" in " ".join(
        e.detail for e in split.explanation if e.part == "deductible"
    )
    assert split.accrual.inpatient_admissions == 1
    assert split.accrual.basic_paid == fen(basic)
    assert split.accrual.policy_range_self_pay == fen("10000.00") - fen(basic)
    check_identities(split)


def test_inpatient_explanation_names_policy_path_and_arithmetic() -> None:
    split = calculate(policy_range_bill("inpatient", 2, "3250.00"), person(), policy())
    basic = [e for e in split.explanation if e.part == "basic_fund"]
    assert basic[0].rule == "resident.inpatient.ratio_by_level[2]"
    assert "(3250.00 − 500.00) × 0.70 = 1925.00; annual cap left 200000.00" in basic[0].detail
    ded = [e for e in split.explanation if e.part == "deductible"]
    assert ded[0].rule == "resident.inpatient.deductible_by_level[2]"
    second = calculate(
        policy_range_bill("inpatient", 2, "3250.00"),
        person(acc=acc(inpatient_admissions=1)),
        policy(),
    )
    ded2 = [e for e in second.explanation if e.part == "deductible"]
    assert ded2[0].rule == "resident.inpatient.repeat_admission_deductible_factor"
    assert "500.00 × 0.50 = 250.00" in ded2[0].detail
    assert split.policy_version == "430522-2026-v3"


def test_deductible_larger_than_policy_range() -> None:
    # resident L3 deductible 1000.00, P = 800.00 → applied 800.00, basic 0
    split = calculate(policy_range_bill("inpatient", 3, "800.00"), person(), policy())
    assert split.totals.deductible == 80000
    assert split.totals.basic_fund == 0
    check_identities(split)


def test_inpatient_at_a_level_without_policy_entry() -> None:
    # no inpatient deductible/ratio for level 0 → no basic fund, explained
    split = calculate(policy_range_bill("inpatient", 0, "1000.00"), person(), policy())
    assert split.totals.deductible == 0
    assert split.totals.basic_fund == 0
    assert split.admission_order == 1
    assert any(e.part == "basic_fund" and "not covered" in e.detail for e in split.explanation)
    check_identities(split)


@pytest.mark.parametrize(
    ("level", "basic"),
    [
        (1, "9215.00"),  # 0.95 + 0.05 = 1.00 → max 0.95: 9700 × 0.95
        (2, "8930.00"),  # 0.90 + 0.05 = 0.95: 9400 × 0.95
        (3, "8190.00"),  # 0.85 + 0.05 = 0.90: 9100 × 0.90
    ],
)
def test_retiree_bonus_capped_at_max_ratio(level: int, basic: str) -> None:
    retiree = person("employee", retiree=True)
    split = calculate(policy_range_bill("inpatient", level, "10000.00"), retiree, policy())
    assert split.totals.basic_fund == fen(basic)
    (note,) = [e for e in split.explanation if e.part == "basic_fund"]
    assert note.rule == "employee.inpatient.retiree_ratio_bonus"
    check_identities(split)


def test_retiree_bonus_is_for_employees_only() -> None:
    split = calculate(policy_range_bill("inpatient", 2, "10000.00"), person(retiree=True), policy())
    assert split.totals.basic_fund == fen("6650.00")


def test_retiree_bonus_does_not_apply_to_chronic_outpatient() -> None:
    # employee chronic L2 0.85: 1000.00 × 0.85 = 850.00 even for a retiree
    retiree = person("employee", retiree=True)
    split = calculate(policy_range_bill("chronic_outpatient", 2, "1000.00"), retiree, policy())
    assert split.totals.basic_fund == fen("850.00")


def test_annual_cap_partly_and_fully_used() -> None:
    # resident L2 raw 6650.00, cap 200000.00 with 199000.00 paid → 1000.00
    partly = calculate(
        policy_range_bill("inpatient", 2, "10000.00"),
        person(acc=acc(basic_paid="199000.00")),
        policy(),
    )
    assert partly.totals.basic_fund == fen("1000.00")
    assert partly.totals.deductible == fen("500.00")
    assert "limited to 1000.00" in " ".join(e.detail for e in partly.explanation)
    check_identities(partly)
    full = calculate(
        policy_range_bill("inpatient", 2, "10000.00"),
        person(acc=acc(basic_paid="200000.00")),
        policy(),
    )
    assert full.totals.basic_fund == 0
    # over-used (e.g. after a policy change) never goes negative
    over = calculate(
        policy_range_bill("inpatient", 2, "10000.00"),
        person(acc=acc(basic_paid="250000.00")),
        policy(),
    )
    assert over.totals.basic_fund == 0
    check_identities(over)
    # chronic outpatient shares the same cap: 0.01 left
    chronic = calculate(
        policy_range_bill("chronic_outpatient", 2, "1000.00"),
        person(acc=acc(basic_paid="199999.99")),
        policy(),
    )
    assert chronic.totals.basic_fund == 1


@pytest.mark.parametrize("level", [0, 1])
def test_resident_outpatient_pooling_at_levels_0_and_1(level: int) -> None:
    # no deductible, 0.50: 100.00 → 50.00
    split = calculate(policy_range_bill("outpatient", level, "100.00"), person(), policy())
    assert split.totals.deductible == 0
    assert split.totals.basic_fund == 5000
    assert split.accrual == Accrual(
        outpatient_pool_paid=fen("50.00"),
        fund_paid=fen("50.00"),
        personal_paid=fen("50.00"),
    )
    assert split.admission_order is None
    check_identities(split)


@pytest.mark.parametrize("level", [2, 3])
def test_resident_outpatient_not_pooled_at_levels_2_and_3(level: int) -> None:
    split = calculate(policy_range_bill("outpatient", level, "100.00"), person(), policy())
    assert split.totals.basic_fund == 0
    assert split.totals.deductible == 0
    (note,) = [e for e in split.explanation if e.part == "basic_fund"]
    assert note.rule == "resident.outpatient_pooling.levels"
    check_identities(split)


def test_resident_outpatient_pool_cap() -> None:
    # cap 400.00, 380.00 paid → 20.00 left of the 50.00
    split = calculate(
        policy_range_bill("outpatient", 1, "100.00"),
        person(acc=acc(outpatient_pool_paid="380.00")),
        policy(),
    )
    assert split.totals.basic_fund == 2000


def test_outpatient_cap_is_separate_from_the_annual_cap() -> None:
    split = calculate(
        policy_range_bill("outpatient", 1, "100.00"),
        person(acc=acc(basic_paid="200000.00")),
        policy(),
    )
    assert split.totals.basic_fund == 5000


@pytest.mark.parametrize(
    ("level", "used", "deductible", "basic"),
    [
        (2, "0.00", "200.00", "50.00"),  # (300 − 200) × 0.50
        (2, "150.00", "50.00", "125.00"),  # (300 − 50) × 0.50
        (2, "200.00", "0.00", "150.00"),
        (3, "0.00", "200.00", "50.00"),
        (0, "0.00", "200.00", "50.00"),
    ],
)
def test_employee_outpatient_pooling_annual_deductible(level: int, used: str, deductible: str, basic: str) -> None:
    split = calculate(
        policy_range_bill("outpatient", level, "300.00"),
        person("employee", acc=acc(outpatient_deductible_used=used)),
        policy(),
    )
    assert split.totals.deductible == fen(deductible)
    assert split.totals.basic_fund == fen(basic)
    assert split.accrual.outpatient_deductible_used == fen(deductible)
    assert split.accrual.outpatient_pool_paid == fen(basic)
    assert split.accrual.basic_paid == 0
    check_identities(split)


def test_employee_outpatient_deductible_above_policy_range() -> None:
    # P = 120.00 < 200.00 due → applied 120.00, basic 0, 80.00 still due next time
    split = calculate(policy_range_bill("outpatient", 2, "120.00"), person("employee"), policy())
    assert split.totals.deductible == fen("120.00")
    assert split.totals.basic_fund == 0
    assert split.accrual.outpatient_deductible_used == fen("120.00")


def test_employee_outpatient_cap_2000() -> None:
    split = calculate(
        policy_range_bill("outpatient", 2, "300.00"),
        person(
            "employee",
            acc=acc(outpatient_deductible_used="200.00", outpatient_pool_paid="1990.00"),
        ),
        policy(),
    )
    assert split.totals.basic_fund == fen("10.00")


def test_outpatient_reaches_no_second_tier() -> None:
    # a destitute resident at the village clinic: basic only
    split = calculate(policy_range_bill("outpatient", 0, "100.00"), person(groups={"destitute"}), policy())
    assert split.totals.critical_illness == split.totals.medical_assistance == 0
    assert split.accrual.assistance_base == 0
    assert split.accrual.policy_range_self_pay == 0


def test_chronic_outpatient_by_level() -> None:
    # resident L2 0.65, no deductible: 1000.00 → 650.00
    split = calculate(policy_range_bill("chronic_outpatient", 2, "1000.00"), person(), policy())
    assert split.totals.deductible == 0
    assert split.totals.basic_fund == fen("650.00")
    assert split.admission_order is None
    assert split.accrual == Accrual(
        basic_paid=fen("650.00"),
        policy_range_self_pay=fen("350.00"),
        assistance_base=fen("350.00"),
        fund_paid=fen("650.00"),
        personal_paid=fen("350.00"),
    )
    check_identities(split)
    # employee L3 0.80: 1000.00 → 800.00; L0 0.85 → 850.00
    emp = person("employee")
    assert calculate(policy_range_bill("chronic_outpatient", 3, "1000.00"), emp, policy()).totals.basic_fund == fen(
        "800.00"
    )
    assert calculate(policy_range_bill("chronic_outpatient", 0, "1000.00"), emp, policy()).totals.basic_fund == fen(
        "850.00"
    )


def test_chronic_outpatient_annual_deductible_carries_over() -> None:
    # a policy with a 300.00 chronic deductible at level 2; 100.00 already used
    resident = policy().resident
    chronic = replace(
        resident.chronic_outpatient,
        deductible_by_level={**resident.chronic_outpatient.deductible_by_level, 2: fen("300.00")},
    )
    custom = _with_scheme("resident", chronic_outpatient=chronic)
    split = calculate(
        policy_range_bill("chronic_outpatient", 2, "1000.00"),
        person(acc=acc(chronic_deductible_used="100.00")),
        custom,
    )
    # due 200.00; (1000 − 200) × 0.65 = 520.00
    assert split.totals.deductible == fen("200.00")
    assert split.totals.basic_fund == fen("520.00")
    assert split.accrual.chronic_deductible_used == fen("200.00")
    (note,) = [e for e in split.explanation if e.part == "deductible"]
    assert note.rule == "resident.chronic_outpatient.deductible_by_level[2]"
    check_identities(split)


def test_pharmacy_reaches_no_fund() -> None:
    split = calculate(bill("pharmacy", 0, line("D-METF-500", 2, "8.00")), person("employee"), policy())
    t = split.totals
    assert (t.total, t.deductible, t.basic_fund, t.fund_total, t.cash) == (1600, 0, 0, 0, 1600)
    assert split.accrual == Accrual(personal_paid=fen("16.00"))
    assert {e.part for e in split.explanation} >= {"deductible", "basic_fund"}
    check_identities(split)


def test_cross_region_filed_keeps_home_ratios() -> None:
    split = calculate(
        policy_range_bill("inpatient", 2, "10000.00", region=AWAY),
        person(cross_region_filed=True),
        policy(),
    )
    assert split.cross_region is True
    assert split.totals.basic_fund == fen("6650.00")
    assert rules(split) == []
    assert "filed" in " ".join(e.detail for e in split.explanation if e.part == "basic_fund")


def test_cross_region_unfiled_loses_ten_points() -> None:
    # resident L2 0.70 − 0.10 = 0.60: 9500 × 0.60 = 5700.00
    split = calculate(policy_range_bill("inpatient", 2, "10000.00", region=AWAY), person(), policy())
    assert split.cross_region is True
    assert split.totals.basic_fund == fen("5700.00")
    assert split.totals.deductible == fen("500.00")
    assert rules(split) == ["cross_region_unfiled"]
    # retiree employee L2: min(0.95, 0.95) − 0.10 = 0.85: 9400 × 0.85 = 7990.00
    emp = calculate(
        policy_range_bill("inpatient", 2, "10000.00", region=AWAY),
        person("employee", retiree=True),
        policy(),
    )
    assert emp.totals.basic_fund == fen("7990.00")
    # outpatient pooling: 0.50 − 0.10 = 0.40
    out = calculate(policy_range_bill("outpatient", 1, "100.00", region=AWAY), person(), policy())
    assert out.totals.basic_fund == fen("40.00")
    # chronic: 0.65 − 0.10 = 0.55
    chronic = calculate(policy_range_bill("chronic_outpatient", 2, "1000.00", region=AWAY), person(), policy())
    assert chronic.totals.basic_fund == fen("550.00")


def test_same_region_is_not_cross_region() -> None:
    split = calculate(policy_range_bill("inpatient", 2, "100.00"), person(), policy())
    assert split.cross_region is False


def test_cross_region_reduction_floors_at_zero() -> None:
    custom = _with_scheme("resident", unfiled_cross_region_ratio_reduction=Decimal("0.95"))
    split = calculate(policy_range_bill("inpatient", 3, "10000.00", region=AWAY), person(), custom)
    assert split.totals.basic_fund == 0
    assert split.totals.deductible == fen("1000.00")
    check_identities(split)
