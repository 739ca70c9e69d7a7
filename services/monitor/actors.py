"""Actors of the monitoring service."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import dramatiq

from monitor.jobs import HANDLERS
from yibao.db.uow import UnitOfWork
from yibao.events.names import SETTLEMENT_CREATED
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import sweep
from yibao.runtime import receive
from yibao.runtime import run_job as run_job_event

CONSUMER = "monitor"
#: bills of the same person this close to the new one are re-examined on its event
EVENT_WINDOW_DAYS = 120


async def _person_models(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    """Person-scoped models for the settled bill's person, in the inbox claim's transaction."""
    if payload.get("type") != SETTLEMENT_CREATED:
        return
    day = date.fromisoformat(str(payload["service_date"]))
    window = timedelta(days=EVENT_WINDOW_DAYS)
    rules = await load_rules(uow.session)
    await sweep(uow.session, rules, day - window, day + window, persons=[int(payload["person_id"])])


@dramatiq.actor(actor_name="monitor.on_settlement_event", queue_name="monitor", max_retries=20)
async def on_settlement_event(event_id: str) -> None:
    """Each settlement event once: the person-level models run for that person at once."""
    await receive(CONSUMER, event_id, _person_models)


JOB_RETRIES = 3


@dramatiq.actor(actor_name="monitor.run_job", queue_name="monitor", max_retries=JOB_RETRIES, time_limit=6 * 3600 * 1000)
async def run_job(event_id: str) -> None:
    """One job run (ids in; state, progress and result live in job_runs)."""
    await run_job_event(CONSUMER, event_id, HANDLERS, JOB_RETRIES)
