"""The audit chain's canonical encoding writes a list of plain ints or plain strings in one pass
(an import's entry lists 100,000s of people): the bytes must be those of value by value, or
every entry written since would stop verifying."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from yibao.audit.chain import canonical


def one_by_one(values: list[object]) -> bytes:
    return b"[" + b",".join(canonical(v) for v in values) + b"]"


@given(st.lists(st.integers(min_value=-(10**40), max_value=10**40) | st.sampled_from([0, 10, -100, 10**20])))
def test_a_list_of_ints_is_encoded_as_its_values(values: list[int]) -> None:
    assert canonical(values) == one_by_one(values)


@given(st.lists(st.text()))
def test_a_list_of_strings_is_encoded_as_its_values(values: list[str]) -> None:
    assert canonical(values) == one_by_one(values)


def test_a_mixed_list_takes_the_value_by_value_path() -> None:
    assert canonical([1, True, "a", None, 1.5, 10]) == b'[1e0,true,"a",null,15e-1,1e1]'
    assert canonical((7, 70)) == b"[7e0,7e1]"
    assert canonical([]) == b"[]"
    assert canonical([0, -120, 10**20, 123]) == b"[0,-12e1,1e20,123e0]"
