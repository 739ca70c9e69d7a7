"""Per-run database (built by the real migrations) and per-run Redis db index + namespace.

Runs never collide: each creates ``yibao_test_<random>`` and drops it at the end, and
uses its own Redis database index and broker namespace (no FLUSHALL, ever).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from yibao.config import REPO_ROOT, Settings
from yibao.db import admin

BASE_PG = os.environ.get("TEST_PG_URL", "postgresql+asyncpg://postgres@localhost:5432")
#: one server secret for the whole run, in the environment before any settings are built: the
#: audit chain's key derives from it, and every settings object (this process's cached one after
#: a test clears it, a CLI command's, a live server's) must sign the one chain with the same key.
#: Without it the key came from the state directory, which some tests point elsewhere.
os.environ.setdefault("SECRET_KEY", "test-run-" + secrets.token_urlsafe(36))
BASE_REDIS = os.environ.get("TEST_REDIS_URL", "redis://localhost:6379")


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    run = secrets.token_hex(4)
    redis_db = 1 + secrets.randbelow(15)
    s = Settings(
        database_url=f"{BASE_PG}/yibao_test_{run}",
        redis_url=f"{BASE_REDIS}/{redis_db}",
        broker_namespace=f"yibao-test-{run}",
        run_outbox_relay=False,
        reference_cache_seconds=0.0,
        db_pool_size=20,
        reference_dir=REPO_ROOT / "data" / "reference",
        # the limiter runs, but the suite's one admin token sends more than a clerk's 600 a
        # minute; the limits themselves are tested with tight ones (tests/api/test_auth.py)
        rate_limit_staff="100000/minute",
        rate_limit_institution="100000/minute",
        rate_limit_member="100000/minute",
    )
    asyncio.run(admin.create_database(s.database_url))
    admin.upgrade(s.database_url)
    asyncio.run(_load_reference(s))
    try:
        yield s
    finally:
        asyncio.run(admin.drop_database(s.database_url))


async def _load_reference(s: Settings) -> None:
    from yibao.db.engine import make_engine, make_sessionmaker
    from yibao.reference.loader import load_reference

    engine = make_engine(s, pool_size=1)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_reference(session, s.reference_dir)
    await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    from api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest_asyncio.fixture(scope="session")
async def sessionmaker(app: FastAPI):  # type: ignore[no-untyped-def]
    return app.state.runtime.sessionmaker


async def _issue(app: FastAPI, make) -> str:  # type: ignore[no-untyped-def]
    async with app.state.runtime.sessionmaker() as session, session.begin():
        return str(await make(session))


@pytest_asyncio.fixture(scope="session")
async def admin_headers(app: FastAPI) -> dict[str, str]:
    from yibao.auth.tokens import create_staff_token

    token = await _issue(app, lambda s: create_staff_token(s, "admin", "pytest"))
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture(scope="session")
async def institution_keys(app: FastAPI) -> dict[str, str]:
    """A key for every reference institution, by code."""
    from yibao.auth.tokens import create_institution_key

    codes = ["H430522001", "H430522010", "H430522100", "H430522101", "H430522200", "H430100300", "P430522500"]
    return {c: await _issue(app, lambda s, c=c: create_institution_key(s, c)) for c in codes}


@pytest.fixture
def hospital(institution_keys: dict[str, str]) -> dict[str, str]:
    """Headers of the county people's hospital (level 2, region 430522)."""
    return {"Authorization": f"Bearer {institution_keys['H430522100']}"}
