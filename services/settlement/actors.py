"""Actors of the institution-settlement service (ids in, core call, done)."""

from __future__ import annotations

import dramatiq

from settlement.jobs import HANDLERS
from yibao.messaging.runtime import receive
from yibao.messaging.runtime import run_job as run_job_event

CONSUMER = "settlement"


@dramatiq.actor(actor_name="settlement.on_settlement_event", queue_name="settlement", max_retries=20)
async def on_settlement_event(event_id: str) -> None:
    """Records each settlement.created/cancelled once; daily settle reads them from the ledger."""
    await receive(CONSUMER, event_id)


JOB_RETRIES = 3


@dramatiq.actor(
    actor_name="settlement.run_job", queue_name="settlement", max_retries=JOB_RETRIES, time_limit=6 * 3600 * 1000
)
async def run_job(event_id: str) -> None:
    """One job run (ids in; state, progress and result live in job_runs)."""
    await run_job_event(event_id, HANDLERS, JOB_RETRIES)
