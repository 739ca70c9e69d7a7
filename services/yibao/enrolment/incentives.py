"""Critical-illness incentives derived from history (DOMAIN §2): continuity and zero-claim credit.

The pure rule (``derive``) states the definition; ``yibao.enrolment.service.refresh_incentives``
computes the same in one set-based UPDATE for any number of people, so the year-end rollover
costs one statement. Definitions for coverage year Y (history = years before Y only; a payout
in Y counts from Y+1):

* continuous_years = enrolled years in an unbroken run ending at Y−1 (any scheme);
* zero_claim_credit = zero_claim_step × enrolled years before Y, after the last year with a
  critical-illness payout, in which no fund paid anything in non-cancelled settlements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from yibao.money import Fen, yuan_to_fen

DEFAULT_ZERO_CLAIM_STEP = yuan_to_fen("3000.00")


@dataclass(frozen=True)
class YearHistory:
    fund_paid: int = 0
    critical_paid: int = 0


@dataclass(frozen=True)
class Incentives:
    continuous_years: int
    zero_claim_credit: Fen


def derive(year: int, enrolled: Mapping[int, YearHistory], zero_claim_step: Fen) -> Incentives:
    """Pure definition over one person's enrolled years (year → what the funds paid that year)."""
    run = 0
    y = year - 1
    while y in enrolled:
        run += 1
        y -= 1
    credit = 0
    for y in sorted(k for k in enrolled if k < year):
        h = enrolled[y]
        if h.critical_paid > 0:
            credit = 0
        elif h.fund_paid == 0:
            credit += zero_claim_step
    return Incentives(run, Fen(credit))
