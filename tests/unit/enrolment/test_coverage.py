"""Coverage start, subsidies and incentives: pure rules, one example per branch (DOMAIN §2)."""

from __future__ import annotations

import json
from datetime import date

from yibao.config import REPO_ROOT
from yibao.enrolment import coverage as cov
from yibao.enrolment.incentives import YearHistory, derive
from yibao.money import Fen
from yibao.policy.params import PolicyParams
from yibao.premiums import rules

P = PolicyParams.parse(json.loads((REPO_ROOT / "data" / "reference" / "policy-2026.json").read_text("utf-8"))).premium
ADULT = date(1980, 5, 17)


def start(
    paid_on: date, *, lapsed: int = 0, back: int = 0, group: str | None = None, born: date = ADULT
) -> cov.Coverage:
    return cov.resident_coverage(
        year=2026, paid_on=paid_on, birth_date=born, exempt_group=group, lapsed=lapsed, paid_back=back, params=P
    )


def test_paid_in_window_covers_from_jan_1() -> None:
    c = start(date(2025, 10, 15))
    assert (c.start, c.reason, c.waiting_months) == (date(2026, 1, 1), cov.IN_WINDOW, 0)


def test_window_for_2026_is_sep_1_to_dec_31_of_2025() -> None:
    assert cov.window(2026, P) == (date(2025, 9, 1), date(2025, 12, 31))
    assert not cov.in_window(2026, date(2025, 8, 31), P)
    assert cov.in_window(2026, date(2025, 9, 1), P) and cov.in_window(2026, date(2025, 12, 31), P)
    assert not cov.in_window(2026, date(2026, 1, 1), P)


def test_window_edges_give_jan_1_and_the_day_after_waits_from_jan_1() -> None:
    first, last, after = start(date(2025, 9, 1)), start(date(2025, 12, 31)), start(date(2026, 1, 1))
    assert (first.start, first.reason, first.waiting_months) == (date(2026, 1, 1), cov.IN_WINDOW, 0)
    assert (last.start, last.reason, last.waiting_months) == (date(2026, 1, 1), cov.IN_WINDOW, 0)
    assert (after.start, after.reason, after.waiting_months) == (date(2026, 4, 1), cov.WAITING_OUTSIDE_WINDOW, 3)


def test_outside_window_waits_three_months_from_payment() -> None:
    c = start(date(2026, 3, 10))
    assert (c.start, c.reason, c.waiting_months) == (date(2026, 6, 10), cov.WAITING_OUTSIDE_WINDOW, 3)


def test_after_lapse_even_in_window_waits_fixed_plus_one_per_lapsed_year_from_jan_1() -> None:
    c = start(date(2025, 11, 1), lapsed=2)
    assert (c.start, c.reason, c.waiting_months) == (date(2026, 6, 1), cov.WAITING_LAPSED, 5)


def test_paying_back_a_lapsed_year_removes_one_month() -> None:
    assert start(date(2025, 11, 1), lapsed=2, back=1).start == date(2026, 5, 1)
    assert start(date(2025, 11, 1), lapsed=2, back=2).start == date(2026, 4, 1)


def test_special_group_has_no_waiting_from_later_of_payment_and_jan_1() -> None:
    assert start(date(2026, 3, 10), group="min_living").start == date(2026, 3, 10)
    c = start(date(2025, 10, 1), lapsed=3, group="destitute")
    assert (c.start, c.reason) == (date(2026, 1, 1), cov.SPECIAL_GROUP)


def test_newborn_within_90_days_is_covered_from_birth() -> None:
    born = date(2026, 2, 1)
    c = start(date(2026, 4, 20), born=born)
    assert (c.start, c.reason) == (born, cov.NEWBORN)
    late = start(date(2026, 6, 1), born=born)  # 120 days: ordinary waiting
    assert late.reason == cov.WAITING_OUTSIDE_WINDOW


def test_newborn_rule_includes_day_90_and_ends_at_day_91() -> None:
    # given: born 2026-02-01; Feb 28 + Mar 31 + Apr 30 days → May 1 is day 89, May 2 day 90, May 3 day 91
    born = date(2026, 2, 1)
    on_birth, day_90, day_91 = (start(d, born=born) for d in (born, date(2026, 5, 2), date(2026, 5, 3)))
    # then
    assert (on_birth.start, on_birth.reason) == (born, cov.NEWBORN)
    assert (day_90.start, day_90.reason, day_90.waiting_months) == (born, cov.NEWBORN, 0)
    assert (day_91.start, day_91.reason, day_91.waiting_months) == (date(2026, 8, 3), cov.WAITING_OUTSIDE_WINDOW, 3)
    assert cov.is_newborn(2026, born, date(2026, 5, 2), P) and not cov.is_newborn(2026, born, date(2026, 5, 3), P)


def test_lapsed_years_count_only_the_gap_just_before() -> None:
    assert cov.lapsed_years(2026, set(), set()) == (0, 0)  # first-time enrolee
    assert cov.lapsed_years(2026, {2020, 2021, 2023}, {2024}) == (2, 1)
    assert cov.lapsed_years(2026, {2025}, set()) == (0, 0)


def test_add_months_clamps_to_month_end() -> None:
    assert cov.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert cov.add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


def test_subsidy_full_fixed_none_and_most_favourable_of_overlapping_groups() -> None:
    assert rules.subsidy([], P) == rules.Subsidy(Fen(0), None, "none")
    assert rules.subsidy(["marginal"], P) == rules.Subsidy(Fen(16000), "marginal", "fixed")
    assert rules.subsidy(["orphan"], P) == rules.Subsidy(Fen(40000), "orphan", "full")
    assert rules.subsidy(["min_living", "severe_disability"], P).kind == "full"


def test_incentives_over_a_multi_year_history() -> None:
    step = Fen(300000)
    quiet = YearHistory()
    # five quiet years 2021–2025: continuous 5, zero-claim 5 × 3000
    five = {y: quiet for y in range(2021, 2026)}
    assert derive(2026, five, step) == (derive(2026, five, step).__class__(5, Fen(1500000)))
    # a claim year without CI payout adds nothing but keeps the credit; a CI payout resets it
    hist = {
        2020: quiet,
        2021: YearHistory(fund_paid=100),
        2022: quiet,
        2023: YearHistory(500, 200),
        2024: quiet,
        2025: quiet,
    }
    inc = derive(2026, hist, step)
    assert inc.continuous_years == 6 and inc.zero_claim_credit == 2 * step
    # a lapse breaks continuity but not the zero-claim credit
    gap = {2021: quiet, 2022: quiet, 2024: quiet, 2025: quiet}
    assert derive(2026, gap, step) == derive(2026, gap, step).__class__(2, Fen(4 * step))
