"""When resident coverage starts, and why: pure date rules (DOMAIN §2), no I/O.

Why pure: the start date decides whether every fund pays 0 for a bill, so the rule must be
replayable and explainable from its inputs alone; the enrolment stores the reason code and
the sentence built here, and the member app shows them.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from yibao.policy.params import PremiumParams

# reason codes (stable: the app and ops switch on them)
IN_WINDOW = "IN_WINDOW"
NEWBORN = "NEWBORN"
SPECIAL_GROUP = "SPECIAL_GROUP"
WAITING_OUTSIDE_WINDOW = "WAITING_OUTSIDE_WINDOW"
WAITING_LAPSED = "WAITING_LAPSED"
EMPLOYEE = "EMPLOYEE"
EMPLOYEE_CONTRIBUTION = "EMPLOYEE_CONTRIBUTION"
EMPLOYEE_WAITING = "EMPLOYEE_WAITING"
STAFF = "STAFF"


@dataclass(frozen=True)
class Coverage:
    start: date
    reason: str
    detail: str
    waiting_months: int = 0


def add_months(d: date, months: int) -> date:
    """``d`` plus whole months, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    total = d.month - 1 + months
    year, month = d.year + total // 12, total % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _md(year: int, mmdd: str) -> date:
    month, day = (int(x) for x in mmdd.split("-"))
    return date(year, month, day)


def window(year: int, params: PremiumParams) -> tuple[date, date]:
    """Collection window for coverage year ``year``: Sep 1 – Dec 31 of the year before (default)."""
    return _md(year - 1, params.window_from), _md(year - 1, params.window_to)


def in_window(year: int, paid_on: date, params: PremiumParams) -> bool:
    start, end = window(year, params)
    return start <= paid_on <= end


def is_newborn(year: int, birth_date: date, paid_on: date, params: PremiumParams) -> bool:
    """Enrolled within ``newborn_days`` of birth, for the birth year."""
    return birth_date.year == year and 0 <= (paid_on - birth_date).days <= params.waiting.newborn_days


def lapsed_years(year: int, enrolled_years: set[int], paid_back_years: set[int]) -> tuple[int, int]:
    """(consecutive years not enrolled just before ``year``, how many of them were paid back).

    A first-time enrolee (no enrolled year before ``year``) has no lapsed years.
    """
    earlier = [y for y in enrolled_years if y < year]
    if not earlier:
        return 0, 0
    gap = range(max(earlier) + 1, year)
    return len(gap), sum(1 for y in gap if y in paid_back_years)


def resident_coverage(
    *,
    year: int,
    paid_on: date,
    birth_date: date,
    exempt_group: str | None,
    lapsed: int,
    paid_back: int,
    params: PremiumParams,
) -> Coverage:
    """Coverage start for a resident premium paid on ``paid_on`` for ``year``.

    Order: newborn (from birth), window without lapse (Jan 1), special group (later of payment
    and Jan 1), otherwise the waiting period counted from the later of payment and Jan 1:
    fixed months + months per lapsed year not paid back.
    """
    jan1 = date(year, 1, 1)
    if is_newborn(year, birth_date, paid_on, params):
        return Coverage(
            birth_date,
            NEWBORN,
            f"新生儿出生{(paid_on - birth_date).days}天内参保，自出生日起保障 newborn enrolled "
            f"{(paid_on - birth_date).days} days after birth: covered from the birth date, no waiting",
        )
    if in_window(year, paid_on, params) and lapsed == 0:
        return Coverage(
            jan1, IN_WINDOW, f"集中缴费期内缴费，{year}年1月1日起保障 paid in the collection window: covered from Jan 1"
        )
    base = max(paid_on, jan1)
    if exempt_group is not None:
        return Coverage(
            base,
            SPECIAL_GROUP,
            f"特殊群体({exempt_group})无等待期 special group {exempt_group}: no waiting period, covered from {base}",
        )
    w = params.waiting
    variable = max(0, lapsed - paid_back) * w.months_per_lapsed_year
    months = w.fixed_months + variable
    start = add_months(base, months)
    if lapsed:
        reason = WAITING_LAPSED
        why = (
            f"断保{lapsed}年(补缴{paid_back}年)：等待期 {w.fixed_months} + {variable} = {months} 个月 "
            f"lapsed {lapsed} year(s), {paid_back} paid back: waiting {w.fixed_months} fixed + {variable} "
            f"variable = {months} months from {base}"
        )
    else:
        reason = WAITING_OUTSIDE_WINDOW
        why = (
            f"集中缴费期外缴费：等待期 {months} 个月 paid outside the collection window: waiting "
            f"{months} months from {base}"
        )
    return Coverage(start, reason, why, months)


def employee_coverage(*, month: date, waiting_months: int, run_start: date) -> Coverage:
    """Employee coverage derived from a contribution for ``month`` (its first day).

    ``run_start`` is the first month of the unbroken run of contributed months (any employer)
    that contains ``month``. Covered from the first day of the contributed month, but not before
    ``run_start`` + ``waiting_months``: a new contributor waits once, a job change without a gap
    or a new calendar year does not start the waiting again.
    """
    label = month.strftime("%Y-%m")
    waited = add_months(run_start, max(waiting_months, 0))
    if waited <= month:
        return Coverage(
            month,
            EMPLOYEE_CONTRIBUTION,
            f"职工医保缴费，自{label}起保障 employee contributions from {label}: covered from {month}",
        )
    return Coverage(
        waited,
        EMPLOYEE_WAITING,
        f"职工医保自{run_start:%Y-%m}起新参保，等待期{waiting_months}个月 new employee contributor since "
        f"{run_start:%Y-%m}: waiting {waiting_months} months, covered from {waited}",
        waiting_months,
    )
