"""A ledger movement is ``(movement, source)`` and one institution's: posting it again is a
no-op, posting another movement under its name is refused (before, ON CONFLICT DO NOTHING
dropped it silently: how the year-end clearing lost every institution's legs but the first)."""

from __future__ import annotations

from datetime import date

import pytest

from yibao.errors import InvalidState
from yibao.ledger.postings import post_pair


async def test_a_movement_is_posted_once_and_never_overwritten_by_another(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        try:

            async def post(institution: str, amount: int) -> bool:
                return await post_pair(
                    s,
                    movement="clearing",
                    source="clearing:1999:test-movement",
                    institution_code=institution,
                    fund="basic",
                    debit="claims",
                    credit="payable",
                    amount=amount,
                    business_date=date(2000, 1, 3),
                )

            # given one institution's movement
            assert await post("LEDGER-A", 1_000) is True
            # when it is posted again, then nothing is written
            assert await post("LEDGER-A", 1_000) is False
            # when another institution's (or another amount) comes under the same name, it is refused
            for institution, amount in (("LEDGER-B", 1_000), ("LEDGER-A", 2_000)):
                async with s.begin_nested():
                    with pytest.raises(InvalidState):
                        await post(institution, amount)
        finally:
            await s.rollback()  # nothing of it stays
