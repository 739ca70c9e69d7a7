"""settle/cancel → outbox → relay → Redis → both workers, each event processed once in effect."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select, update

from tests.builders import idem, make_bill, make_person
from tests.workers.conftest import work as _work
from yibao.db.orm import OutboxRow
from yibao.events.orm import InboxRow
from yibao.messaging.relay import RedeliveryPolicy, redeliver_once, relay_once


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


async def _resends(sessionmaker, event_id: uuid.UUID) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return int(await s.scalar(select(OutboxRow.resends).where(OutboxRow.event_id == event_id)) or 0)


async def _drain(sessionmaker, broker) -> None:  # type: ignore[no-untyped-def]
    """Relay and work everything earlier tests left, and send again (and work) what was relayed
    and never worked, so that flushing the broker here drops no other test's event (the crash
    test counts every settlement event of the run as received)."""
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(_work, broker)
    while (await redeliver_once(sessionmaker, broker, RedeliveryPolicy(after_seconds=0, max_resends=20))).resent:
        await asyncio.to_thread(_work, broker)


async def test_an_event_redis_lost_is_sent_again_until_each_consumer_received_it(
    client, admin_headers, hospital, sessionmaker, broker
) -> None:
    # given a settled bill whose event the relay handed to Redis, and Redis then lost it
    await _drain(sessionmaker, broker)
    idn = await make_person(client, admin_headers)
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**hospital, **idem()})
    sid = r.json()["settlement_id"]
    async with sessionmaker() as s:
        event_id = await s.scalar(select(OutboxRow.event_id).where(OutboxRow.payload["settlement_id"].astext == sid))
    assert event_id is not None
    while await relay_once(sessionmaker, broker):
        pass
    broker.flush_all()
    await asyncio.to_thread(_work, broker)
    assert await _inbox_count(sessionmaker, [event_id]) == {}

    # when the sweep finds it sent and not received (no wait configured here)
    policy = RedeliveryPolicy(after_seconds=0, max_resends=3)
    await redeliver_once(sessionmaker, broker, policy)
    await asyncio.to_thread(_work, broker)

    # then both services received it, once, after one resend
    assert await _inbox_count(sessionmaker, [event_id]) == {"settlement": 1, "monitor": 1}
    assert await _resends(sessionmaker, event_id) == 1

    # and a received event is never sent again: the cursor moves past it
    swept = await redeliver_once(sessionmaker, broker, policy)
    while swept.resent:  # other tests' events that were relayed and never worked, now received
        await asyncio.to_thread(_work, broker)
        swept = await redeliver_once(sessionmaker, broker, policy)
    assert await _resends(sessionmaker, event_id) == 1
    async with sessionmaker() as s:
        outbox_id = await s.scalar(select(OutboxRow.id).where(OutboxRow.event_id == event_id))
    assert swept.cursor >= outbox_id


async def test_an_event_no_consumer_takes_is_given_up_after_its_resends(
    client, admin_headers, hospital, sessionmaker, broker, caplog
) -> None:
    # given a settled bill whose event is relayed, then lost, again and again
    await _drain(sessionmaker, broker)
    idn = await make_person(client, admin_headers)
    r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**hospital, **idem()})
    sid = r.json()["settlement_id"]
    while await relay_once(sessionmaker, broker):
        pass
    async with sessionmaker() as s:
        event_id = await s.scalar(select(OutboxRow.event_id).where(OutboxRow.payload["settlement_id"].astext == sid))
    assert event_id is not None
    policy = RedeliveryPolicy(after_seconds=0, max_resends=2)

    # when every resend is lost too
    for _ in range(4):
        broker.flush_all()
        await redeliver_once(sessionmaker, broker, policy)
    broker.flush_all()

    # then it was sent again twice, and then given up with an error in the log naming it
    assert await _resends(sessionmaker, event_id) == 2
    assert any(str(event_id) in m and "given up" in m for m in caplog.messages)
    assert await _inbox_count(sessionmaker, [event_id]) == {}

    # and once the cause is fixed, marking it unsent relays it again (what an operator does)
    async with sessionmaker() as s, s.begin():
        await s.execute(update(OutboxRow).where(OutboxRow.event_id == event_id).values(sent_at=None))
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(_work, broker)
    assert await _inbox_count(sessionmaker, [event_id]) == {"settlement": 1, "monitor": 1}
