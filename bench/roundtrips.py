"""Count what one settlement costs in database round trips, in-process: SQLAlchemy events for
the ORM sessions, asyncpg's query logger for the settle path's own pool.

Why: on a two-core box every round trip is a wake-up of the event loop, a context switch
to a PostgreSQL backend and back, with row locks held in between. The profile shows the
CPU; this shows how many times per bill the request goes to the database and for what.
It drives the real app (``create_app``) through httpx's ASGI transport, so the count is
of the production code path, not of a re-implementation.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from bills import PLACEHOLDER, Template, token
from sqlalchemy import event

from yibao.config import Settings
from yibao.db.engine import make_pool


@dataclass(frozen=True)
class RoundTrips:
    bills: int
    ok: int
    per_bill: dict[str, float]

    def line(self) -> str:
        total = sum(self.per_bill.values())
        parts = ", ".join(f"{k} {v:.1f}" for k, v in self.per_bill.items())
        return f"database round trips per settlement ≈ {total:.1f} ({parts}; {self.ok}/{self.bills} bills 201)"


def _kind(statement: str) -> str:
    """A short label: verb and table (``INSERT settlements``, ``SELECT person_years``)."""
    words = statement.split()
    verb = words[0].upper().rstrip(";") if words else "?"
    if verb in ("BEGIN", "COMMIT", "ROLLBACK"):
        return verb
    if verb == "SELECT" and re.search(r"FROM persons p\b", statement):
        return "SELECT patient (persons+groups+enrolment+filing)"
    table = re.search(r"\b(?:INTO|FROM|UPDATE)\s+\"?(\w+)", statement, re.I)
    lock = " FOR UPDATE" if "FOR UPDATE" in statement.upper() else ""
    return f"{verb} {table.group(1) if table else '?'}{lock}"


async def count(database_url: str, templates: list[Template], bills: int) -> RoundTrips:
    """Settle ``bills`` bills in-process and count statements, BEGIN/COMMIT and pool pings.

    ROLLBACK counts SQLAlchemy's rollback events; after a commit the asyncpg adapter has
    no transaction left and sends nothing, so that entry overstates slightly."""
    from api.app import create_app

    settings = Settings(database_url=database_url, run_outbox_relay=False, log_level="WARNING")
    app = create_app(settings)
    seen: Counter[str] = Counter()
    ok = 0
    async with app.router.lifespan_context(app):
        engine = app.state.runtime.engine.sync_engine
        counting = False

        async def log_queries(conn: Any) -> None:
            conn.add_query_logger(lambda q: counting and seen.update([_kind(q.query)]))

        await app.state.runtime.pg.close()
        app.state.runtime.pg = await make_pool(settings, init=log_queries)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            salt = secrets.token_hex(2)[:3]  # fresh tokens: a replayed key would skip the work
            await send_bill(client, templates[0], salt, 0)  # warm caches (reference, credentials)

            @event.listens_for(engine, "before_cursor_execute")
            def _statement(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
                seen[_kind(statement)] += 1

            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                seen["BEGIN"] += 1

            @event.listens_for(engine, "commit")
            def _commit(conn: Any) -> None:
                seen["COMMIT"] += 1

            @event.listens_for(engine, "rollback")
            def _rollback(conn: Any) -> None:
                seen["ROLLBACK"] += 1

            # pool_pre_ping on asyncpg is BEGIN, ";" and ROLLBACK: three round trips a checkout
            ping = 3 if getattr(engine.pool, "_pre_ping", False) else 0

            @event.listens_for(engine, "checkout")
            def _checkout(*_: Any) -> None:
                if ping:
                    seen["pool pre-ping (BEGIN; ';'; ROLLBACK)"] += ping

            counting = True
            for n in range(1, bills + 1):
                ok += await send_bill(client, templates[n % len(templates)], salt, n) == 201
    per_bill = {k: v / bills for k, v in seen.most_common()}
    return RoundTrips(bills, ok, per_bill)


async def send_bill(client: httpx.AsyncClient, template: Template, salt: str, n: int) -> int:
    value = token(salt, "R", n)
    response = await client.post(
        "/api/v1/settlements",
        content=template.body.replace(PLACEHOLDER, value),
        headers={
            "Authorization": template.auth,
            "Idempotency-Key": template.idempotency_key.replace(PLACEHOLDER, value).decode(),
            "Content-Type": "application/json",
        },
    )
    return response.status_code
