"""Actors of the institution-settlement service (ids in, core call, done)."""

from __future__ import annotations

import dramatiq

from yibao.messaging.runtime import receive

CONSUMER = "settlement"


@dramatiq.actor(actor_name="settlement.on_settlement_event", queue_name="settlement", max_retries=20)
async def on_settlement_event(event_id: str) -> None:
    """Records each settlement.created/cancelled once; daily settle reads them from the ledger."""
    await receive(CONSUMER, event_id)
