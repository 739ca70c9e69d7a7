"""The reference cache answers from its last copy while it reloads in the background."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from yibao.institutions.orm import InstitutionRow
from yibao.reference import ReferenceCache


async def _rename(sessionmaker, code: str, name: str) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        await s.execute(update(InstitutionRow).where(InstitutionRow.code == code).values(name=name))


async def test_a_stale_copy_answers_at_once_and_the_reload_lands_in_the_background(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    cache = ReferenceCache(sessionmaker, ttl_seconds=0.05)
    code = "H430522001"
    original = (await cache.get()).institutions[code].name
    try:
        await _rename(sessionmaker, code, "改名后的医院")
        assert (await cache.get()).institutions[code].name == original  # still fresh: cached
        await asyncio.sleep(0.06)
        assert (await cache.get()).institutions[code].name == original  # stale: answered, reload started
        for _ in range(100):
            await asyncio.sleep(0.01)
            if (await cache.get()).institutions[code].name != original:
                break
        assert (await cache.get()).institutions[code].name == "改名后的医院"
        cache.invalidate()  # a staff edit in this process: the next caller waits for fresh data
        await _rename(sessionmaker, code, original)
        assert (await cache.get()).institutions[code].name == original
    finally:
        await _rename(sessionmaker, code, original)
