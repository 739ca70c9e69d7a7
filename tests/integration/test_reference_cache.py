"""The reference cache answers from its last copy while it reloads in the background.

Time past the TTL comes from an injected monotonic clock, never from sleeping against it."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from yibao.institutions.orm import InstitutionRow
from yibao.reference import ReferenceCache


async def _rename(sessionmaker, code: str, name: str) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        await s.execute(update(InstitutionRow).where(InstitutionRow.code == code).values(name=name))


async def _name_once_reloaded(cache: ReferenceCache, code: str, stale: str) -> str:
    """The background reload is real database I/O: yield until it lands (bounded), no TTL race."""
    for _ in range(500):
        name = (await cache.get()).institutions[code].name
        if name != stale:
            return name
        await asyncio.sleep(0.01)
    return stale


async def test_a_stale_copy_answers_at_once_and_the_reload_lands_in_the_background(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    # given a cache with a 60 s TTL on a clock the test moves, and an institution renamed after the load
    now = [1000.0]
    cache = ReferenceCache(sessionmaker, ttl_seconds=60, monotonic=lambda: now[0])
    code = "H430522001"
    original = (await cache.get()).institutions[code].name
    try:
        await _rename(sessionmaker, code, "改名后的医院")
        # when the TTL has not passed, then the cached copy answers
        now[0] += 59.999
        assert (await cache.get()).institutions[code].name == original
        for _ in range(5):  # and no reload was started behind it
            await asyncio.sleep(0)
        assert (await cache.get()).institutions[code].name == original
        # when it has passed, then the stale copy answers at once and the reload lands behind it
        now[0] += 0.001
        assert (await cache.get()).institutions[code].name == original
        assert await _name_once_reloaded(cache, code, original) == "改名后的医院"
        # and a staff edit in this process (invalidate) makes the next caller wait for fresh data
        cache.invalidate()
        await _rename(sessionmaker, code, original)
        assert (await cache.get()).institutions[code].name == original
    finally:
        await _rename(sessionmaker, code, original)
