"""A test's own rows in one transaction that is rolled back at the end (see ``rows.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.monitoring.rows import Rows


@pytest_asyncio.fixture
async def rows(sessionmaker) -> AsyncIterator[Rows]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session:
        try:
            yield Rows(session)
        finally:
            await session.rollback()
