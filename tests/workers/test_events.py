"""settle/cancel → outbox → relay → Redis → both workers, each event processed once in effect."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select, update

from tests.builders import idem, make_bill, make_person
from tests.workers.conftest import work as _work
from yibao.db.orm import OutboxRow
from yibao.events.orm import InboxRow
from yibao.messaging.relay import relay_once


async def _inbox_count(sessionmaker, event_ids: list[uuid.UUID]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        rows = await s.execute(
            select(InboxRow.consumer, func.count()).where(InboxRow.event_id.in_(event_ids)).group_by(InboxRow.consumer)
        )
        return {c: n for c, n in rows.all()}


async def test_events_reach_both_services_exactly_once(client, admin_headers, hospital, sessionmaker, broker) -> None:
    # given a settled and a cancelled bill
    idn = await make_person(client, admin_headers)
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**hospital, **idem()})
    sid = r.json()["settlement_id"]
    assert (await client.post(f"/api/v1/settlements/{sid}/cancel", headers=hospital)).status_code == 200
    async with sessionmaker() as s:
        events = (
            await s.execute(
                select(OutboxRow.event_id, OutboxRow.topic).where(OutboxRow.payload["settlement_id"].astext == sid)
            )
        ).all()
    assert sorted(t for _, t in events) == ["settlement.cancelled", "settlement.created"]
    ids = [e for e, _ in events]

    # when the relay publishes and the workers run
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(_work, broker)

    # then each service recorded each event once
    assert await _inbox_count(sessionmaker, ids) == {"settlement": 2, "monitor": 2}

    # and a relay crash that re-sends everything changes nothing
    async with sessionmaker() as s, s.begin():
        await s.execute(update(OutboxRow).where(OutboxRow.event_id.in_(ids)).values(sent_at=None))
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(_work, broker)
    assert await _inbox_count(sessionmaker, ids) == {"settlement": 2, "monitor": 2}
    async with sessionmaker() as s:
        unsent = await s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None)))
    assert unsent == 0
