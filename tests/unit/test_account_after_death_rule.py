"""The account-after-death rule (``yibao.accounts.rules``): a charge dated after the holder's death is
refused, one on or before the death day (or for a living holder) passes."""

from __future__ import annotations

from datetime import date

import pytest

from yibao.accounts.rules import refuse_after_death
from yibao.errors import PersonDeceased


def test_a_charge_after_the_death_is_refused_and_on_the_day_passes() -> None:
    died = date(2026, 3, 5)
    with pytest.raises(PersonDeceased) as caught:
        refuse_after_death(died, date(2026, 3, 6), "premium")
    assert "2026-03-05" in str(caught.value) and "inheritable" in str(caught.value)
    assert refuse_after_death(died, died, "bill") is None
    assert refuse_after_death(None, date(2099, 1, 1), "bill") is None
