"""The monitor worker: settlement events run the person models once; sweep and alert jobs run.

Each test runs a worker until what *it* waits for has happened (its events in the inbox, its
jobs finished), not until the run's shared queues are empty: a process killed by an earlier
test (tests/robustness) can leave a message in the namespace that no live worker will take
for a while, and a join on the whole queue would then time out in whichever test came next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date

import dramatiq
from dramatiq import Worker
from sqlalchemy import func, select, text

from monitor.actors import on_settlement_event
from tests.builders import idem, line, make_bill, make_person
from tests.monitoring.rows import Rows, own_institution
from yibao import runtime
from yibao.db.orm import OutboxRow
from yibao.events.orm import InboxRow
from yibao.messaging.relay import relay_once
from yibao.monitoring.orm import SuspectRow
from yibao.monitoring.sweep import MODELS
from yibao.people.orm import PersonRow

DRAIN_SECONDS = 60.0


async def _drain_until(sessionmaker, broker: dramatiq.Broker, done: Callable[[], Awaitable[bool]]) -> None:  # type: ignore[no-untyped-def]
    """Relay the outbox and run a worker until ``done()`` (or fail after ``DRAIN_SECONDS``)."""
    worker = Worker(broker, worker_timeout=100, worker_threads=2)
    worker.start()
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            while await relay_once(sessionmaker, broker):
                pass
            if await done():
                return
            assert time.monotonic() < deadline, "the worker did not finish this test's messages in time"
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(worker.stop)


async def test_settlement_event_finds_a_split_admission(client, app, admin_headers, sessionmaker, broker) -> None:
    # given two stays at a hospital of this test's own, the second 5 days after the first discharge
    code, hospital = await own_institution(sessionmaker, client, admin_headers)
    idn = await make_person(client, admin_headers)
    for admitted, discharged in (("2026-05-01", "2026-05-05"), ("2026-05-10", "2026-05-14")):
        bill = make_bill(
            idn,
            [line("S-APPX", "1", "1500.00", day=admitted)],
            visit_type="inpatient",
            admitted_on=admitted,
            service_date=discharged,
        )
        r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
        assert r.status_code == 201
    readmission = r.json()["settlement_id"]
    async with sessionmaker() as s:
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == idn))
        events = [
            str(e)
            for e in await s.scalars(
                select(OutboxRow.event_id).where(
                    OutboxRow.topic == "settlement.created", OutboxRow.payload["person_id"].as_integer() == pid
                )
            )
        ]
    assert len(events) == 2

    async def suspects() -> list[tuple[str, str, str, str, int]]:
        async with sessionmaker() as s:
            found = await s.scalars(select(SuspectRow).where(SuspectRow.person_id == pid).order_by(SuspectRow.id))
            return [(x.rule_id, x.evidence_key, x.institution_code, x.status, x.amount) for x in found]

    async def processed() -> int:
        async with sessionmaker() as s:
            return int(
                await s.scalar(
                    select(func.count())
                    .select_from(InboxRow)
                    .where(InboxRow.consumer == "monitor", InboxRow.event_id.in_(events))
                )
                or 0
            )

    async def both_processed() -> bool:
        return await processed() == 2

    # when both events reach the monitor worker
    await _drain_until(sessionmaker, broker, both_processed)
    # then the person's only suspect names the readmission, at this hospital, with its fund payment at stake
    fund = int(r.json()["totals"]["fund_total"].replace(".", ""))
    expected = [("split_admission", readmission, code, "new", fund)]
    assert await suspects() == expected
    # and delivering both events again (at least once delivery) changes nothing
    for event_id in events:
        await on_settlement_event.fn.__wrapped__(event_id)  # type: ignore[attr-defined]
    await runtime.worker_sessionmaker().kw["bind"].dispose()  # the engine that call opened on this loop
    assert await suspects() == expected
    assert await processed() == 2


async def _finished(client, admin_headers, runs: list[str]) -> bool:  # type: ignore[no-untyped-def]
    states = [(await client.get(f"/api/v1/jobs/{rid}", headers=admin_headers)).json()["state"] for rid in runs]
    return all(state in ("succeeded", "failed") for state in states)


async def _job(client, admin_headers, body) -> str:  # type: ignore[no-untyped-def]
    r = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def test_sweep_and_alert_jobs_report_exact_counts(client, admin_headers, sessionmaker, broker) -> None:
    # given 2017 (a year no other test settles in, so the jobs see only these rows, committed for the
    # worker): one split admission, one bed-hogging stay, one bill after a death at a hospital of this
    # test's own, and one person whose 2017 self-pay is above 50,000.00
    async with sessionmaker() as s, s.begin():
        rows = Rows(s)
        h = await rows.institution()
        split, beds, poor = await rows.person(), await rows.person(), await rows.person()
        dead = await rows.person(death_date=date(2017, 3, 1))
        await rows.stay(h, split, date(2017, 4, 1), date(2017, 4, 5))
        await rows.stay(h, split, date(2017, 4, 12), date(2017, 4, 15))
        bed_days = [("S-BED-2", 6, 4_000, [])]
        await rows.bill(h, beds, "inpatient", date(2017, 6, 7), bed_days, admitted_on=date(2017, 6, 1))
        await rows.visit(h, dead, date(2017, 3, 2))
        await s.execute(
            text("INSERT INTO person_years (person_id, year, personal_paid) VALUES (:p, 2017, 5000001)"), {"p": poor}
        )
    try:
        sweep = {"kind": "monitor_sweep", "params": {"date_from": "2017-01-01", "date_to": "2017-12-31"}}
        alerts = {"kind": "monitor_alerts", "params": {"year": 2017, "month": 12}}
        # when both jobs run, then the sweep once more
        runs = [await _job(client, admin_headers, body) for body in (sweep, alerts)]
        await _drain_until(sessionmaker, broker, lambda: _finished(client, admin_headers, runs))
        runs.append(await _job(client, admin_headers, sweep))
        await _drain_until(sessionmaker, broker, lambda: _finished(client, admin_headers, runs))
        done = [(await client.get(f"/api/v1/jobs/{rid}", headers=admin_headers)).json() for rid in runs]
        assert all(d["result"].pop("seconds") >= 0 for d in done), done  # the runner times every job
        # then the sweep found exactly the three planted suspects, one per model, and nothing else
        assert [d["state"] for d in done] == ["succeeded"] * 3, done
        expected = dict.fromkeys(MODELS, 0) | {"split_admission": 1, "bed_hogging": 1, "claims_after_death": 1}
        assert done[0]["result"] == {"new_suspects": expected}
        assert done[0]["processed"] == done[0]["total"] == len(MODELS) == 11
        # and the alerts job listed the one person; 2017 is before the fund's opening (no balance)
        assert done[1]["result"] == {
            "period": "2017-12",
            "return_to_poverty": 1,
            "fund_health": 0,
            "fund_health_skipped": ["resident", "employee"],
            "budget_growth": 0,
        }
        # and a second sweep adds nothing (one suspect per rule and evidence)
        assert done[2]["result"] == {"new_suspects": dict.fromkeys(MODELS, 0)}
        async with sessionmaker() as s:
            assert await Rows(s, institutions=rows.institutions).suspects() == {
                ("split_admission", str(rows.bills[1])),
                ("bed_hogging", str(rows.bills[2])),
                ("claims_after_death", str(rows.bills[3])),
            }
    finally:
        async with sessionmaker() as s, s.begin():
            await replace(rows, session=s).delete()
