"""The settlement worker posts each bill once from its events, and runs daily_settle as a job.

The money tests bill a township hospital of their own (resident outpatient pooling at level 1:
no deductible, ratio 0.50, so a 120.00 CT pays 60.00) on days no other test uses; see
tests/settlement/helpers for why that makes each order exactly the test's own.
"""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import select

from tests.builders import make_person
from tests.settlement.helpers import (
    at,
    cancel,
    china,
    fund_parts,
    line_figures,
    order_lines,
    outpatient,
    own_institution,
    settle,
)
from tests.workers.conftest import work
from yibao.ledger.orm import PostingRow
from yibao.messaging.relay import relay_once


async def _drain(sessionmaker, broker) -> None:  # type: ignore[no-untyped-def]
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(work, broker)


async def test_events_post_once_and_daily_settle_runs_as_a_job(client, admin_headers, sessionmaker, broker) -> None:
    # given two visits on Aug 3 (60.00 and 50.00), the first cancelled that day, events relayed twice
    own = await own_institution(client, sessionmaker, admin_headers, level=1)
    idn = await make_person(client, admin_headers)
    bill = await settle(client, own.headers, outpatient(idn, date(2026, 8, 3)), china(2026, 8, 3, 9))
    kept = await settle(client, own.headers, outpatient(idn, date(2026, 8, 3), price="100.00"), china(2026, 8, 3, 10))
    assert (fund_parts(bill["totals"])["basic"], fund_parts(kept["totals"])["basic"]) == (6_000, 5_000)
    await cancel(client, own.headers, bill["settlement_id"], china(2026, 8, 3, 11))
    await _drain(sessionmaker, broker)
    await _drain(sessionmaker, broker)
    async with sessionmaker() as s:
        legs = await s.execute(
            select(PostingRow.movement, PostingRow.account, PostingRow.amount).where(
                PostingRow.source == bill["settlement_id"]
            )
        )
        assert sorted(tuple(r) for r in legs) == [  # settlement + cancel, two legs each, basic fund only
            ("cancel", "claims", -6_000),
            ("cancel", "payable", 6_000),
            ("settlement", "claims", 6_000),
            ("settlement", "payable", -6_000),
        ]
    # when daily settle is requested twice through the API (same dedup key)
    with at(china(2026, 8, 4, 0, 10)):
        body = {"kind": "daily_settle", "params": {"date": "2026-08-03"}, "dedup_key": "daily_settle:2026-08-03"}
        first = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
        again = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
        assert again.json()["id"] == first.json()["id"]
        await _drain(sessionmaker, broker)
    run = (await client.get(f"/api/v1/jobs/{first.json()['id']}", headers=admin_headers)).json()
    # then it ran once and produced an order paying 110.00 settled − 60.00 cancelled
    assert run["state"] == "succeeded", run
    result = run["result"]
    assert {k: result[k] for k in ("date", "created", "total_fen", "lines")} == {
        "date": "2026-08-03",
        "created": True,
        "total_fen": 5_000,
        "lines": 1,
    }
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, result["order_id"])).items()} == {
        (own.code, "basic"): (11_000, 6_000, 0, 0, 5_000)
    }
    order = await client.get(f"/api/v1/payouts/orders/{result['order_id']}", headers=own.headers)
    assert (order.json()["settle_date"], order.json()["total"], order.json()["state"]) == (
        "2026-08-03",
        "50.00",
        "draft",
    )


async def test_scheduler_requests_yesterday_once(sessionmaker) -> None:
    from settlement.schedule import request_daily_settle
    from yibao.jobs import runner

    # given/when the scheduler asks twice on Jan 2 (the job stays queued until some test drains
    # the broker, and then settles Jan 1 for everyone: a day no test bills or settles)
    a = await request_daily_settle(sessionmaker, date(2026, 1, 2))
    b = await request_daily_settle(sessionmaker, date(2026, 1, 2))
    # then one run settles yesterday
    assert a == b
    async with sessionmaker() as s:
        assert (await runner.get(s, a)).params == {"date": "2026-01-01"}


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
    client, admin_headers, sessionmaker, broker
) -> None:
    """A worker killed inside the settle's transaction left nothing but a run marked running;
    the redelivered message runs it again to one order, and a further redelivery is a no-op."""
    import uuid

    from sqlalchemy import update

    import settlement.jobs
    from yibao.db.orm import OutboxRow
    from yibao.jobs.orm import JobRunRow
    from yibao.payouts.orm import DisbursementOrderRow
    from yibao.runtime import run_job

    # given a 60.00 visit on Aug 12 and its daily settle requested as a job
    own = await own_institution(client, sessionmaker, admin_headers, level=1)
    idn = await make_person(client, admin_headers)
    bill = await settle(client, own.headers, outpatient(idn, date(2026, 8, 12)), china(2026, 8, 12, 9))
    assert fund_parts(bill["totals"])["basic"] == 6_000
    with at(china(2026, 8, 13, 0, 10)):
        body = {"kind": "daily_settle", "params": {"date": "2026-08-12"}}
        run_id = (await client.post("/api/v1/jobs", json=body, headers=admin_headers)).json()["id"]
        # the first attempt started and died: state running, attempts 1, nothing committed
        async with sessionmaker() as s, s.begin():
            await s.execute(
                update(JobRunRow).where(JobRunRow.id == uuid.UUID(run_id)).values(state="running", attempts=1)
            )
            event_id = await s.scalar(select(OutboxRow.event_id).where(OutboxRow.payload["run_id"].astext == run_id))
        # when the message is redelivered after the kill, and once more
        await run_job("settlement", str(event_id), settlement.jobs.HANDLERS, 3)  # redelivered after the kill
        await run_job("settlement", str(event_id), settlement.jobs.HANDLERS, 3)  # and once more
    # then one order pays exactly the day's 60.00
    run = (await client.get(f"/api/v1/jobs/{run_id}", headers=admin_headers)).json()
    assert run["state"] == "succeeded" and run["attempts"] == 2, run
    async with sessionmaker() as s:
        orders = (
            await s.scalars(select(DisbursementOrderRow).where(DisbursementOrderRow.settle_date == date(2026, 8, 12)))
        ).all()
    assert [(o.total, o.line_count) for o in orders] == [(6_000, 1)]
    assert run["result"]["order_id"] == orders[0].id and run["result"]["total_fen"] == 6_000
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, orders[0].id)).items()} == {
        (own.code, "basic"): (6_000, 0, 0, 0, 6_000)
    }
