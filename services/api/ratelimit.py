"""Per-caller rate limits in Redis (the ``limits`` library, fixed window), answered with 429 +
``Retry-After``. Shared by every API process because the counters live in Redis.

Counted locally, added up in Redis: a Redis round trip per request was ~7% of the API's CPU
per bill. Each process counts a caller's hits and adds them to the shared counter when it
last heard from Redis more than ``SYNC_SECONDS`` ago, or once its unsynced hits reach a
``LOCAL_SHARE`` of the headroom it last saw, and refuses only on the shared total. So a
caller far from its limit costs one Redis call per ``SYNC_SECONDS`` per process; near the
limit every request syncs, and up to ``LOCAL_SHARE`` processes together cannot pass more than
the headroom between two syncs.

If Redis is unreachable the limiter fails open for a few seconds and logs it: an outage of the
limiter must not stop hospitals settling bills (the database still protects every invariant).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import cast

from limits import RateLimitItem, parse
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from yibao.config import Settings
from yibao.errors import RateLimited

log = logging.getLogger("yibao.ratelimit")
OPEN_SECONDS = 5.0
SYNC_SECONDS = 0.5
LOCAL_SHARE = 4  # a process passes unsynced at most 1/LOCAL_SHARE of the headroom it last saw
MAX_TALLIES = 10_000  # callers remembered per process (members are many); beyond, start afresh


@dataclass
class _Tally:
    """One caller's window as this process last heard it from Redis, plus its own hits since."""

    shared: int = 0
    pending: int = 0
    synced_at: float = -math.inf


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._items: dict[str, RateLimitItem] = {
            "institution": parse(settings.rate_limit_institution),
            "staff": parse(settings.rate_limit_staff),
            "member": parse(settings.rate_limit_member),
            "login": parse(settings.rate_limit_login),
        }
        uri = "async+" + settings.redis_url
        storage = storage_from_string(
            uri,
            implementation="redispy",
            key_prefix=f"{settings.broker_namespace}:rl",
            socket_timeout=0.25,
            socket_connect_timeout=0.25,
        )
        self._storage = cast(AsyncStorage, storage)  # "async+" URI: an asyncio storage
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._open_until = 0.0
        self._tallies: dict[tuple[str, str], _Tally] = {}

    async def check(self, kind: str, who: str) -> None:
        """Count one request of ``who``; raise ``RateLimited`` once its window is used up."""
        now = time.monotonic()
        if not self.enabled or now < self._open_until:
            return
        item = self._items[kind]
        tally = self._tally(kind, who)
        tally.pending += 1
        if tally.pending <= (item.amount - tally.shared) // LOCAL_SHARE and now - tally.synced_at < SYNC_SECONDS:
            return  # well within the limit; added to Redis at the next sync
        try:
            await self._sync(item, kind, who, tally, now)
            if tally.shared <= item.amount:
                return
            stats = await self._limiter.get_window_stats(item, kind, who)
        except Exception as exc:  # Redis down or slow: fail open for a while
            self._open_until = time.monotonic() + OPEN_SECONDS
            log.warning("rate limiter unavailable (%s); not limiting for %.0f s", type(exc).__name__, OPEN_SECONDS)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"请求过于频繁 too many requests for this caller ({item}); retry in {retry_after} s",
            retry_after=retry_after,
        )

    def _tally(self, kind: str, who: str) -> _Tally:
        tally = self._tallies.get((kind, who))
        if tally is None:
            if len(self._tallies) >= MAX_TALLIES:
                self._tallies.clear()
            tally = self._tallies[(kind, who)] = _Tally()
        return tally

    async def _sync(self, item: RateLimitItem, kind: str, who: str, tally: _Tally, now: float) -> None:
        """Add this process's hits to the shared window and learn its total."""
        hits, tally.pending = tally.pending, 0
        tally.shared = await self._storage.incr(item.key_for(kind, who), item.get_expiry(), amount=hits)
        tally.synced_at = now
