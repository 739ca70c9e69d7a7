"""Actors of the institution-settlement service (ids in, core call, done)."""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq

from settlement.jobs import HANDLERS
from yibao.db.uow import UnitOfWork
from yibao.events.names import SETTLEMENT_CANCELLED
from yibao.ledger.postings import post_settlements
from yibao.runtime import receive
from yibao.runtime import run_job as run_job_event

CONSUMER = "settlement"


async def post_to_ledger(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    """Post the bill's movement; read from the settlements row, so the ledger equals the bills."""
    movement = "cancel" if payload["type"] == SETTLEMENT_CANCELLED else "settlement"
    await post_settlements(uow.session, [uuid.UUID(str(payload["settlement_id"]))], [movement])


@dramatiq.actor(actor_name="settlement.on_settlement_event", queue_name="settlement", max_retries=20)
async def on_settlement_event(event_id: str) -> None:
    """Posts each settlement.created/cancelled to the ledger once (inbox + posting, one transaction)."""
    await receive(CONSUMER, event_id, post_to_ledger)


JOB_RETRIES = 3


@dramatiq.actor(
    actor_name="settlement.run_job", queue_name="settlement", max_retries=JOB_RETRIES, time_limit=6 * 3600 * 1000
)
async def run_job(event_id: str) -> None:
    """One job run (ids in; state, progress and result live in job_runs)."""
    await run_job_event(CONSUMER, event_id, HANDLERS, JOB_RETRIES)
