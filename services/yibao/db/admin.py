"""Database lifecycle: create if missing, migrate with Alembic (the one source of schema)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from yibao.config import REPO_ROOT


def _plain_dsn(database_url: str, database: str | None = None) -> tuple[str, str]:
    url = make_url(database_url)
    name = url.database or "yibao"
    dsn = url.set(drivername="postgresql", database=database or name)
    return dsn.render_as_string(hide_password=False), name


async def create_database(database_url: str) -> bool:
    """``CREATE DATABASE`` if it does not exist yet; ``True`` when it was created."""
    admin_dsn, name = _plain_dsn(database_url, "postgres")
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


async def drop_database(database_url: str) -> None:
    admin_dsn, name = _plain_dsn(database_url, "postgres")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(Path(REPO_ROOT / "migrations")))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
