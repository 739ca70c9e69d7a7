"""Nonces of signed institution requests: recorded durably, so a captured request never replays.

The database is the record (``request_nonces``): a nonce is accepted only if inserting it
succeeds. Redis is a cache in front of it, which refuses a replay without a database round
trip but is never trusted to let a request through: a Redis outage, restart or failover opens
no replay window. A nonce must be remembered as long as its timestamp can be accepted, i.e.
twice the allowed clock skew; rows older than that (plus a margin) are pruned, at most once a
``PRUNE_EVERY_SECONDS`` per process, by the request that happens to come along.
"""

from __future__ import annotations

import time

from yibao.db.statements import Db, Statement

PRUNE_EVERY_SECONDS = 60.0
MARGIN_SECONDS = 60

_REMEMBER = Statement(
    "INSERT INTO request_nonces (key_id, nonce) VALUES (:key_id, :nonce) ON CONFLICT DO NOTHING RETURNING 1"
)
_PRUNE = Statement(
    """
    WITH gone AS (DELETE FROM request_nonces WHERE seen_at < now() - make_interval(secs => :keep) RETURNING 1)
    SELECT count(*) FROM gone
    """
)
_last_prune = -PRUNE_EVERY_SECONDS


def keep_seconds(max_skew_seconds: int) -> int:
    """How long a nonce is remembered: a timestamp is fresh for 2 × the skew around its own time."""
    return 2 * max_skew_seconds + MARGIN_SECONDS


async def remember(db: Db, key_id: str, nonce: str) -> bool:
    """``True`` the first time this key uses this nonce (in the caller's transaction)."""
    return await db.fetchval(_REMEMBER, {"key_id": key_id, "nonce": nonce}) is not None


async def prune(db: Db, max_skew_seconds: int) -> int:
    """Delete nonces too old to matter; how many went."""
    return int(await db.fetchval(_PRUNE, {"keep": float(keep_seconds(max_skew_seconds))}))


def prune_due() -> bool:
    """Whether this process should prune now (and, if so, not again for a while)."""
    global _last_prune
    now = time.monotonic()
    if now - _last_prune < PRUNE_EVERY_SECONDS:
        return False
    _last_prune = now
    return True
