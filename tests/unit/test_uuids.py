"""Version-7 UUIDs: the layout RFC 9562 gives, and ordered by the millisecond they were made."""

from __future__ import annotations

import time
import uuid

from yibao.uuids import uuid7


def test_layout_is_version_7_rfc_variant_with_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    u = uuid7()
    after = time.time_ns() // 1_000_000
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert before <= u.int >> 80 <= after


def test_later_ids_sort_after_earlier_ones_and_never_repeat() -> None:
    first = [uuid7() for _ in range(1000)]
    time.sleep(0.002)
    later = [uuid7() for _ in range(1000)]
    assert max(first) < min(later)  # a new millisecond always sorts after the last one
    assert len(set(first + later)) == 2000
