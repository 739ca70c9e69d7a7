"""A job requested through the API runs once in its worker, reports progress and result,
and a redelivery or a second request with the same dedup key changes nothing."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import settlement.jobs
from tests.workers.conftest import work
from yibao.jobs import kinds
from yibao.jobs.runner import JobContext
from yibao.messaging.relay import relay_once


@dataclass
class EchoKind:
    """A job kind of this test only: its own name, so lists and calls see no other test's runs."""

    name: str
    calls: list[dict[str, Any]] = field(default_factory=list)

    def handler(self) -> Callable[[JobContext], Awaitable[dict[str, Any]]]:
        async def count_to(ctx: JobContext) -> dict[str, Any]:
            self.calls.append(ctx.params)
            n = int(ctx.params["n"])
            if n < 0:
                from yibao.errors import InvalidRequest

                raise InvalidRequest("n must not be negative")
            for i in range(0, n + 1, 5):
                await ctx.progress(i, n)
            return {"counted": n}

        return count_to


@pytest.fixture
def echo_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[EchoKind]:
    kind = EchoKind(f"count_to_{secrets.token_hex(3)}")
    monkeypatch.setitem(kinds.KINDS, kind.name, kinds.JobKind("settlement", ("finance",), "test job"))
    monkeypatch.setitem(settlement.jobs.HANDLERS, kind.name, kind.handler())
    yield kind


async def _drain(sessionmaker, broker) -> None:  # type: ignore[no-untyped-def]
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(work, broker)


async def test_job_runs_once_with_progress_and_result(client, admin_headers, sessionmaker, broker, echo_kind) -> None:
    body = {"kind": echo_kind.name, "params": {"n": 20}, "dedup_key": f"{echo_kind.name}-20"}
    r = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["state"] == "queued"

    again = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
    assert again.status_code == 200 and again.json()["id"] == run["id"]

    await _drain(sessionmaker, broker)
    done = (await client.get(f"/api/v1/jobs/{run['id']}", headers=admin_headers)).json()
    assert done["state"] == "succeeded"
    assert (done["processed"], done["total"]) == (20, 20)
    assert done["result"]["counted"] == 20
    assert done["attempts"] == 1
    assert echo_kind.calls == [{"n": 20}]

    listed = (await client.get(f"/api/v1/jobs?kind={echo_kind.name}", headers=admin_headers)).json()
    assert [j["id"] for j in listed["items"]] == [run["id"]]


async def test_finished_job_is_not_run_again_on_redelivery(
    client, admin_headers, sessionmaker, broker, echo_kind
) -> None:
    r = await client.post("/api/v1/jobs", json={"kind": echo_kind.name, "params": {"n": 5}}, headers=admin_headers)
    run_id = r.json()["id"]
    await _drain(sessionmaker, broker)
    from yibao.runtime import run_job

    async with sessionmaker() as s:
        from sqlalchemy import select

        from yibao.db.orm import OutboxRow

        event_id = await s.scalar(select(OutboxRow.event_id).where(OutboxRow.payload["run_id"].astext == run_id))
    await run_job("settlement", str(event_id), settlement.jobs.HANDLERS, 3)  # a redelivered message
    assert echo_kind.calls == [{"n": 5}]


async def test_domain_refusal_fails_the_run(client, admin_headers, sessionmaker, broker, echo_kind) -> None:
    r = await client.post("/api/v1/jobs", json={"kind": echo_kind.name, "params": {"n": -1}}, headers=admin_headers)
    await _drain(sessionmaker, broker)
    done = (await client.get(f"/api/v1/jobs/{r.json()['id']}", headers=admin_headers)).json()
    assert done["state"] == "failed"
    assert done["error"].startswith("INVALID_REQUEST")


async def test_unknown_kind_and_wrong_role_are_refused(client, admin_headers, app) -> None:
    from yibao.auth.tokens import create_staff_token

    r = await client.post("/api/v1/jobs", json={"kind": "nope"}, headers=admin_headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REQUEST"
    async with app.state.runtime.sessionmaker() as s, s.begin():
        clerk = await create_staff_token(s, "clerk", "clerk-1")
    r = await client.post(
        "/api/v1/jobs",
        json={"kind": "daily_settle", "params": {"date": "2026-01-01"}},
        headers={"Authorization": f"Bearer {clerk}"},
    )
    assert r.status_code == 403
    r = await client.get("/api/v1/jobs/not-a-uuid", headers=admin_headers)
    assert r.status_code == 404


async def test_progress_never_moves_backwards(client, admin_headers, sessionmaker, broker, echo_kind) -> None:
    """Models of one sweep run side by side; their progress reports may commit out of order."""
    import uuid

    from yibao.jobs.runner import JobContext

    r = await client.post("/api/v1/jobs", json={"kind": echo_kind.name, "params": {"n": 1}}, headers=admin_headers)
    ctx = JobContext(uuid.UUID(r.json()["id"]), sessionmaker, {})
    await ctx.progress(9, 9)
    await ctx.progress(8, 9)  # the slower of two parallel parts reports last
    run = (await client.get(f"/api/v1/jobs/{r.json()['id']}", headers=admin_headers)).json()
    assert (run["processed"], run["total"]) == (9, 9)
    await _drain(sessionmaker, broker)  # run it here, not in whichever test drains the queue next
    assert echo_kind.calls == [{"n": 1}]
