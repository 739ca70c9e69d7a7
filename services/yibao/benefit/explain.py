"""Small builders for :class:`Explanation` entries.

Why a module of its own: every fen of a settlement must be traceable to a rule and a policy
version (DOMAIN.md §4), and the counter staff read these strings; keeping the formatting in
one place keeps amounts in yuan with two decimals everywhere (via ``to_wire``).
"""

from __future__ import annotations

from decimal import Decimal

from yibao.benefit.inputs import Explanation
from yibao.money import to_wire

_FEN_PER_YUAN = Decimal(100)


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, the same text the wire carries."""
    return to_wire(fen)


def yuan_exact(fen: Decimal) -> str:
    """A possibly fractional fen amount as yuan, without hiding sub-fen digits."""
    value = fen / _FEN_PER_YUAN
    if value == value.quantize(Decimal("0.01")):
        return str(value.quantize(Decimal("0.01")))
    return str(value.normalize())


def ratio(value: Decimal) -> str:
    """A ratio as written in the policy document (at least two decimals)."""
    if value == value.quantize(Decimal("0.01")):
        return str(value.quantize(Decimal("0.01")))
    return str(value.normalize())


def quantity(value: Decimal) -> str:
    """A quantity without trailing-zero noise ("2", "0.5"); whole numbers, the common case,
    without formatting a Decimal."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def entry(part: str, rule: str, detail: str) -> Explanation:
    """One explanation line; ``part`` is a ``Totals`` field name."""
    return Explanation(part=part, rule=rule, detail=detail)
