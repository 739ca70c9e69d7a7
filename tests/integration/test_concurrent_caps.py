"""Fifty bills for one person at the same moment never spend the same cap twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.builders import idem, line, make_bill, make_person
from tests.settlement.helpers import recognise


def fen(v: str) -> int:
    return int(Decimal(v) * 100)


async def test_fifty_concurrent_bills_respect_caps_and_balance(client, admin_headers, hospital, sessionmaker) -> None:
    # given an employee with 1,000.00 in the account (outpatient pooling at level 2:
    # 200.00 annual deductible, 50%, 2,000.00 annual cap)
    idn = await make_person(client, admin_headers, scheme="employee", account="1000.00")

    async def one(i: int):  # type: ignore[no-untyped-def]
        bill = make_bill(idn, [line("S-CTHD", "1", "100.00")], use_personal_account=True)
        return await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})

    # when 50 bills of 100.00 arrive at once
    responses = await asyncio.gather(*(one(i) for i in range(50)))

    # then every one settles, the fund pays exactly its cap, the account exactly its balance
    assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses if r.status_code != 201]
    totals = [r.json()["totals"] for r in responses]
    basic = sum(fen(t["basic_fund"]) for t in totals)
    deductible = sum(fen(t["deductible"]) for t in totals)
    account = sum(fen(t["personal_account"]) for t in totals)
    assert deductible == 200_00
    assert basic == 2000_00  # min(cap 2000, (5000 − 200) × 50%)
    assert account == 1000_00
    for t in totals:
        assert fen(t["total"]) == fen(t["fund_total"]) + fen(t["personal_part"])
        assert fen(t["personal_part"]) == fen(t["personal_account"]) + fen(t["cash"])
        assert min(fen(v) for v in t.values()) >= 0

    from sqlalchemy import select

    from yibao.accounts.orm import PersonalAccountRow
    from yibao.bill_settlement.orm import PersonYearRow
    from yibao.people.orm import PersonRow

    async with sessionmaker() as s:
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == idn))
        py = await s.get(PersonYearRow, (pid, 2026))
        acct = await s.get(PersonalAccountRow, pid)
    assert py is not None and acct is not None
    assert py.outpatient_pool_paid == 2000_00 and py.outpatient_deductible_used == 200_00
    assert py.fund_paid == 2000_00 and py.personal_paid == 3000_00
    assert acct.balance == 0

    # and cancelling all of them restores every accumulator and the balance
    for r in responses:
        c = await client.post(f"/api/v1/settlements/{r.json()['settlement_id']}/cancel", headers=hospital)
        assert c.status_code == 200
    async with sessionmaker() as s:
        py = await s.get(PersonYearRow, (pid, 2026))
        acct = await s.get(PersonalAccountRow, pid)
    assert py is not None and acct is not None
    assert (py.outpatient_pool_paid, py.outpatient_deductible_used, py.fund_paid, py.personal_paid) == (0, 0, 0, 0)
    assert acct.balance == 1000_00


async def test_concurrent_retries_with_one_key_charge_once(client, admin_headers, hospital) -> None:
    idn = await make_person(client, admin_headers, scheme="employee", account="500.00")
    bill = make_bill(idn, [line("S-CTHD", "1", "100.00")], use_personal_account=True)
    key = idem()
    responses = await asyncio.gather(
        *(client.post("/api/v1/settlements", json=bill, headers={**hospital, **key}) for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["settlement_id"] for r in responses}) == 1
    assert len({r.content for r in responses}) == 1
    page = await client.get("/api/v1/settlements", params={"limit": 500}, headers=hospital)
    mine = [i for i in page.json()["items"] if i["visit_no"] == bill["visit_no"]]
    assert len(mine) == 1


async def test_hundred_concurrent_inpatient_bills_respect_the_annual_cap(
    client, admin_headers, hospital, sessionmaker
) -> None:
    # a resident's basic fund for inpatient and chronic shares a 200,000.00 annual cap; a chronic
    # bill needs a recognition of its disease (dialysis: ESRD, no limit of its own)
    idn = await make_person(client, admin_headers)
    await recognise(client, sessionmaker, idn, "ESRD", "N18.5")

    async def stay(i: int):  # type: ignore[no-untyped-def]
        bill = make_bill(
            idn,
            [line("S-HDLY", "100", "400.00")],
            visit_type="chronic_outpatient",
            chronic_disease="ESRD",
        )
        return await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})

    responses = await asyncio.gather(*(stay(i) for i in range(20)))
    assert {r.status_code for r in responses} == {201}
    basic = sum(fen(r.json()["totals"]["basic_fund"]) for r in responses)
    # 20 × 40,000 × 70% (ESRD: the inpatient ratio of level 2) = 560,000 wanted; the cap allows 200,000.00
    assert basic == 200_000_00
