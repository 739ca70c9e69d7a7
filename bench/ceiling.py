"""The database's own limit for settlements: the settle path's SQL, replayed without the API.

Why: the goal compares the API with pgbench's TPC-B, whose transaction is three one-row
UPDATEs and one small INSERT. A settlement writes ~20 rows: the bill, its lines, its trace
codes, the accumulators, the account and its movement, the outbox event and the stored answer
for retries. This measures what PostgreSQL itself sustains for exactly the statements
``settle`` sends, with parameters captured from the real API: the ceiling no application on
this machine could beat, and so how close the API comes to the database's limit.

* **capture** (in-process, like ``roundtrips.py``): settle template bills through
  ``create_app`` and record the parameters of each bill's claim+lock, account lock and record
  statements (``yibao.bill_settlement.sql``);
* **replay** (``python bench/ceiling.py replay …``, a separate process, so its CPU is its
  own): C pooled asyncpg connections in a closed loop, each bill in its own transaction with
  a fresh Idempotency-Key, visit number, ids and trace codes, so every replay is a new
  settlement (not an idempotent retry). Personal accounts get a large top-up first, so
  repeated debits never meet the balance check.

The parent samples PostgreSQL's CPU over the replay's window, as ``run.py`` does for the API.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import pickle
import random
import resource
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop
from bills import Template
from roundtrips import send_bill

from yibao.uuids import uuid7

Captured = list[tuple[str, dict[str, Any]]]  # one bill: (statement name, parameters) in order
TOP_UP_FEN = 10**12


def _statements() -> dict[str, Any]:
    from yibao.bill_settlement import sql

    return {"claim": sql.CLAIM_AND_LOCK, "lock_account": sql.LOCK_ACCOUNT, "record": sql.RECORD_SETTLEMENT}


# ---------------------------------------------------------------- capture (in the parent)


async def capture(database_url: str, templates: list[Template], bills: int) -> list[Captured]:
    """Settle ``bills`` bills through the real app and return each one's statements."""
    from api.app import create_app
    from yibao.config import Settings
    from yibao.db.statements import ConnectionDb

    by_identity = {id(stmt): name for name, stmt in _statements().items()}
    current: Captured = []
    fetchrow, fetchval = ConnectionDb.fetchrow, ConnectionDb.fetchval

    async def recording_fetchrow(self: ConnectionDb, stmt: Any, params: Any) -> Any:
        if id(stmt) in by_identity:
            current.append((by_identity[id(stmt)], dict(params)))
        return await fetchrow(self, stmt, params)

    async def recording_fetchval(self: ConnectionDb, stmt: Any, params: Any) -> Any:
        if id(stmt) in by_identity:
            current.append((by_identity[id(stmt)], dict(params)))
        return await fetchval(self, stmt, params)

    settings = Settings(
        database_url=database_url, run_outbox_relay=False, rate_limit_enabled=False, log_level="WARNING"
    )
    app = create_app(settings)
    captured: list[Captured] = []
    ConnectionDb.fetchrow, ConnectionDb.fetchval = recording_fetchrow, recording_fetchval  # type: ignore[method-assign]
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                salt = secrets.token_hex(2)[:3]
                for n in range(bills):
                    current.clear()
                    status = await send_bill(client, templates[n % len(templates)], salt, n)
                    if status == 201 and any(name == "record" for name, _ in current):
                        captured.append(list(current))
    finally:
        ConnectionDb.fetchrow, ConnectionDb.fetchval = fetchrow, fetchval  # type: ignore[method-assign]
    return captured


async def top_up_accounts(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE personal_accounts SET balance = balance + $1", TOP_UP_FEN)
    finally:
        await conn.close()


# ---------------------------------------------------------------- replay (its own process)


def fresh(bill: Captured, tag: str) -> Captured:
    """The same bill as a new settlement: new key, visit number, ids and trace codes."""
    key = f"ceiling-{tag}"
    out: Captured = []
    for name, params in bill:
        p = dict(params)
        if name == "claim":
            p["key"] = key
        elif name == "record":
            p.update(
                id=uuid7(),  # as settle makes them
                event_id=uuid7(),
                idempotency_key=key,
                visit_no=f"C{tag}",
                trace_codes=[f"{code}-{tag}" for code in p["trace_codes"]],
            )
        out.append((name, p))
    return out


async def replay(dsn: str, bills: list[Captured], concurrency: int, warmup: float, duration: float) -> dict[str, Any]:
    statements = _statements()
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    salt = secrets.token_hex(3)
    serial = itertools.count()
    started = time.monotonic()
    opens, closes = started + warmup, started + warmup + duration
    errors: dict[str, int] = {}

    async def client(seed: int) -> int:
        rng, done = random.Random(seed), 0
        async with pool.acquire() as conn:
            while time.monotonic() < closes:
                bill = fresh(rng.choice(bills), f"{salt}{next(serial)}")
                try:
                    async with conn.transaction():
                        for name, params in bill:
                            stmt = statements[name]
                            await conn.fetchval(stmt.sql, *stmt.args(params))
                except asyncpg.PostgresError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                done += opens <= time.monotonic() < closes
        return done

    async def window() -> None:
        await asyncio.sleep(warmup)
        print("WINDOW_START", flush=True)
        cpu_at_open = _own_cpu()
        await asyncio.sleep(duration)
        print("WINDOW_END", flush=True)
        window_cpu.append(_own_cpu() - cpu_at_open)

    window_cpu: list[float] = []
    counts = await asyncio.gather(window(), *(client(seed) for seed in range(concurrency)))
    await pool.close()
    settled = sum(counts[1:])
    return {
        "tps": settled / duration,
        "settled": settled,
        "errors": errors,
        "client_cpu_s": window_cpu[0],
        "concurrency": concurrency,
        "duration_s": duration,
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="replay captured settlement statements (run by bench/run.py)")
    p.add_argument("command", choices=["replay"])
    p.add_argument("--dsn", required=True)
    p.add_argument("--bills", type=Path, required=True, help="pickle written by capture")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=20.0)
    args = p.parse_args(argv)
    bills = pickle.loads(args.bills.read_bytes())
    result = uvloop.run(replay(args.dsn, bills, args.concurrency, args.warmup, args.duration))
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
