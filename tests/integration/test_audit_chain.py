"""The audit chain verifies when untouched and names the first edited or removed entry.

Tampering happens inside a transaction that is rolled back: ``verify`` reads the tampered rows
through the same session, and the shared log of the run stays intact for every other test."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update

from yibao import audit
from yibao.audit.orm import AuditRow


async def _append(sessionmaker, n: int, tag: str) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):
        async with sessionmaker() as s, s.begin():
            row = await audit.record(
                s, audit.Actor("staff", "alice"), "test.action", ("thing", f"{tag}-{i}"), {"i": i, "note": "审核"}
            )
            ids.append(row.id)
    return ids


async def _verify(sessionmaker) -> tuple[int, audit.BrokenLink | None]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await audit.verify(s)


async def test_an_untouched_chain_verifies(sessionmaker) -> None:
    # given five more entries
    before, _ = await _verify(sessionmaker)
    await _append(sessionmaker, 5, "plain")
    # then the whole chain verifies, five entries longer
    checked, broken = await _verify(sessionmaker)
    assert broken is None and checked == before + 5


async def test_an_edited_entry_is_named(sessionmaker) -> None:
    # given five entries
    ids = await _append(sessionmaker, 5, "edit")
    async with sessionmaker() as s, s.begin():
        # when the third is edited (in a transaction that is rolled back)
        await s.execute(update(AuditRow).where(AuditRow.id == ids[2]).values(actor="mallory"))
        _, broken = await audit.verify(s)
        # then verify names it as edited
        assert broken is not None and broken.entry_id == ids[2] and "edited" in broken.reason
        await s.rollback()
    assert (await _verify(sessionmaker))[1] is None


async def test_a_removed_entry_breaks_the_next_link(sessionmaker) -> None:
    # given five entries
    ids = await _append(sessionmaker, 5, "remove")
    async with sessionmaker() as s, s.begin():
        # when the fourth is deleted (rolled back afterwards)
        await s.execute(delete(AuditRow).where(AuditRow.id == ids[3]))
        _, broken = await audit.verify(s)
        # then the fifth, whose predecessor vanished, is named
        assert broken is not None and broken.entry_id == ids[4] and "removed" in broken.reason
        await s.rollback()
    assert (await _verify(sessionmaker))[1] is None


async def test_concurrent_appends_never_fork(sessionmaker) -> None:
    # given the chain as it stands
    before, _ = await _verify(sessionmaker)
    # when six writers append three entries each at the same time
    written = await asyncio.gather(*(_append(sessionmaker, 3, f"c{k}") for k in range(6)))
    # then all 18 are in one unbroken chain, and no two entries share a predecessor
    checked, broken = await _verify(sessionmaker)
    async with sessionmaker() as s:
        prevs = (await s.scalars(select(AuditRow.prev_hash))).all()
    assert broken is None and checked == before + 18
    assert len({i for ids in written for i in ids}) == 18
    assert len(prevs) == len(set(prevs))
