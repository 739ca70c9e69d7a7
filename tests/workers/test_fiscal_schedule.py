"""The monthly fiscal subsidy (财政补助, issue #19) as a scheduled job: on the 1st the scheduler
requests the month that has just closed for the home region, once; the settlement worker books
it through the same use case as ``POST /api/v1/ledger/fiscal-subsidies``.

Month owned here: 2019-01 of the home region (no resident is enrolled for 2019: the booking is
0.00 and posts nothing, so no fund position moves whichever drain runs the queued requests)."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import text

from tests.workers.conftest import work
from yibao.messaging.relay import relay_once


async def test_the_scheduler_requests_last_months_fiscal_subsidy_once(sessionmaker) -> None:
    from settlement.schedule import request_fiscal_subsidy
    from yibao.jobs import runner

    # when the scheduler asks twice on Feb 1, 2019
    first = await request_fiscal_subsidy(sessionmaker, date(2019, 2, 1))
    again = await request_fiscal_subsidy(sessionmaker, date(2019, 2, 1))
    # then one run books January for the home region
    assert first == again
    async with sessionmaker() as s:
        run = await runner.get(s, first)
    assert (run.kind, run.params) == ("fiscal_subsidy", {"year": 2019, "month": 1, "region": "430522"})


async def test_the_fiscal_subsidy_job_books_the_month_once(client, admin_headers, sessionmaker, broker) -> None:
    # when the job for January 2019 of the home region (no residents that year) runs, and again
    body = {"kind": "fiscal_subsidy", "params": {"year": 2019, "month": 1, "region": "430522"}}
    bad = await client.post(
        "/api/v1/jobs", json={**body, "params": {**body["params"], "month": 13}}, headers=admin_headers
    )
    results = []
    for _ in range(2):
        asked = await client.post("/api/v1/jobs", json=body, headers=admin_headers)
        assert asked.status_code in (200, 201, 202), asked.text
        while await relay_once(sessionmaker, broker):
            pass
        await asyncio.to_thread(work, broker)
        results.append((await client.get(f"/api/v1/jobs/{asked.json()['id']}", headers=admin_headers)).json())
    # then a bad month is refused before anything is queued, and each run books 0.00 for 0
    # residents on Jan 31
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST", bad.text
    assert [r["state"] for r in results] == ["succeeded", "succeeded"], results
    for r in results:
        got = {k: r["result"][k] for k in ("region", "month", "residents", "amount_fen", "business_date")}
        assert got == {
            "region": "430522",
            "month": "2019-01",
            "residents": 0,
            "amount_fen": 0,
            "business_date": "2019-01-31",
        }
    async with sessionmaker() as s:
        audited = await s.scalar(
            text("SELECT count(*) FROM audit_log WHERE action = 'ledger.fiscal_subsidy.booked' AND subject_id = :s"),
            {"s": "fiscal:430522:2019-01"},
        )
    # a month with nothing due books nothing and is not audited at each run (the job runs are)
    assert audited == 0
