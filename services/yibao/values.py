"""Value types shared across the floors: what the catalogue hands the benefit calculation,
and what a rule says about a bill.

Why here and not in ``benefit``: the catalogue (which builds catalogue items from its rows)
and the monitoring rules (which filter and add warnings) sit beside the benefit calculation,
not above it, so the types they share live on the ground floor with ``money``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from yibao.money import Fen


@dataclass(frozen=True)
class CatalogueItem:
    code: str
    name: str
    kind: str  # drug / service / consumable
    item_class: Literal["A", "B", "C"]
    b_self_pay_ratio: Decimal | None
    price_cap: Fen | None
    gender: Literal["M", "F"] | None = None
    min_age: int | None = None
    max_age: int | None = None
    min_level: int | None = None
    max_days_supply: int | None = None
    max_units_per_day: Decimal | None = None
    trace_required: bool = False
    procured: bool = False


@dataclass(frozen=True)
class RuleWarning:
    """A signal about a bill that lets it through: raised by the benefit calculation's line
    checks or by a monitoring rule, kept or dropped by the rules in force."""

    rule: str
    message: str
    #: the bill's lines it concerns (``line_no``; empty for a bill-level signal): for a review
    #: that names them (the national 3101/3102), not part of the signal's identity or wire form
    lines: tuple[int, ...] = field(default=(), compare=False)
