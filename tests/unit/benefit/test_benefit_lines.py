"""Step 1: per-line A/B/C split, price cap, restrictions and line warnings (hand-computed)."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import bill, check_identities, fen, item, line, person, plain_a, policy, rules

from yibao.benefit import calculate
from yibao.benefit.lines import age_on


def test_class_a_under_cap_is_all_policy_range() -> None:
    # S-BLRT class A, cap 20.00: 2 × 15.00 = 30.00, all policy range.
    split = calculate(bill("outpatient", 1, line("S-BLRT", 2, "15.00")), person(), policy())
    (ls,) = split.lines
    assert (ls.amount, ls.full_self_pay, ls.over_cap_self_pay, ls.pre_self_pay) == (3000, 0, 0, 0)
    assert ls.policy_range == 3000
    assert ls.reasons == ()
    # resident outpatient pooling at level 1: no deductible, 50 % → 15.00
    assert split.totals.basic_fund == 1500
    assert split.totals.cash == 1500
    check_identities(split)


def test_class_b_above_price_cap() -> None:
    # D-ATOR-20 class B 0.10, cap 25.00: 2 × 30.00 = 60.00; over cap (30 − 25) × 2 = 10.00;
    # eligible 50.00; pre self-pay 50.00 × 0.10 = 5.00; policy range 45.00.
    split = calculate(bill("outpatient", 1, line("D-ATOR-20", 2, "30.00")), person(), policy())
    (ls,) = split.lines
    assert ls.amount == 6000
    assert ls.over_cap_self_pay == 1000
    assert ls.pre_self_pay == 500
    assert ls.policy_range == 4500
    assert ls.full_self_pay == 0
    assert ls.reasons == ("price_cap", "class_b")
    assert split.totals.basic_fund == 2250  # 45.00 × 0.50
    check_identities(split)


def test_class_c_is_full_self_pay() -> None:
    # D-VITC-100 class C: 3 × 12.34 = 37.02 fully self-paid, no fund.
    split = calculate(bill("outpatient", 1, line("D-VITC-100", 3, "12.34")), person(), policy())
    (ls,) = split.lines
    assert (ls.amount, ls.full_self_pay, ls.policy_range) == (3702, 3702, 0)
    assert ls.reasons == ("class_c",)
    assert split.totals.fund_total == 0
    assert split.totals.cash == 3702
    assert any(e.rule == "catalogue.D-VITC-100.class" for e in split.explanation)
    check_identities(split)


def test_half_up_rounding_per_line() -> None:
    # amount 0.5 × 12.35 = 6.175 → 6.18; over cap (12.35 − 12.00) × 0.5 = 0.175 → 0.18;
    # policy range 6.00 (D-AMOX-250 is class A).
    split = calculate(bill("outpatient", 1, line("D-AMOX-250", "0.5", "12.35")), person(), policy())
    (ls,) = split.lines
    assert (ls.amount, ls.over_cap_self_pay, ls.pre_self_pay, ls.policy_range) == (618, 18, 0, 600)
    # 0.33 × 10.01 = 3.3033 → 3.30
    split = calculate(bill("outpatient", 1, line(plain_a(), "0.33", "10.01")), person(), policy())
    assert split.lines[0].amount == 330
    # B pre self-pay per line: S-HPV (0.20, cap 150.00) 1 × 12.35 → 12.35 × 0.20 = 2.47;
    # 1 × 12.37 → 2.474 → 2.47; 1 × 12.38 → 2.476 → 2.48
    woman = person(gender="F")
    for price, pre in (("12.35", 247), ("12.37", 247), ("12.38", 248)):
        split = calculate(bill("outpatient", 1, line("S-HPV", 1, price)), woman, policy())
        assert split.lines[0].pre_self_pay == pre
        check_identities(split)


def test_line_amounts_sum_over_many_lines() -> None:
    split = calculate(
        bill(
            "outpatient",
            1,
            line("S-BLRT", 1, "18.00"),  # A 18.00
            line("D-VITC-100", 1, "5.00"),  # C 5.00
            line("D-ATOR-20", 1, "20.00"),  # B 20.00 → pre 2.00, range 18.00
        ),
        person(),
        policy(),
    )
    t = split.totals
    assert (t.total, t.full_self_pay, t.over_cap_self_pay, t.pre_self_pay) == (4300, 500, 0, 200)
    assert t.policy_range == 3600
    assert t.basic_fund == 1800
    assert [ls.line_no for ls in split.lines] == [1, 2, 3]
    check_identities(split)


@pytest.mark.parametrize(
    ("code", "gender"),
    [("S-PSA", "F"), ("D-TAMS-02", "F"), ("S-HPV", "M")],
)
def test_gender_restriction(code: str, gender: str) -> None:
    patient = person(gender="F" if gender == "F" else "M")
    split = calculate(bill("outpatient", 1, line(code, 1, "50.00")), patient, policy())
    (ls,) = split.lines
    assert ls.full_self_pay == ls.amount == 5000
    assert ls.reasons == ("gender_restriction",)
    assert rules(split) == ["gender_restriction"]
    assert split.totals.basic_fund == 0
    check_identities(split)


def test_gender_restriction_met_splits_normally() -> None:
    # S-PSA class A, cap 60.00, male: all policy range.
    split = calculate(bill("outpatient", 1, line("S-PSA", 1, "50.00")), person(), policy())
    assert split.lines[0].policy_range == 5000
    assert "gender_restriction" not in rules(split)


def test_age_in_whole_years() -> None:
    assert age_on(date(2012, 6, 15), date(2026, 6, 15)) == 14
    assert age_on(date(2012, 6, 16), date(2026, 6, 15)) == 13
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17


@pytest.mark.parametrize(
    ("birth", "restricted"),
    [
        (date(2012, 6, 16), False),  # 13
        (date(2012, 6, 15), False),  # 14 today: not above max_age 14
        (date(2011, 6, 16), False),  # 14, turns 15 tomorrow
        (date(2011, 6, 15), True),  # 15
        (date(1970, 3, 1), True),
    ],
)
def test_age_restriction_at_service_date(birth: date, restricted: bool) -> None:
    # D-PEDC-10 (children's granules) max_age 14, class A, cap 9.00: 2 × 8.00 = 16.00
    split = calculate(bill("outpatient", 1, line("D-PEDC-10", 2, "8.00")), person(birth=birth), policy())
    (ls,) = split.lines
    if restricted:
        assert ls.full_self_pay == 1600
        assert ls.reasons == ("age_restriction",)
        assert rules(split) == ["age_restriction"]
    else:
        assert ls.policy_range == 1600
        assert rules(split) == []
    check_identities(split)


def test_level_restriction() -> None:
    # S-MRI min level 2, class B 0.10, cap 600.00: 1 × 500.00
    low = calculate(bill("outpatient", 1, line("S-MRI", 1, "500.00")), person(), policy())
    assert low.lines[0].full_self_pay == 50000
    assert low.lines[0].reasons == ("level_restriction",)
    assert rules(low) == ["level_restriction"]
    ok = calculate(bill("inpatient", 2, line("S-MRI", 1, "500.00")), person(), policy())
    assert ok.lines[0].pre_self_pay == 5000
    assert ok.lines[0].policy_range == 45000
    assert "level_restriction" not in rules(ok)
    # D-CEFT-1G min level 1 at a village clinic (level 0)
    village = calculate(bill("outpatient", 0, line("D-CEFT-1G", 1, "10.00")), person(), policy())
    assert village.lines[0].full_self_pay == 1000
    check_identities(village)


def test_several_restrictions_broken_at_once() -> None:
    # S-HPV (F only) for a man at level 1; M-STNT needs level 2 → both lines fully self-paid.
    split = calculate(
        bill("outpatient", 1, line("S-HPV", 1, "100.00"), line("M-STNT", 1, "700.00")),
        person(),
        policy(),
    )
    assert split.totals.full_self_pay == split.totals.total == 80000
    assert rules(split) == ["gender_restriction", "level_restriction"]


def test_units_per_day_inpatient_uses_length_of_stay() -> None:
    # S-BED-2 max 1/day; stay June 5 → June 15 = 10 days.
    ok = calculate(bill("inpatient", 2, line("S-BED-2", 10, "40.00")), person(), policy())
    assert "units_per_day" not in rules(ok)
    over = calculate(bill("inpatient", 2, line("S-BED-2", 11, "40.00")), person(), policy())
    assert rules(over) == ["units_per_day"]
    # money unchanged: 11 × 40.00 = 440.00 all policy range
    assert over.lines[0].policy_range == 44000
    assert over.lines[0].reasons == ()
    # same-day stay counts as one day
    same_day = calculate(
        bill(
            "inpatient",
            2,
            line("S-BED-2", 2, "40.00"),
            admitted_on=date(2026, 6, 15),
            discharged_on=date(2026, 6, 15),
        ),
        person(),
        policy(),
    )
    assert rules(same_day) == ["units_per_day"]


def test_units_per_day_summed_over_lines_and_distinct_dates() -> None:
    # S-ACUP max 2/day: outpatient, lines of the same item are summed.
    d1, d2 = date(2026, 6, 14), date(2026, 6, 15)
    one_day = calculate(
        bill("outpatient", 1, line("S-ACUP", 2, "25.00", on=d1), line("S-ACUP", 1, "25.00", on=d1)),
        person(),
        policy(),
    )
    assert rules(one_day) == ["units_per_day"]
    two_days = calculate(
        bill("outpatient", 1, line("S-ACUP", 2, "25.00", on=d1), line("S-ACUP", 2, "25.00", on=d2)),
        person(),
        policy(),
    )
    assert rules(two_days) == []


def test_days_supply_warning() -> None:
    # D-AMOX-250 max 7 days of supply
    ok = calculate(bill("outpatient", 1, line("D-AMOX-250", 1, "10.00", days_supply=7)), person(), policy())
    assert rules(ok) == []
    over = calculate(bill("outpatient", 1, line("D-AMOX-250", 1, "10.00", days_supply=8)), person(), policy())
    assert rules(over) == ["days_supply"]
    assert over.lines[0].policy_range == 1000


def test_trace_code_missing_warning() -> None:
    missing = calculate(bill("pharmacy", 1, line("D-METF-500", 1, "8.00", trace=())), person(), policy())
    assert rules(missing) == ["trace_code_missing"]
    present = calculate(bill("pharmacy", 1, line("D-METF-500", 1, "8.00", trace=("8" * 20,))), person(), policy())
    assert rules(present) == []
    # services need no code
    assert rules(calculate(bill("outpatient", 1, line("S-BLRT", 1, "8.00")), person(), policy())) == []


def test_catalogue_loaded_from_csv() -> None:
    ator = item("D-ATOR-20")
    assert ator.item_class == "B"
    assert ator.price_cap == fen("25.00")
    assert item("S-BED-2").max_units_per_day is not None
    assert item("D-TAMS-02").gender == "M"
