"""Actors of the monitoring service."""

from __future__ import annotations

import dramatiq

from yibao.messaging.runtime import receive

CONSUMER = "monitor"


@dramatiq.actor(actor_name="monitor.on_settlement_event", queue_name="monitor", max_retries=20)
async def on_settlement_event(event_id: str) -> None:
    """Records each settlement event once; post-settlement models will run from here."""
    await receive(CONSUMER, event_id)
