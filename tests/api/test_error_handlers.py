"""What the last-resort handlers of ``api/errors.py`` say (#14.2, #14.6): the catch-all says only
what it knows (a defect, logged; not "nothing was written", which it cannot know), and an
``OSError`` is a retryable 503 only when the database could not be reached; any other is a
500 with its details logged.

A small app with the product's handlers installed (``api.errors.install``) and routes that fail
the way production code can, called over HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from api import errors
from tests.conftest import BASE_PG


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/file")
    async def missing_file() -> None:
        open("/nonexistent/yibao-report-template.csv").close()  # noqa: ASYNC230

    @app.get("/database")
    async def database_unreachable() -> None:
        closed = BASE_PG.replace("postgresql+asyncpg", "postgresql").rsplit(":", 1)[0] + ":1/yibao"
        await asyncpg.connect(closed, timeout=5)  # nothing listens on port 1

    @app.get("/defect")
    async def defect() -> None:
        raise KeyError("an unexpected key")

    return app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_an_os_error_that_is_not_the_database_is_a_logged_500(client, caplog: pytest.LogCaptureFixture) -> None:
    # when: a handler trips over a missing file (an OSError, nothing to do with PostgreSQL)
    with caplog.at_level(logging.ERROR, logger="yibao.api"):
        r = await client.get("/file")
    # then: a 500 in the error shape, not a false "database unavailable" 503, and the details logged
    assert r.status_code == 500, r.text
    assert r.json()["error"]["code"] == "INTERNAL"
    logged = [rec for rec in caplog.records if rec.exc_info and isinstance(rec.exc_info[1], FileNotFoundError)]
    assert logged and "yibao-report-template.csv" in str(logged[0].exc_info[1])  # type: ignore[index]


async def test_a_database_that_cannot_be_reached_is_a_503(client) -> None:
    r = await client.get("/database")
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE" and r.headers["Retry-After"] == "1"


async def test_the_catch_all_says_only_what_it_knows(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="yibao.api"):
        r = await client.get("/defect")
    assert r.status_code == 500 and r.json()["error"]["code"] == "INTERNAL", r.text
    message = r.json()["error"]["message"]
    assert "nothing was written" not in message
    assert "not known" in message and "logged" in message
    assert any(rec.exc_info and isinstance(rec.exc_info[1], KeyError) for rec in caplog.records)
