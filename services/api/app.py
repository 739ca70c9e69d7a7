"""``create_app(settings)``: the FastAPI gateway, with a lifespan that owns engine, caches, relay."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis

from api import errors
from api.access_log import AccessLog
from api.fsi import router as fsi
from api.ratelimit import RateLimiter
from api.responses import JSON
from api.routes import (
    auth,
    budgets,
    chronic,
    clearing,
    deductions,
    employers,
    health,
    jobs,
    ledger,
    maternity,
    members,
    monitoring,
    ops,
    payouts,
    people,
    person_payouts,
    premiums,
    prescriptions,
    procurement,
    reconcile,
    reimbursements,
    reports,
    settlements,
)
from api.runtime import CredentialCache, Runtime
from yibao import logs
from yibao.config import Settings, get_settings
from yibao.db.engine import make_engine, make_pool, make_sessionmaker
from yibao.messaging.broker import make_broker
from yibao.messaging.relay import redelivery_of, relay_forever
from yibao.reference import ReferenceCache

DESCRIPTION = """
医保基金管理后台 API — medical-insurance fund administration.

* **Institutions** (hospital HIS, pharmacy POS) authenticate with `Authorization: Bearer <institution key>`
  (issued by `yibao keys create --institution CODE`) and settle bills in real time.
* **Staff** authenticate with `Authorization: Bearer <staff token>` (`yibao tokens create --role admin --name NAME`).
* **Insured people** (member app) authenticate with `Authorization: Bearer <member token>`: staff issue a
  single-use activation code (`POST /api/v1/persons/{id}/activation-codes`), the app exchanges it at
  `POST /api/v1/me/activate`. A member sees only their own and their bound relatives' data.
* Amounts are JSON strings in yuan with exactly two decimals; dates are ISO 8601.
* Errors are `{"error": {"code": "...", "message": "...", "request_id": "..."}}`; a refusal writes nothing.
  Each status below lists the codes it carries. Every answer has an `X-Request-ID` header: quote it.
* Money-moving POSTs require `Idempotency-Key`: the same key and body replay the first answer.
"""


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """``freeze_gc`` (the server process): once started, move every object alive into the
    collector's permanent generation. Why: a full collection walks every tracked object —
    ~160,000 after imports (FastAPI, SQLAlchemy, pydantic schemas, reference data), 140 ms
    measured on this machine — stopping every request the process holds. Frozen, a full
    collection walks only what was made since. Off for tests, which build many apps in one
    process and would keep their cyclic garbage."""
    settings = settings or get_settings()
    logs.configure(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        sessionmaker = make_sessionmaker(engine)
        app.state.runtime = Runtime(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            pg=await make_pool(settings),
            refs=ReferenceCache(sessionmaker, settings.reference_cache_seconds),
            credentials=CredentialCache(),
            limiter=RateLimiter(settings),
            redis=Redis.from_url(settings.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25),
        )
        if freeze_gc:
            gc.collect()  # startup's own garbage first
            gc.freeze()
        relay: asyncio.Task[None] | None = None
        if settings.run_outbox_relay:
            broker = make_broker(settings)
            relay = asyncio.create_task(
                relay_forever(
                    sessionmaker, broker, settings.outbox_poll_seconds, settings.outbox_batch, redelivery_of(settings)
                )
            )
        try:
            yield
        finally:
            if relay is not None:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
            await app.state.runtime.redis.aclose()
            await app.state.runtime.pg.close()
            await engine.dispose()

    # Swagger UI and ReDoc from the installed package's assets, never a CDN: bureaus run this
    # on isolated networks.
    app = FastAPIOffline(
        title="yibao 医保基金管理",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSON,
    )
    errors.install(app)
    app.add_middleware(AccessLog)
    # the two settle paths first: a request is matched against the routes in this order, and
    # scanning ~200 routes before the national envelope was a visible share of a 2207's CPU
    app.include_router(settlements.router)
    app.include_router(fsi.router)
    app.include_router(people.router)
    app.include_router(auth.router)
    app.include_router(members.router)
    app.include_router(members.staff_router)
    app.include_router(premiums.router)
    app.include_router(employers.router)
    app.include_router(ops.router)
    app.include_router(jobs.router)
    app.include_router(payouts.router)
    app.include_router(deductions.router)
    app.include_router(reconcile.router)
    app.include_router(clearing.router)
    app.include_router(reports.router)
    app.include_router(ledger.router)
    app.include_router(budgets.router)
    app.include_router(procurement.router)
    app.include_router(monitoring.router)
    app.include_router(reimbursements.router)
    app.include_router(reimbursements.member_router)
    app.include_router(person_payouts.router)
    app.include_router(chronic.router)
    app.include_router(chronic.member_router)
    app.include_router(prescriptions.router)
    app.include_router(maternity.router)
    app.include_router(maternity.member_router)
    app.include_router(health.router)
    return app
