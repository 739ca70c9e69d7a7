"""Actors of the monitoring service."""

from __future__ import annotations

import dramatiq

from monitor.jobs import HANDLERS
from yibao.messaging.runtime import receive
from yibao.messaging.runtime import run_job as run_job_event

CONSUMER = "monitor"


@dramatiq.actor(actor_name="monitor.on_settlement_event", queue_name="monitor", max_retries=20)
async def on_settlement_event(event_id: str) -> None:
    """Records each settlement event once; post-settlement models will run from here."""
    await receive(CONSUMER, event_id)


JOB_RETRIES = 3


@dramatiq.actor(actor_name="monitor.run_job", queue_name="monitor", max_retries=JOB_RETRIES, time_limit=6 * 3600 * 1000)
async def run_job(event_id: str) -> None:
    """One job run (ids in; state, progress and result live in job_runs)."""
    await run_job_event(event_id, HANDLERS, JOB_RETRIES)
