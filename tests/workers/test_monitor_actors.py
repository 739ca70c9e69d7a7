"""The monitor worker: settlement events run the person models once; sweep and alert jobs run."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tests.builders import idem, line, make_bill, make_person
from tests.workers.conftest import work
from yibao.events.outbox import relay_once
from yibao.monitoring.orm import SuspectRow


async def _drain(sessionmaker, broker) -> None:  # type: ignore[no-untyped-def]
    while await relay_once(sessionmaker, broker):
        pass
    await asyncio.to_thread(work, broker)


async def test_settlement_event_finds_a_split_admission(client, admin_headers, hospital, sessionmaker, broker) -> None:
    # given two stays at one hospital, the second 5 days after the first discharge
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
    # when the events reach the monitor worker (twice: a redelivery changes nothing)
    await _drain(sessionmaker, broker)
    await _drain(sessionmaker, broker)
    # then exactly one suspect names the readmission
    async with sessionmaker() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(SuspectRow)
            .where(SuspectRow.rule_id == "split_admission", SuspectRow.evidence_key == readmission)
        )
    assert n == 1


async def test_sweep_and_alert_jobs_run(client, admin_headers, sessionmaker, broker) -> None:
    sweep = {"kind": "monitor_sweep", "params": {"date_from": "2026-01-01", "date_to": "2026-12-31"}}
    alerts = {"kind": "monitor_alerts", "params": {"year": 2026, "month": 3}}
    runs = []
    for body in (sweep, alerts):
        r = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
        assert r.status_code == 202, r.text
        runs.append(r.json()["id"])
    await _drain(sessionmaker, broker)
    done = [(await client.get(f"/api/v1/jobs/{rid}", headers=admin_headers)).json() for rid in runs]
    assert done[0]["state"] == "succeeded", done[0]
    assert set(done[0]["result"]["new_suspects"]) >= {"split_admission", "institution_outlier"}
    assert done[0]["processed"] == done[0]["total"] == 9
    assert done[1]["state"] == "succeeded", done[1]
    assert done[1]["result"]["period"] == "2026-03"
