"""The maternity allowance's arithmetic (pure): days by delivery, half-up daily amount, eligibility, flags."""

from __future__ import annotations

from datetime import date

from yibao.maternity.allowance import FLAG_ALONE, FLAG_RECENT, ContributionStats, compute, months_before
from yibao.policy.params import MaternityParams

P = MaternityParams()


def stats(**kw: object) -> ContributionStats:
    base: dict[str, object] = dict(
        months=12, employer_id=1, first_at_employer=date(2025, 1, 1), base_total=900_030, base_lines=2,
        other_contributors=1,
    )  # fmt: skip
    base.update(kw)
    return ContributionStats(**base)  # type: ignore[arg-type]


def test_days_by_delivery_type_and_babies() -> None:
    assert P.allowance_days_for("vaginal", 1) == 98
    assert P.allowance_days_for("caesarean", 1) == 113
    assert P.allowance_days_for("vaginal", 3) == 128
    assert P.allowance_days_for("caesarean", 2) == 128


def test_the_daily_amount_is_the_average_base_over_30_rounded_half_up_to_the_fen() -> None:
    # (900,030 ÷ 2 = 450,015 fen) ÷ 30 = 15,000.5 fen → 15,001
    out = compute(P, "vaginal", 1, date(2026, 2, 10), stats())
    assert (out.average_base, out.daily_amount, out.amount, out.eligible) == (450_015, 15_001, 15_001 * 98, True)


def test_eleven_months_is_ineligible_and_twelve_is_not() -> None:
    assert compute(P, "vaginal", 1, date(2026, 2, 10), stats(months=11)).eligible is False
    assert compute(P, "vaginal", 1, date(2026, 2, 10), stats(months=11)).amount == 0
    assert compute(P, "vaginal", 1, date(2026, 2, 10), stats(months=12)).eligible is True


def test_flags_at_their_thresholds() -> None:
    delivery = date(2026, 2, 10)
    assert compute(P, "vaginal", 1, delivery, stats(first_at_employer=date(2025, 4, 1))).flags == ()
    assert compute(P, "vaginal", 1, delivery, stats(first_at_employer=date(2025, 5, 1))).flags == (FLAG_RECENT,)
    assert compute(P, "vaginal", 1, delivery, stats(other_contributors=0)).flags == (FLAG_ALONE,)


def test_months_before_crosses_years() -> None:
    assert months_before(date(2026, 2, 1), 12) == date(2025, 2, 1)
    assert months_before(date(2026, 2, 1), 24) == date(2024, 2, 1)
    assert months_before(date(2026, 1, 1), 1) == date(2025, 12, 1)
