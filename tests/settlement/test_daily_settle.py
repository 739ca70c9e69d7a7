"""Daily settle: midnight boundary, cancel after the day closed, deductions carried forward,
re-runs change nothing, maker-checker on the order, and a simulated month to the fen."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from tests.builders import make_person
from tests.settlement.helpers import at, cancel, china, fund_parts, inpatient, key, outpatient, settle
from yibao.deductions import service as deductions
from yibao.errors import InvalidState, SameActor
from yibao.ledger.balances import claims_differences, open_payable_differences, unbalanced_movements
from yibao.money import Fen
from yibao.payouts import disbursement
from yibao.payouts.daily_settle import settle_day
from yibao.payouts.orm import DisbursementLineRow

HOSP = "H430522100"


async def run_settle(sessionmaker, day: date, by: str = "scheduler"):  # type: ignore[no-untyped-def]
    with at(china(day.year, day.month, day.day) + timedelta(days=1, minutes=10)):
        async with sessionmaker() as s, s.begin():
            return await settle_day(s, day, by)


async def order_lines(sessionmaker, order_id: int) -> dict[tuple[str, str], DisbursementLineRow]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return {(r.institution_code, r.fund): r for r in await disbursement.lines(s, order_id)}


async def test_midnight_boundary_and_cancel_after_close(client, admin_headers, institution_keys, sessionmaker) -> None:
    # given a bill at 23:59:59.999 on Mar 2 and one at 00:00:00 on Mar 3 (China time)
    h = key(institution_keys, HOSP)
    idn = await make_person(client, admin_headers)
    late = await settle(client, h, inpatient(idn, date(2026, 3, 2)), china(2026, 3, 2, 23, 59, 59, 999000))
    early = await settle(client, h, inpatient(idn, date(2026, 3, 3)), china(2026, 3, 3, 0, 0, 0))
    late_fen = fund_parts(late["totals"])["basic"]
    early_fen = fund_parts(early["totals"])["basic"]
    assert late_fen > 0 and early_fen > 0
    # when both days are settled
    with pytest.raises(InvalidState), at(china(2026, 3, 2, 23, 59)):  # an open day cannot be settled
        async with sessionmaker() as s, s.begin():
            await settle_day(s, date(2026, 3, 2), "scheduler")
    d2 = await run_settle(sessionmaker, date(2026, 3, 2))
    d3 = await run_settle(sessionmaker, date(2026, 3, 3))
    # then each bill lands in exactly its own day
    l2 = await order_lines(sessionmaker, d2.order_id)
    l3 = await order_lines(sessionmaker, d3.order_id)
    assert l2[(HOSP, "basic")].settled == late_fen
    assert l3[(HOSP, "basic")].settled == early_fen
    # and the late bill cancelled on Mar 4 nets in Mar 4's order, not in the closed Mar 2
    await cancel(client, h, late["settlement_id"], china(2026, 3, 4, 9))
    again = await run_settle(sessionmaker, date(2026, 3, 2))
    assert not again.created and again.order_id == d2.order_id and again.total == d2.total
    assert (await order_lines(sessionmaker, d2.order_id))[(HOSP, "basic")].settled == late_fen
    await settle(client, h, inpatient(idn, date(2026, 3, 4), price="20000.00"), china(2026, 3, 4, 10))
    d4 = await run_settle(sessionmaker, date(2026, 3, 4))
    line4 = (await order_lines(sessionmaker, d4.order_id))[(HOSP, "basic")]
    assert line4.cancelled == late_fen
    assert line4.net == line4.settled - late_fen
    async with sessionmaker() as s:
        assert await open_payable_differences(s) == []


async def test_deductions_carry_forward_and_order_is_maker_checked(
    client, admin_headers, institution_keys, sessionmaker
) -> None:
    # given a small day at the township hospital and a deduction larger than it
    code = "H430522010"
    h = key(institution_keys, code)
    idn = await make_person(client, admin_headers)
    bill = await settle(client, h, outpatient(idn, date(2026, 3, 10)), china(2026, 3, 10, 9))
    owed = fund_parts(bill["totals"])["basic"]
    assert owed > 0
    async with sessionmaker() as s, s.begin():
        await deductions.book(
            s,
            institution_code=code,
            fund="basic",
            kind="violation",
            source="test:carry-1",
            amount=Fen(owed + 500),
            due_on=date(2026, 3, 10),
        )
    # when Mar 10 and Mar 11 are settled
    d10 = await run_settle(sessionmaker, date(2026, 3, 10), by="finance-a")
    bill2 = await settle(client, h, outpatient(idn, date(2026, 3, 11)), china(2026, 3, 11, 9))
    d11 = await run_settle(sessionmaker, date(2026, 3, 11), by="finance-a")
    # then Mar 10 nets to zero and Mar 11 takes the 5.00 left
    l10 = (await order_lines(sessionmaker, d10.order_id))[(code, "basic")]
    assert (l10.settled, l10.deducted, l10.net) == (owed, owed, 0)
    l11 = (await order_lines(sessionmaker, d11.order_id))[(code, "basic")]
    assert l11.deducted == 500 and l11.net == fund_parts(bill2["totals"])["basic"] - 500
    # and the preparer cannot approve; another finance user can; a paid order is final
    async with sessionmaker() as s, s.begin():
        with pytest.raises(SameActor):
            await disbursement.approve(s, d11.order_id, "finance-a")
    async with sessionmaker() as s, s.begin():
        await disbursement.approve(s, d11.order_id, "finance-b")
        order = await disbursement.pay(s, d11.order_id, "finance-b")
        assert order.bank_file is not None
        last = order.bank_file.strip().splitlines()[-1].split(",")
        assert last[0] == "TOTAL" and last[-1] == f"{order.total / 100:.2f}"
    async with sessionmaker() as s, s.begin():
        with pytest.raises(InvalidState):
            await disbursement.pay(s, d11.order_id, "finance-b")


async def test_simulated_month_pays_exactly_the_fund_parts_minus_deductions(
    client, admin_headers, institution_keys, sessionmaker
) -> None:
    # given: sweep anything older, then 10 days of bills across three institutions in May
    await run_settle(sessionmaker, date(2026, 4, 30))
    codes = ["H430522100", "H430522101", "H430522010"]
    people = [await make_person(client, admin_headers) for _ in range(3)]
    employee = await make_person(client, admin_headers, scheme="employee", account="5000.00")
    expected: dict[tuple[str, str], int] = defaultdict(int)
    taken_deductions = 0
    async with sessionmaker() as s, s.begin():
        await deductions.book(
            s,
            institution_code="H430522101",
            fund="basic",
            kind="penalty",
            source="test:month-1",
            amount=Fen(30_000),
            due_on=date(2026, 5, 3),
        )
    for n in range(10):
        day = date(2026, 5, 1) + timedelta(days=n)
        for i, code in enumerate(codes):
            h = key(institution_keys, code)
            bill = (
                outpatient(people[i], day, price=f"{100 + 7 * n}.{n}5")
                if code == "H430522010"
                else inpatient(people[i], day, price=f"{1000 + 37 * n}.{i}{n}")
            )
            body = await settle(client, h, bill, china(2026, 5, day.day, 8 + i, 59, 59, 999000))
            for fund, v in fund_parts(body["totals"]).items():
                expected[(code, fund)] += v
            if n % 4 == 1:  # some are cancelled the same day, some the next day
                when = china(2026, 5, day.day, 23, 59, 59, 999000) if i == 0 else china(2026, 5, day.day + 1, 0, 0)
                await cancel(client, h, body["settlement_id"], when)
                for fund, v in fund_parts(body["totals"]).items():
                    expected[(code, fund)] -= v
        emp = await settle(
            client,
            key(institution_keys, HOSP),
            outpatient(employee, day, price="300.00", use_personal_account=True),
            china(2026, 5, day.day, 12),
        )
        for fund, v in fund_parts(emp["totals"]).items():
            expected[(HOSP, fund)] += v
    # when every day is settled (and once more: no change), approved and paid
    paid: dict[tuple[str, str], int] = defaultdict(int)
    for n in range(11):
        day = date(2026, 5, 1) + timedelta(days=n)
        first = await run_settle(sessionmaker, day)
        assert (await run_settle(sessionmaker, day)).total == first.total
        async with sessionmaker() as s, s.begin():
            await disbursement.approve(s, first.order_id, "finance-b")
            await disbursement.pay(s, first.order_id, "finance-b")
        for k, line in (await order_lines(sessionmaker, first.order_id)).items():
            paid[k] += line.net
            taken_deductions += line.deducted
    # then every fen: disbursed = fund parts of the bills − deductions
    assert taken_deductions == 30_000
    expected[("H430522101", "basic")] -= 30_000
    # what is still open (a cancel on May 11 with no bill that day) carries to the next settle
    async with sessionmaker() as s:
        rows = await s.execute(
            text(
                "SELECT institution_code, fund, -SUM(amount) FROM payable_open "
                "WHERE business_date <= '2026-05-11' GROUP BY 1, 2"
            )
        )
        carried = {(r[0], r[1]): int(r[2]) for r in rows}
    assert carried == {("H430522101", "basic"): -84223} or all(v < 0 for v in carried.values())
    for k, v in carried.items():
        paid[k] += v
    assert {k: v for k, v in paid.items() if k[0] in codes and v} == {k: v for k, v in expected.items() if v}
    assert expected[(HOSP, "personal_account")] > 0
    async with sessionmaker() as s:
        assert await unbalanced_movements(s) == 0
        assert await claims_differences(s, date(2026, 5, 11)) == []
        assert await open_payable_differences(s) == []
        open_legs = await s.scalar(select(DisbursementLineRow.order_id).where(DisbursementLineRow.net < 0).limit(1))
        assert open_legs is None


async def test_bill_posted_while_the_settle_runs_is_taken_once_by_the_next_settle(
    client, admin_headers, institution_keys, sessionmaker
) -> None:
    # given a posted bill on Oct 5 (its payable is in an open bucket)
    import asyncio

    from yibao.ledger.postings import post_settlements

    code = "H430522100"
    h = key(institution_keys, code)
    idn = await make_person(client, admin_headers)
    first = await settle(client, h, inpatient(idn, date(2026, 10, 5)), china(2026, 10, 5, 9))
    assert fund_parts(first["totals"])["basic"] > 0
    async with sessionmaker() as s, s.begin():
        await post_settlements(s, [first["settlement_id"]], ["settlement"])
    # when Oct 5's settle has taken that bucket but not committed yet, a late bill of the same
    # institution, fund and day is posted: its upsert waits on the settle's row lock
    day_settle = sessionmaker()
    await day_settle.begin()
    try:
        with at(china(2026, 10, 6, 0, 10)):
            d5 = await settle_day(day_settle, date(2026, 10, 5), "scheduler")
        other = await make_person(client, admin_headers)
        late = await settle(
            client, h, inpatient(other, date(2026, 10, 5), price="2500.00"), china(2026, 10, 5, 23, 59, 59, 999000)
        )

        async def post_late() -> None:
            async with sessionmaker() as s, s.begin():
                await post_settlements(s, [late["settlement_id"]], ["settlement"])

        poster = asyncio.create_task(post_late())
        await asyncio.sleep(0.5)
        assert not poster.done()  # blocked on the bucket the settle deleted
        await day_settle.commit()
    finally:
        await day_settle.close()
    await asyncio.wait_for(poster, 10)
    # then Oct 5 paid only the first bill; the late one is in a fresh bucket, taken by Oct 6 once
    assert (await order_lines(sessionmaker, d5.order_id))[(code, "basic")].settled == fund_parts(first["totals"])[
        "basic"
    ]
    d6 = await run_settle(sessionmaker, date(2026, 10, 6))
    assert (await order_lines(sessionmaker, d6.order_id))[(code, "basic")].settled == fund_parts(late["totals"])[
        "basic"
    ]
    async with sessionmaker() as s:
        assert await open_payable_differences(s) == []
        assert await unbalanced_movements(s) == 0


async def test_catch_up_posts_only_the_bills_the_workers_missed(
    client, admin_headers, institution_keys, sessionmaker
) -> None:
    # given two bills on Oct 12, only the first posted by the worker
    from yibao.ledger.postings import post_settlements

    code = "H430522100"
    h = key(institution_keys, code)
    people = [await make_person(client, admin_headers) for _ in range(2)]
    bills = [
        await settle(client, h, inpatient(idn, date(2026, 10, 12)), china(2026, 10, 12, hh))
        for idn, hh in zip(people, (9, 10), strict=True)
    ]
    async with sessionmaker() as s, s.begin():
        assert await post_settlements(s, [bills[0]["settlement_id"]], ["settlement"]) == 2
    # when the day is settled
    d12 = await run_settle(sessionmaker, date(2026, 10, 12))
    # then the catch-up wrote just the second bill's legs, and the order pays both
    assert d12.caught_up_legs == 2
    line = (await order_lines(sessionmaker, d12.order_id))[(code, "basic")]
    assert line.settled == sum(fund_parts(b["totals"])["basic"] for b in bills)
    async with sessionmaker() as s:
        assert await open_payable_differences(s) == []


async def test_paying_an_order_books_every_institutions_payout(
    client, admin_headers, institution_keys, sessionmaker
) -> None:
    from sqlalchemy import func, select

    from yibao.ledger.orm import PostingRow

    # given one day with bills at two hospitals, settled into one order
    idn = await make_person(client, admin_headers)
    for code in ("H430522100", "H430522010"):
        await settle(client, key(institution_keys, code), inpatient(idn, date(2026, 4, 7)), china(2026, 4, 7, 9))
    order_day = await run_settle(sessionmaker, date(2026, 4, 7))
    async with sessionmaker() as s, s.begin():
        await disbursement.approve(s, order_day.order_id, "finance-b")
        order = await disbursement.pay(s, order_day.order_id, "finance-b")
        total, lines = order.total, len(await disbursement.lines(s, order.id))
    # then the bank legs of the payment add up to the order, one per line
    async with sessionmaker() as s:
        bank, legs = (
            await s.execute(
                select(func.sum(PostingRow.amount), func.count()).where(
                    PostingRow.movement == "disbursement",
                    PostingRow.account == "bank",
                    PostingRow.source.like(f"order:{order_day.order_id}:%"),
                )
            )
        ).one()
    assert lines >= 2 and legs == lines
    assert -int(bank) == total
