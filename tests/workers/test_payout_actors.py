"""The settlement worker posts each bill once from its events, and runs daily_settle as a job."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select

from tests.builders import make_person
from tests.settlement.helpers import at, cancel, china, key, outpatient, settle
from tests.workers.conftest import work
from yibao.events.outbox import relay_once
from yibao.ledger.orm import PostingRow


async def _drain(sessionmaker, broker) -> None:  # type: ignore[no-untyped-def]
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(work, broker)


async def test_events_post_once_and_daily_settle_runs_as_a_job(
    client, admin_headers, institution_keys, sessionmaker, broker
) -> None:
    # given a bill settled and cancelled in August, events relayed twice
    h = key(institution_keys, "H430522010")
    idn = await make_person(client, admin_headers)
    bill = await settle(client, h, outpatient(idn, date(2026, 8, 3)), china(2026, 8, 3, 9))
    await cancel(client, h, bill["settlement_id"], china(2026, 8, 3, 11))
    await _drain(sessionmaker, broker)
    await _drain(sessionmaker, broker)
    async with sessionmaker() as s:
        legs = await s.scalar(select(func.count()).where(PostingRow.source == bill["settlement_id"]))
    assert legs == 4  # settlement + cancel, two legs each, basic fund only
    # when daily settle is requested twice through the API (same dedup key)
    with at(china(2026, 8, 4, 0, 10)):
        body = {"kind": "daily_settle", "params": {"date": "2026-08-03"}, "dedup_key": "daily_settle:2026-08-03"}
        first = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
        again = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
        assert again.json()["id"] == first.json()["id"]
        await _drain(sessionmaker, broker)
    run = (await client.get(f"/api/v1/jobs/{first.json()['id']}", headers=admin_headers)).json()
    # then it ran once and produced an order
    assert run["state"] == "succeeded", run
    assert run["result"]["date"] == "2026-08-03" and run["result"]["created"] is True


async def test_scheduler_requests_yesterday_once(sessionmaker) -> None:
    from settlement.schedule import request_daily_settle

    a = await request_daily_settle(sessionmaker, date(2026, 9, 2))
    b = await request_daily_settle(sessionmaker, date(2026, 9, 2))
    assert a == b


async def test_scheduler_requests_the_nightly_sweep_and_monthly_alerts_once(sessionmaker) -> None:
    from settlement.schedule import request_monitor_sweep, request_monthly_alerts
    from yibao.jobs import runner

    sweep = await request_monitor_sweep(sessionmaker, date(2026, 9, 2))
    assert sweep == await request_monitor_sweep(sessionmaker, date(2026, 9, 2))
    alerts = await request_monthly_alerts(sessionmaker, date(2026, 9, 1))
    assert alerts == await request_monthly_alerts(sessionmaker, date(2026, 9, 1))
    async with sessionmaker() as s:
        sweep_run, alert_run = await runner.get(s, sweep), await runner.get(s, alerts)
    assert sweep_run.params == {"date_from": "2026-09-01", "date_to": "2026-09-01"}
    assert alert_run.params == {"year": 2026, "month": 8}


async def test_daily_settle_job_killed_mid_run_completes_once_on_redelivery(
    client, admin_headers, institution_keys, sessionmaker, broker
) -> None:
    """A worker killed inside the settle's transaction left nothing but a run marked running;
    the redelivered message runs it again to one order, and a further redelivery is a no-op."""
    import uuid

    from sqlalchemy import update

    import settlement.jobs
    from yibao.events.orm import OutboxRow
    from yibao.jobs.orm import JobRunRow
    from yibao.messaging.runtime import run_job
    from yibao.payouts.orm import DisbursementOrderRow

    h = key(institution_keys, "H430522010")
    idn = await make_person(client, admin_headers)
    await settle(client, h, outpatient(idn, date(2026, 8, 12)), china(2026, 8, 12, 9))
    with at(china(2026, 8, 13, 0, 10)):
        body = {"kind": "daily_settle", "params": {"date": "2026-08-12"}}
        run_id = (await client.post("/api/v1/jobs", json=body, headers=admin_headers)).json()["id"]
        # the first attempt started and died: state running, attempts 1, nothing committed
        async with sessionmaker() as s, s.begin():
            await s.execute(
                update(JobRunRow).where(JobRunRow.id == uuid.UUID(run_id)).values(state="running", attempts=1)
            )
            event_id = await s.scalar(select(OutboxRow.event_id).where(OutboxRow.payload["run_id"].astext == run_id))
        await run_job(str(event_id), settlement.jobs.HANDLERS, 3)  # redelivered after the kill
        await run_job(str(event_id), settlement.jobs.HANDLERS, 3)  # and once more
    run = (await client.get(f"/api/v1/jobs/{run_id}", headers=admin_headers)).json()
    assert run["state"] == "succeeded" and run["attempts"] == 2, run
    async with sessionmaker() as s:
        orders = await s.scalar(
            select(func.count())
            .select_from(DisbursementOrderRow)
            .where(DisbursementOrderRow.settle_date == date(2026, 8, 12))
        )
    assert orders == 1
