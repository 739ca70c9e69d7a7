"""Money is integer fen (分). One rounding rule, one wire format.

Why integers: a settlement must satisfy its identities exactly (parts sum to the total),
and integer fen make that a matter of addition, not of hoping floats behave.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NewType

Fen = NewType("Fen", int)

ZERO = Fen(0)
_ONE = Decimal(1)


def round_fen(value: Decimal) -> Fen:
    """Round a (possibly fractional) number of fen half-up to a whole fen.

    Half-up is the rounding the fund's rules name for every step (line amount,
    over-cap part, pre self-pay, basic, critical, assistance).
    """
    return Fen(int(value.quantize(_ONE, rounding=ROUND_HALF_UP)))


def share(amount: int, ratio: Decimal) -> Fen:
    """``amount × ratio`` rounded half-up to the fen."""
    return round_fen(Decimal(amount) * ratio)


def yuan_to_fen(text: str | Decimal | int) -> Fen:
    """Parse a yuan amount ("12.30", Decimal) into fen; refuses sub-fen precision."""
    try:
        value = Decimal(text) if not isinstance(text, Decimal) else text
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {text!r}")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"amount has more than two decimals: {text!r}")
    return Fen(int(fen))


def to_wire(value: int) -> str:
    """Fen as the contract's JSON string with exactly two decimals ("12.30", "-0.50").

    Integer arithmetic, not ``Decimal``: a settlement's answer formats ~100 amounts, and
    this was a visible share of the settle path's CPU."""
    yuan, fen = divmod(abs(value), 100)
    return f"{'-' if value < 0 else ''}{yuan}.{fen:02d}"
