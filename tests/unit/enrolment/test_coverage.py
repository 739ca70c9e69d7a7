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
