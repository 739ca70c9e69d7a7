"""Time-ordered UUIDs (version 7, RFC 9562) for the keys of rows written on the hot path.

Why not ``uuid4``: a random key lands on a random leaf of its B-tree index, so under load
every insert touches a different page, and the first touch of a page after each checkpoint
writes the whole 8 kB page to the WAL. Measured on the settle path (``pg_waldump --stats``),
full-page images of B-tree leaves were 36% of the WAL a settlement wrote. A version-7 UUID
starts with the millisecond it was made, so consecutive settlements and events append to the
rightmost leaf of their primary-key and unique indexes, as a sequence would, while staying
unguessable (74 random bits) and unique without a round trip.

Python 3.14 has ``uuid.uuid7()``; this is the same layout for 3.11.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0b10 << 62


def uuid7() -> uuid.UUID:
    """48 bits of Unix milliseconds, version 7, 12 + 62 random bits, RFC variant."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 random bits, 74 used
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    return uuid.UUID(int=(millis & ((1 << 48) - 1)) << 80 | _VERSION_7 | rand_a << 64 | _VARIANT_RFC | rand_b)
