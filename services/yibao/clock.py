"""Injectable time, so midnight boundaries and year ends can be tested without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Aware UTC now."""
    return _now()


def today() -> date:
    """The business date in China (the fund's day closes at Beijing midnight)."""
    return now().astimezone(CHINA).date()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Tests freeze or move time; ``None`` restores the wall clock."""
    global _now
    _now = fn or (lambda: datetime.now(UTC))
