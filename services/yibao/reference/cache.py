"""In-process cache of reference data (catalogue, institutions, active policies, monitoring rules).

Why a cache: these tables change a few times a year but are read by every settlement; a
round trip per bill for them would halve throughput. Correctness: policy versions are
immutable rows, writes through this process call :meth:`ReferenceCache.invalidate`, and
other processes pick up changes within ``reference_cache_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao.catalogue.repository import load_all as load_catalogue
from yibao.errors import PolicyNotFound
from yibao.institutions.agreements import Institution
from yibao.institutions.orm import InstitutionRow
from yibao.monitoring.repository import load_rules
from yibao.monitoring.rules import RuleSet
from yibao.policy.params import PolicyParams
from yibao.policy.repository import load_active
from yibao.values import CatalogueItem

log = logging.getLogger("yibao.reference")


@dataclass(frozen=True)
class ReferenceData:
    catalogue: dict[str, CatalogueItem]
    institutions: dict[str, Institution]
    policies: dict[tuple[str, int], PolicyParams]
    #: monitoring rules in force, cached with the rest (changes through this process invalidate)
    rules: RuleSet = field(default_factory=RuleSet.defaults)

    def policy(self, region: str, year: int) -> PolicyParams:
        try:
            return self.policies[(region, year)]
        except KeyError:
            raise PolicyNotFound(
                f"统筹区 {region} 无 {year} 年度待遇政策 no policy loaded for region {region}, year {year}"
            ) from None


def _institution(row: InstitutionRow) -> Institution:
    return Institution(
        code=row.code,
        name=row.name,
        type=row.type,
        level=row.level,
        region=row.region,
        agreement=row.agreement,
        suspended_until=row.suspended_until,
        credit_grade=row.credit_grade,
        annual_budget=row.annual_budget,
        dip_coefficient=row.dip_coefficient,
    )


async def load_reference_data(session: AsyncSession) -> ReferenceData:
    institutions = await session.scalars(select(InstitutionRow))
    return ReferenceData(
        catalogue=await load_catalogue(session),
        institutions={row.code: _institution(row) for row in institutions},
        policies=await load_active(session),
        rules=await load_rules(session),
    )


class ReferenceCache:
    """The reference data, reloaded every ``ttl_seconds``: in the background while the last
    copy keeps answering.

    Why in the background: a reload is ~7 ms of CPU (catalogue, institutions, policies,
    rules); done in the request that found the copy stale, that request and every one that
    arrived meanwhile waited for it, every few seconds in every API process. Only the very
    first load, and the first after ``invalidate()`` (a staff edit in this process), is
    awaited. Staleness is bounded by ``ttl_seconds`` plus one reload; what must act at once
    (an institution's suspension) is read inside the settle transaction anyway.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``monotonic`` is injectable so a test moves time past the TTL instead of sleeping."""
        self._sessionmaker = sessionmaker
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._data: ReferenceData | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None
        self._generation = 0  # bumped by invalidate(): a reload begun before it is discarded

    async def get(self) -> ReferenceData:
        data = self._data
        if data is None or self._ttl <= 0:  # 0: no cache, every caller reads the tables (tests)
            async with self._lock:
                fresh = await self._load() if self._data is None or self._ttl <= 0 else self._data
            return fresh
        if self._monotonic() - self._loaded_at >= self._ttl and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._reload_quietly())
        return data

    async def _load(self) -> ReferenceData:
        """Read the tables; keep the result unless ``invalidate()`` was called meanwhile (then
        it may predate the change that called it, and the next caller reads again)."""
        generation = self._generation
        async with self._sessionmaker() as session:
            data = await load_reference_data(session)
        if generation == self._generation:
            self._data, self._loaded_at = data, self._monotonic()
        return data

    async def _reload_quietly(self) -> None:
        """A failed background reload keeps the last copy and is retried on the next request
        after ``ttl_seconds``, not raised into a request that did not ask for it."""
        try:
            async with self._lock:
                await self._load()
        except Exception as exc:  # database restarting: the last copy stays in use
            self._loaded_at = self._monotonic()
            log.warning("reference data reload failed, keeping the last copy: %s", exc)

    def invalidate(self) -> None:
        self._data = None
        self._generation += 1
