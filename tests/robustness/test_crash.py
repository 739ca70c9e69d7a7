"""Kill the API and both workers with SIGKILL, again and again, while hospitals keep posting
bills and retrying (same Idempotency-Key) whatever goes wrong. Afterwards every acknowledged
settlement is stored exactly once, nothing unacknowledged is half-written, and every outbox
event reached both services exactly once in effect."""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from tests.builders import make_bill, make_person
from tests.robustness import live
from yibao.bill_settlement.orm import SettlementRow
from yibao.config import Settings
from yibao.db.orm import OutboxRow
from yibao.events.orm import InboxRow

BILLS = 240
CLIENTS = 6
PACE_SECONDS = 0.4  # between one till's bills: the load lasts long enough for ≥ 5 kills
FAST_RECOVERY = {
    "BROKER_HEARTBEAT_TIMEOUT_MS": "3000",
    "BROKER_MAINTENANCE_CHANCE": "200000",
    "RATE_LIMIT_ENABLED": "false",
    "OUTBOX_POLL_SECONDS": "0.1",
}


class System:
    """The API and both workers as killable process groups."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings, self.logs = settings, logs
        self.port = live.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, Any] = {}
        self.kills = 0

    def start(self, name: str) -> None:
        env = live.env_for(self.settings, **FAST_RECOVERY)
        if name == "api":
            args = [str(live.BIN / "yibao"), "api", "--port", str(self.port)]
        else:
            args = [str(live.BIN / "yibao"), "worker", name, "--processes", "1", "--threads", "2"]
        self.procs[name] = live.start(args, env, self.logs / f"{name}.log")

    def kill(self, name: str) -> None:
        live.kill(self.procs[name])
        self.kills += 1

    def stop_all(self) -> None:
        for proc in self.procs.values():
            live.kill(proc)


async def _clear_broker(settings: Settings) -> None:
    """Drop what killed workers left in this run's broker namespace (delayed retries, unacked
    messages): a later worker test drains whole queues and would otherwise wait on them."""
    import redis.asyncio as aioredis

    r = aioredis.from_url(settings.redis_url)
    try:
        keys = [k async for k in r.scan_iter(f"{settings.broker_namespace}*")]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()


async def _post_until_acknowledged(http: httpx.AsyncClient, key: str, body: dict[str, Any], hospital: str) -> str:
    """What a HIS does: resend the same request with the same key until it gets an answer."""
    for _ in range(400):
        try:
            r = await http.post(
                "/api/v1/settlements",
                json=body,
                timeout=10,
                headers={"Authorization": f"Bearer {hospital}", "Idempotency-Key": key},
            )
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
            continue
        if r.status_code in (200, 201):
            return str(r.json()["settlement_id"])
        assert r.status_code >= 500, r.text  # a 4xx would be a bug in this test's bills
        await asyncio.sleep(0.1)
    raise AssertionError(f"bill {key} never acknowledged")


async def _chaos(system: System, stop: asyncio.Event) -> None:
    """Kill a process every ~1 s, the API every other time. The API is killed only once it
    serves again: its start-up (~2 s here, more on a loaded machine) is longer than the pace,
    and killing it while it starts would test nothing but connection refusals."""
    targets = itertools.cycle(["api", "settlement", "api", "monitor"])
    while not stop.is_set():
        await asyncio.sleep(random.uniform(0.7, 1.4))
        name = next(targets)
        await asyncio.to_thread(system.kill, name)
        system.start(name)
        if name == "api":
            await asyncio.to_thread(live.wait_healthy, system.base)


async def _settled_everywhere(sessionmaker, within: float) -> tuple[int, int, dict[str, int]]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        async with sessionmaker() as s:
            events = await s.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.topic.like("settlement.%"))
            )
            unsent = await s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None)))
            rows = await s.execute(
                select(InboxRow.consumer, func.count())
                .where(InboxRow.topic.like("settlement.%"))
                .group_by(InboxRow.consumer)
            )
            inbox = {c: n for c, n in rows.all()}
        if (
            unsent == 0 and inbox.get("settlement") == events and inbox.get("monitor") == events
        ) or time.monotonic() > deadline:
            return int(events or 0), int(unsent or 0), inbox
        await asyncio.sleep(0.5)


async def _diagnose(sessionmaker, settings: Settings) -> str:  # type: ignore[no-untyped-def]
    """Which events are missing where, and what the broker still holds (for a failing run)."""
    import redis.asyncio as aioredis

    async with sessionmaker() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT o.event_id, o.topic, o.sent_at IS NOT NULL AS sent, array_agg(i.consumer) AS got "
                    "FROM outbox o LEFT JOIN inbox i ON i.event_id = o.event_id WHERE o.topic LIKE 'settlement.%' "
                    "GROUP BY 1, 2, 3 HAVING count(i.consumer) < 2"
                )
            )
        ).all()
    r = aioredis.from_url(settings.redis_url)
    keys = {k.decode(): await r.type(k) for k in await r.keys(f"{settings.broker_namespace}*")}
    sizes = {}
    for k, t in keys.items():
        t = t.decode()
        sizes[k] = await (
            r.llen(k)
            if t == "list"
            else r.scard(k)
            if t == "set"
            else r.hlen(k)
            if t == "hash"
            else r.zcard(k)
            if t == "zset"
            else r.strlen(k)
        )
    await r.aclose()
    return f"missing: {[(str(e), t, sent, got) for e, t, sent, got in rows][:10]}; broker: {sizes}"


@pytest.mark.slow
async def test_sigkill_loses_and_doubles_nothing(
    settings: Settings, client, admin_headers, institution_keys, sessionmaker, tmp_path: Path
) -> None:
    people = [await make_person(client, admin_headers) for _ in range(30)]
    system = System(settings, tmp_path)
    for name in ("api", "settlement", "monitor"):
        system.start(name)
    try:
        await asyncio.to_thread(live.wait_healthy, system.base)
        hospital = institution_keys["H430522100"]
        bills = [(f"crash-{secrets.token_hex(8)}", make_bill(random.choice(people))) for _ in range(BILLS)]
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        for b in bills:
            queue.put_nowait(b)
        acknowledged: dict[str, str] = {}

        async def his(http: httpx.AsyncClient) -> None:
            while not queue.empty():
                key, body = queue.get_nowait()
                acknowledged[key] = await _post_until_acknowledged(http, key, body, hospital)
                await asyncio.sleep(PACE_SECONDS)

        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=system.base) as http:
            chaos = asyncio.create_task(_chaos(system, stop))
            try:
                await asyncio.gather(*(his(http) for _ in range(CLIENTS)))
            finally:  # even on failure: a chaos step left running would restart a process after stop_all
                stop.set()
                await chaos
        for name in ("api", "settlement", "monitor"):  # make sure all three are up for the drain
            if system.procs[name].poll() is not None:
                system.start(name)
        events, unsent, inbox = await _settled_everywhere(sessionmaker, within=90)
    finally:
        system.stop_all()
        await _clear_broker(settings)

    assert system.kills >= 5
    assert len(acknowledged) == BILLS
    async with sessionmaker() as s:
        stored = (
            await s.execute(
                select(SettlementRow.idempotency_key, SettlementRow.id).where(
                    SettlementRow.idempotency_key.like("crash-%")
                )
            )
        ).all()
    by_key: dict[str, list[str]] = {}
    for key, sid in stored:
        by_key.setdefault(key, []).append(str(sid))
    assert {k: v for k, v in by_key.items() if len(v) != 1} == {}, "a bill stored twice"
    assert {k: v[0] for k, v in by_key.items()} == acknowledged, "stored ≠ acknowledged"
    assert unsent == 0, "outbox rows never sent"
    assert inbox == {"settlement": events, "monitor": events}, (
        f"events {events}, processed {inbox}; " + await _diagnose(sessionmaker, settings)
    )
    print(
        f"\ncrash test: {system.kills} SIGKILLs, {len(acknowledged)} acknowledged, {len(stored)} stored, "
        f"{events} events, processed {inbox}"
    )
