"""``alembic upgrade head`` builds the whole schema on an empty database; downgrade removes it."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from tests.conftest import BASE_PG
from yibao.db import admin
from yibao.db.models import metadata


def _tables(url: str) -> set[str]:
    async def go() -> set[str]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {r["tablename"] for r in rows}
        finally:
            await conn.close()

    return asyncio.run(go())


def test_upgrade_head_then_downgrade_base() -> None:
    url = f"{BASE_PG}/yibao_migr_{secrets.token_hex(4)}"
    asyncio.run(admin.create_database(url))
    try:
        admin.upgrade(url, "head")
        assert set(metadata.tables) <= _tables(url)
        admin.downgrade(url, "base")
        assert _tables(url) <= {"alembic_version"}
        admin.upgrade(url, "head")
        assert set(metadata.tables) <= _tables(url)
    finally:
        asyncio.run(admin.drop_database(url))
