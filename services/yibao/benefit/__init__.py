"""Benefit calculation: the three-tier split of one bill (DOMAIN.md §4).

Pure: a function of (bill, person state, policy) with no I/O, clock or globals, so the
settlement API, pre-settlement, what-if replays, the national-platform adapter and the
FHIR view all get the same fen for the same inputs.
"""

from yibao.benefit.calculate import calculate
from yibao.benefit.inputs import (
    AccountState,
    Accrual,
    BenefitSplit,
    Bill,
    BillLine,
    Explanation,
    LineSplit,
    PersonState,
    Totals,
    YearAccumulators,
)
from yibao.values import CatalogueItem, RuleWarning

__all__ = [
    "AccountState",
    "Accrual",
    "BenefitSplit",
    "Bill",
    "BillLine",
    "CatalogueItem",
    "Explanation",
    "LineSplit",
    "PersonState",
    "RuleWarning",
    "Totals",
    "YearAccumulators",
    "calculate",
]
