"""Small session helpers shared by the services."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import Duplicate

T = TypeVar("T")


async def add_unique(session: AsyncSession, row: T, what: str) -> T:
    """Insert ``row``; a unique-constraint hit becomes ``Duplicate`` (409), the transaction lives on."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == "23505" or "unique" in str(exc.orig).lower():
            raise Duplicate(f"{what} already exists") from None
        raise
    return row


async def ping(session: AsyncSession) -> None:
    """One round trip, so a health check proves the database answers (not just that a pool exists)."""
    await session.execute(text("SELECT 1"))
