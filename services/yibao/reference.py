"""In-process cache of reference data (catalogue, institutions, active policies).

Why a cache: these tables change a few times a year but are read by every settlement; a
round trip per bill for them would halve throughput. Correctness: policy versions are
immutable rows, writes through this process call :meth:`ReferenceCache.invalidate`, and
other processes pick up changes within ``reference_cache_seconds``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao.benefit.inputs import CatalogueItem
from yibao.catalogue.repository import load_all as load_catalogue
from yibao.errors import PolicyNotFound
from yibao.institutions.agreements import Institution
from yibao.institutions.orm import InstitutionRow
from yibao.monitoring.repository import load_rules
from yibao.monitoring.rules import RuleSet
from yibao.policy.params import PolicyParams
from yibao.policy.repository import load_active


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
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._ttl = ttl_seconds
        self._data: ReferenceData | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> ReferenceData:
        if self._data is not None and time.monotonic() - self._loaded_at < self._ttl:
            return self._data
        async with self._lock:
            if self._data is None or time.monotonic() - self._loaded_at >= self._ttl:
                async with self._sessionmaker() as session:
                    self._data = await load_reference_data(session)
                self._loaded_at = time.monotonic()
        return self._data

    def invalidate(self) -> None:
        self._data = None
