"""Process-wide resources the app owns for its lifetime (engine, caches, broker)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.ratelimit import RateLimiter
from yibao.config import Settings
from yibao.reference import ReferenceCache


@dataclass
class CredentialCache:
    """Hash → principal for a short while: auth must not cost a round trip per request."""

    ttl_seconds: float = 10.0  # a revoked key stops working everywhere within this
    _entries: dict[str, tuple[float, object]] = field(default_factory=dict)

    def get(self, key: str) -> object | None:
        hit = self._entries.get(key)
        if hit is None or time.monotonic() - hit[0] > self.ttl_seconds:
            return None
        return hit[1]

    def put(self, key: str, value: object) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), value)

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    pg: asyncpg.Pool  # the settle path's own connections (plain asyncpg, no ORM session)
    refs: ReferenceCache
    credentials: CredentialCache
    limiter: RateLimiter
    redis: Redis  # nonces of signed requests
