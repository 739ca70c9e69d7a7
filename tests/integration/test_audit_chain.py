"""The audit chain verifies when untouched and names the first edited or removed entry."""

from __future__ import annotations

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


async def test_chain_detects_edit_and_removal(sessionmaker) -> None:
    ids = await _append(sessionmaker, 5, "edit")
    async with sessionmaker() as s:
        checked, broken = await audit.verify(s)
    assert broken is None and checked >= 5

    async with sessionmaker() as s, s.begin():
        await s.execute(update(AuditRow).where(AuditRow.id == ids[2]).values(actor="mallory"))
    async with sessionmaker() as s:
        _, broken = await audit.verify(s)
    assert broken is not None and broken.entry_id == ids[2] and "edited" in broken.reason

    async with sessionmaker() as s, s.begin():
        await s.execute(update(AuditRow).where(AuditRow.id == ids[2]).values(actor="alice"))
        await s.execute(delete(AuditRow).where(AuditRow.id == ids[3]))
    async with sessionmaker() as s:
        _, broken = await audit.verify(s)
    assert broken is not None and broken.entry_id == ids[4] and "removed" in broken.reason
    async with sessionmaker() as s, s.begin():  # leave an intact chain for other tests
        await s.execute(delete(AuditRow))
        assert (await s.scalar(select(AuditRow.id).limit(1))) is None


async def test_concurrent_appends_never_fork(sessionmaker) -> None:
    import asyncio

    await asyncio.gather(*(_append(sessionmaker, 3, f"c{k}") for k in range(6)))
    async with sessionmaker() as s:
        checked, broken = await audit.verify(s)
        prevs = (await s.scalars(select(AuditRow.prev_hash))).all()
    assert broken is None and checked == 18
    assert len(prevs) == len(set(prevs))
