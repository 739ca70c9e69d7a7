"""The operator's command line: what it refuses and what it waits for."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from tools.cli import main
from tools.simulate import patient_transport
from yibao.config import Settings, get_settings


async def test_simulate_waits_out_a_rate_limit_and_sends_again() -> None:
    # given a server that answers 429 with Retry-After twice before taking the POST
    seen: list[bytes] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        if len(seen) < 3:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "RATE_LIMITED"}})
        return httpx.Response(201, json={"ok": True})

    transport = patient_transport(httpx.Limits(), httpx.MockTransport(server))
    async with httpx.AsyncClient(base_url="http://api", transport=transport) as client:
        # when the simulator posts once
        response = await client.post("/api/v1/persons", json={"name": "张三"})

    # then it got the answer, having sent the same body three times
    assert response.status_code == 201
    assert len(seen) == 3 and len(set(seen)) == 1


async def test_simulate_does_not_retry_other_refusals() -> None:
    calls = 0

    def server(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, headers={"Retry-After": "0"})

    transport = patient_transport(httpx.Limits(), httpx.MockTransport(server))
    async with httpx.AsyncClient(base_url="http://api", transport=transport) as client:
        response = await client.post("/api/v1/settlements", json={})
    assert (response.status_code, calls) == (503, 1)


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """The CLI reads settings once per process; each command here runs with its own environment."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_downgrade_needs_an_explicit_revision_and_a_confirmation(settings: Settings) -> None:
    runner = CliRunner(env={"DATABASE_URL": settings.database_url})
    # no revision: a usage error, nothing run
    no_revision = runner.invoke(main, ["db", "downgrade"])
    assert no_revision.exit_code == 2 and "Missing argument 'REVISION'" in no_revision.output
    # a revision but "no" at the prompt: aborted, the schema untouched
    declined = runner.invoke(main, ["db", "downgrade", "base"], input="n\n")
    assert declined.exit_code == 1 and "drops every table and all their data" in declined.output
    assert "Aborted" in declined.output


def test_up_on_a_busy_port_exits_non_zero_before_minting_anything(settings: Settings) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {"API_HOST": "127.0.0.1", "API_PORT": str(port), "DATABASE_URL": settings.database_url}
        result = CliRunner(env=env).invoke(main, ["up"])
    assert result.exit_code == 2
    assert f"port 127.0.0.1:{port} is busy" in result.output and "API_PORT" in result.output
    assert "admin token" not in result.output and "institution key" not in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("yibao, version ")


def test_check_answers_for_the_database_and_redis(settings: Settings) -> None:
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    assert CliRunner(env=env).invoke(main, ["check"]).output.strip() == "ok"
    get_settings.cache_clear()
    # a database that does not answer: exit 1, named
    down = CliRunner(env={**env, "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}).invoke(
        main, ["check", "--timeout", "1"]
    )
    assert down.exit_code == 1 and "database:" in down.output and "redis:" not in down.output
