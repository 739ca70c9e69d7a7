"""The wire format of money: exactly two decimals, the sign in front, no rounding ever."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.benefit.explain import quantity
from yibao.money import to_wire, yuan_to_fen


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_to_wire_is_the_decimal_yuan_with_two_places_and_parses_back(fen: int) -> None:
    assert to_wire(fen) == str((Decimal(fen) / 100).quantize(Decimal("0.01")))
    assert yuan_to_fen(to_wire(fen)) == fen


def test_to_wire_examples() -> None:
    assert [to_wire(v) for v in (0, 5, 50, 1230, -50, -123456)] == [
        "0.00",
        "0.05",
        "0.50",
        "12.30",
        "-0.50",
        "-1234.56",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("7", "7"),
        ("7.000", "7"),
        ("1.5E+1", "15"),
        ("100", "100"),
        ("0.5", "0.5"),
        ("2.50", "2.5"),
        ("0.0001", "0.0001"),
        ("12.3400", "12.34"),
        ("1E+3", "1000"),
    ],
)
def test_quantity_examples(value: str, shown: str) -> None:
    assert quantity(Decimal(value)) == shown


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999999"), places=4))
def test_quantity_is_the_same_number_in_plain_notation_without_trailing_zeros(value: Decimal) -> None:
    text = quantity(value)
    assert Decimal(text) == value
    assert set(text) <= set("0123456789.")
    assert not text.endswith(".") and ("." not in text or not text.endswith("0"))
