"""Per-caller rate limits in Redis (the ``limits`` library, fixed window), answered with 429 +
``Retry-After``. Shared by every API process because the counters live in Redis.

If Redis is unreachable the limiter fails open for a few seconds and logs it: an outage of the
limiter must not stop hospitals settling bills (the database still protects every invariant).
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from yibao.config import Settings
from yibao.errors import RateLimited

log = logging.getLogger("yibao.ratelimit")
OPEN_SECONDS = 5.0


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
        self._limiter = FixedWindowRateLimiter(storage)  # type: ignore[arg-type]
        self._open_until = 0.0

    async def check(self, kind: str, who: str) -> None:
        """Count one request of ``who``; raise ``RateLimited`` once its window is used up."""
        if not self.enabled or time.monotonic() < self._open_until:
            return
        item = self._items[kind]
        try:
            if await self._limiter.hit(item, kind, who):
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
