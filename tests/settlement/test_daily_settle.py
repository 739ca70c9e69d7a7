"""Daily settle: midnight boundary, cancel after the day closed, deductions carried forward,
re-runs change nothing, maker-checker on the order, and a simulated month to the fen.

Every test bills its own institutions on its own days and settles every day it billed on (see
``helpers``), so each order holds exactly the test's lines, in any order of the run.

Hand figures used below (default policy, resident, DOMAIN §4):
* ``inpatient(price=p)`` at a level-2 hospital: bed 3 × 40.00 + appendectomy at p (capped at
  1,500.00, the rest over-cap self-pay), so the policy range is 120.00 + min(p, 1,500.00);
  first admission of the year: basic = (P − 500.00) × 0.70, later admissions
  (P − 250.00) × 0.70. With p = 1,500.00: 784.00 and 959.00.
* ``outpatient(price=p)`` at a level-1 hospital (outpatient pooling, no deductible, ratio 0.50,
  cap 400.00 a year): basic = p × 0.50.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from tests.builders import make_person
from tests.settlement.helpers import (
    at,
    cancel,
    china,
    fund_parts,
    inpatient,
    line_figures,
    order_lines,
    outpatient,
    own_institution,
    run_settle,
    settle,
)
from tests.settlement.payout_model import PayoutModel
from yibao.deductions import service as deductions
from yibao.errors import InvalidState, SameActor
from yibao.ledger.balances import claims_differences, open_payable_differences, unbalanced_movements
from yibao.money import Fen
from yibao.payouts import disbursement
from yibao.payouts.daily_settle import settle_day


async def _mine(sessionmaker, codes: set[str]) -> dict[str, list]:  # type: ignore[no-untyped-def,type-arg]
    """The ledger invariants, as far as this test's institutions are concerned."""
    async with sessionmaker() as s:
        return {
            "claims": [d for d in await claims_differences(s, date(2026, 12, 31)) if d[0] in codes],
            "open": [d for d in await open_payable_differences(s) if d[0] in codes],
        }


async def test_midnight_boundary_and_cancel_after_close(client, admin_headers, sessionmaker) -> None:
    # given a bill at 23:59:59.999 on Mar 2 and one at 00:00:00 on Mar 3 (China time), one patient
    own = await own_institution(client, sessionmaker, admin_headers, level=2)
    idn = await make_person(client, admin_headers)
    late = await settle(client, own.headers, inpatient(idn, date(2026, 3, 2)), china(2026, 3, 2, 23, 59, 59, 999000))
    early = await settle(client, own.headers, inpatient(idn, date(2026, 3, 3)), china(2026, 3, 3, 0, 0, 0))
    assert fund_parts(late["totals"])["basic"] == 78_400  # (1,620.00 − 500.00) × 0.70, first admission
    assert fund_parts(early["totals"])["basic"] == 95_900  # (1,620.00 − 250.00) × 0.70, second admission
    # when both days are settled
    with pytest.raises(InvalidState), at(china(2026, 3, 2, 23, 59)):  # an open day cannot be settled
        async with sessionmaker() as s, s.begin():
            await settle_day(s, date(2026, 3, 2), "scheduler")
    d2 = await run_settle(sessionmaker, date(2026, 3, 2))
    d3 = await run_settle(sessionmaker, date(2026, 3, 3))
    # then each bill lands in exactly its own day
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d2.order_id)).items()} == {
        (own.code, "basic"): (78_400, 0, 0, 0, 78_400)
    }
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d3.order_id)).items()} == {
        (own.code, "basic"): (95_900, 0, 0, 0, 95_900)
    }
    assert (d2.total, d2.lines, d3.total, d3.lines) == (78_400, 1, 95_900, 1)
    # and the late bill cancelled on Mar 4 nets in Mar 4's order, not in the closed Mar 2
    await cancel(client, own.headers, late["settlement_id"], china(2026, 3, 4, 9))
    again = await run_settle(sessionmaker, date(2026, 3, 2))
    assert (again.created, again.order_id, again.total) == (False, d2.order_id, 78_400)
    assert line_figures((await order_lines(sessionmaker, d2.order_id))[(own.code, "basic")]) == (
        78_400,
        0,
        0,
        0,
        78_400,
    )
    big = await settle(client, own.headers, inpatient(idn, date(2026, 3, 4), price="20000.00"), china(2026, 3, 4, 10))
    # 18,500.00 above the 1,500.00 cap is self-paid: the policy range is still 1,620.00, and the
    # cancelled Mar 2 stay no longer counts, so this is the second admission again
    assert fund_parts(big["totals"])["basic"] == 95_900
    d4 = await run_settle(sessionmaker, date(2026, 3, 4))
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d4.order_id)).items()} == {
        (own.code, "basic"): (95_900, 78_400, 0, 0, 17_500)
    }
    assert d4.total == 17_500
    assert await _mine(sessionmaker, {own.code}) == {"claims": [], "open": []}


async def test_deductions_carry_forward_and_order_is_maker_checked(client, admin_headers, sessionmaker) -> None:
    # given a 60.00 day at a township hospital and a deduction of 65.00 due that day
    own = await own_institution(client, sessionmaker, admin_headers, level=1)
    idn = await make_person(client, admin_headers)
    bill = await settle(client, own.headers, outpatient(idn, date(2026, 3, 10)), china(2026, 3, 10, 9))
    assert fund_parts(bill["totals"])["basic"] == 6_000  # 120.00 × 0.50
    async with sessionmaker() as s, s.begin():
        await deductions.book(
            s,
            institution_code=own.code,
            fund="basic",
            kind="violation",
            source=f"test:carry:{own.code}",
            amount=Fen(6_500),
            due_on=date(2026, 3, 10),
        )
    # when Mar 10 and Mar 11 (another 60.00) are settled
    d10 = await run_settle(sessionmaker, date(2026, 3, 10), by="finance-a")
    bill2 = await settle(client, own.headers, outpatient(idn, date(2026, 3, 11)), china(2026, 3, 11, 9))
    assert fund_parts(bill2["totals"])["basic"] == 6_000  # 120.00 of the 400.00 cap used so far
    d11 = await run_settle(sessionmaker, date(2026, 3, 11), by="finance-a")
    # then Mar 10 nets to zero and Mar 11 takes the 5.00 left
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d10.order_id)).items()} == {
        (own.code, "basic"): (6_000, 0, 0, 6_000, 0)
    }
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d11.order_id)).items()} == {
        (own.code, "basic"): (6_000, 0, 0, 500, 5_500)
    }
    assert (d10.total, d11.total) == (0, 5_500)
    # and the preparer cannot approve; another finance user can; a paid order is final
    async with sessionmaker() as s, s.begin():
        with pytest.raises(SameActor):
            await disbursement.approve(s, d11.order_id, "finance-a")
    async with sessionmaker() as s, s.begin():
        await disbursement.approve(s, d11.order_id, "finance-b")
        order, paid = await disbursement.pay(s, d11.order_id, "finance-b")
        assert paid and order.bank_file is not None
        assert order.bank_file.splitlines() == [
            "order_id,settle_date,institution_code,institution_name,fund,amount",
            f"{d11.order_id},2026-03-11,{own.code},{own.name},basic,55.00",
            "TOTAL,1,,,,55.00",
        ]
        bank_file = order.bank_file
    async with sessionmaker() as s, s.begin():  # paying again (a retry) pays nothing more
        again, paid = await disbursement.pay(s, d11.order_id, "finance-c")
        assert (paid, again.paid_by, again.bank_file) == (False, "finance-b", bank_file)
    # a zero order pays nobody: its bank file is the header and a zero control total
    async with sessionmaker() as s, s.begin():
        await disbursement.approve(s, d10.order_id, "finance-b")
        zero, _ = await disbursement.pay(s, d10.order_id, "finance-b")
        assert zero.bank_file is not None
        assert zero.bank_file.splitlines()[1:] == ["TOTAL,0,,,,0.00"]


async def test_simulated_month_pays_exactly_the_fund_parts_minus_deductions(
    client, admin_headers, sessionmaker
) -> None:
    # given 10 days of bills in May at three hospitals of this test (two county, one township),
    # an employee paying from the personal account every day, some bills cancelled the same day
    # or the next, and a 300.00 penalty due on May 3
    county_a, county_b, township = [
        await own_institution(client, sessionmaker, admin_headers, level=lvl) for lvl in (2, 2, 1)
    ]
    hospitals = [county_a, county_b, township]
    people = [await make_person(client, admin_headers) for _ in range(3)]
    employee = await make_person(client, admin_headers, scheme="employee", account="5000.00")
    model = PayoutModel()
    async with sessionmaker() as s, s.begin():
        await deductions.book(
            s,
            institution_code=county_b.code,
            fund="basic",
            kind="penalty",
            source=f"test:month:{county_b.code}",
            amount=Fen(30_000),
            due_on=date(2026, 5, 3),
        )
    model.deduct(county_b.code, "basic", 30_000, date(2026, 5, 3))
    settled_parts: dict[tuple[str, str], int] = defaultdict(int)
    for n in range(10):
        day = date(2026, 5, 1) + timedelta(days=n)
        for i, own in enumerate(hospitals):
            bill = (
                outpatient(people[i], day, price=f"{100 + 7 * n}.{n}5")
                if own is township
                else inpatient(people[i], day, price=f"{1000 + 37 * n}.{i}{n}")
            )
            body = await settle(client, own.headers, bill, china(2026, 5, day.day, 8 + i, 59, 59, 999000))
            parts = fund_parts(body["totals"])
            model.bill(own.code, parts, day)
            for fund, v in parts.items():
                settled_parts[(own.code, fund)] += v
            if n % 4 == 1:  # some are cancelled the same day, some the next day
                when = china(2026, 5, day.day, 23, 59, 59, 999000) if i == 0 else china(2026, 5, day.day + 1, 0, 0)
                await cancel(client, own.headers, body["settlement_id"], when)
                model.cancel(own.code, parts, when.date())
                for fund, v in parts.items():
                    settled_parts[(own.code, fund)] -= v
        emp = await settle(
            client,
            county_a.headers,
            outpatient(employee, day, price="300.00", use_personal_account=True),
            china(2026, 5, day.day, 12),
        )
        model.bill(county_a.code, fund_parts(emp["totals"]), day)
        for fund, v in fund_parts(emp["totals"]).items():
            settled_parts[(county_a.code, fund)] += v
    # when every day is settled (and once more: no change), approved and paid
    paid: dict[tuple[str, str], int] = defaultdict(int)
    taken_deductions = 0
    for n in range(11):
        day = date(2026, 5, 1) + timedelta(days=n)
        first = await run_settle(sessionmaker, day)
        assert (await run_settle(sessionmaker, day)).total == first.total
        async with sessionmaker() as s, s.begin():
            await disbursement.approve(s, first.order_id, "finance-b")
            await disbursement.pay(s, first.order_id, "finance-b")
        # then each day's order is exactly the hand model's lines, and its total their sum
        expected = model.close(day)
        got = await order_lines(sessionmaker, first.order_id)
        assert {k: line_figures(v) for k, v in got.items()} == {k: v.figures() for k, v in expected.items()}, day
        assert first.total == sum(v.net for v in expected.values())
        for k, row in got.items():
            paid[k] += row.net
            taken_deductions += row.deducted
    # and over the month: disbursed = fund parts of the bills − deductions, to the fen
    assert taken_deductions == 30_000
    assert model.remaining() == {(county_b.code, "basic"): 0}
    # what is still open is the cancels of May 11 (no bill that day): −their fund parts
    cancelled_may_11 = {k: -v for k, v in model.still_open().items() if v}
    async with sessionmaker() as s:
        rows = await s.execute(
            text(
                "SELECT institution_code, fund, -SUM(amount) FROM payable_open "
                "WHERE institution_code = ANY(:codes) GROUP BY 1, 2 HAVING SUM(amount) <> 0"
            ),
            {"codes": [h.code for h in hospitals]},
        )
        carried = {(r[0], r[1]): int(r[2]) for r in rows}
    assert carried == {k: -v for k, v in cancelled_may_11.items()}
    assert set(carried) >= {(county_b.code, "basic")}  # county B's May 10 stay was cancelled at 00:00 May 11
    for k, v in carried.items():
        paid[k] += v
    expected_paid = {k: v for k, v in settled_parts.items() if v}
    expected_paid[(county_b.code, "basic")] -= 30_000
    assert {k: v for k, v in paid.items() if v} == expected_paid
    assert expected_paid[(county_a.code, "personal_account")] > 0
    async with sessionmaker() as s:
        assert await unbalanced_movements(s) == 0
    assert await _mine(sessionmaker, {h.code for h in hospitals}) == {"claims": [], "open": []}


async def test_bill_posted_while_the_settle_runs_is_taken_once_by_the_next_settle(
    client, admin_headers, sessionmaker
) -> None:
    # given a posted bill on Oct 5 (its payable is in an open bucket)
    import asyncio

    from yibao.ledger.postings import post_settlements

    own = await own_institution(client, sessionmaker, admin_headers, level=2)
    idn = await make_person(client, admin_headers)
    first = await settle(client, own.headers, inpatient(idn, date(2026, 10, 5)), china(2026, 10, 5, 9))
    assert fund_parts(first["totals"])["basic"] == 78_400
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
            client,
            own.headers,
            inpatient(other, date(2026, 10, 5), price="1400.00"),
            china(2026, 10, 5, 23, 59, 59, 999000),
        )
        assert fund_parts(late["totals"])["basic"] == 71_400  # (1,520.00 − 500.00) × 0.70

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
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d5.order_id)).items()} == {
        (own.code, "basic"): (78_400, 0, 0, 0, 78_400)
    }
    d6 = await run_settle(sessionmaker, date(2026, 10, 6))
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d6.order_id)).items()} == {
        (own.code, "basic"): (71_400, 0, 0, 0, 71_400)
    }
    assert (d5.total, d6.total) == (78_400, 71_400)
    assert await _mine(sessionmaker, {own.code}) == {"claims": [], "open": []}
    async with sessionmaker() as s:
        assert await unbalanced_movements(s) == 0


async def test_catch_up_posts_only_the_bills_the_workers_missed(client, admin_headers, sessionmaker) -> None:
    # given two first admissions on Oct 12 (784.00 each), only the first posted by the worker
    from yibao.ledger.postings import post_settlements

    own = await own_institution(client, sessionmaker, admin_headers, level=2)
    people = [await make_person(client, admin_headers) for _ in range(2)]
    bills = [
        await settle(client, own.headers, inpatient(idn, date(2026, 10, 12)), china(2026, 10, 12, hh))
        for idn, hh in zip(people, (9, 10), strict=True)
    ]
    assert [fund_parts(b["totals"])["basic"] for b in bills] == [78_400, 78_400]
    async with sessionmaker() as s, s.begin():
        assert await post_settlements(s, [bills[0]["settlement_id"]], ["settlement"]) == 2
    # when the day is settled
    d12 = await run_settle(sessionmaker, date(2026, 10, 12))
    # then the catch-up wrote just the second bill's legs, and the order pays both
    assert d12.caught_up_legs == 2
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, d12.order_id)).items()} == {
        (own.code, "basic"): (156_800, 0, 0, 0, 156_800)
    }
    assert d12.total == 156_800
    assert await _mine(sessionmaker, {own.code}) == {"claims": [], "open": []}


async def test_paying_an_order_books_every_institutions_payout(client, admin_headers, sessionmaker) -> None:
    from yibao.ledger.orm import PostingRow

    # given one patient's stays at a county (784.00, first admission) and a township hospital
    # (second admission, level 1: (1,620.00 − 100.00) × 0.90 = 1,368.00) on Apr 7
    county = await own_institution(client, sessionmaker, admin_headers, level=2)
    township = await own_institution(client, sessionmaker, admin_headers, level=1)
    idn = await make_person(client, admin_headers)
    first = await settle(client, county.headers, inpatient(idn, date(2026, 4, 7)), china(2026, 4, 7, 9))
    second = await settle(client, township.headers, inpatient(idn, date(2026, 4, 7)), china(2026, 4, 7, 10))
    assert (fund_parts(first["totals"])["basic"], fund_parts(second["totals"])["basic"]) == (78_400, 136_800)
    # when the day is settled into one order, approved and paid
    order_day = await run_settle(sessionmaker, date(2026, 4, 7))
    async with sessionmaker() as s, s.begin():
        await disbursement.approve(s, order_day.order_id, "finance-b")
        order, _ = await disbursement.pay(s, order_day.order_id, "finance-b")
        bank_file = order.bank_file
    # then the order and its bank file pay each hospital its own stay
    assert (order_day.total, order_day.lines) == (215_200, 2)
    assert bank_file is not None
    rows = sorted(bank_file.splitlines()[1:-1])
    assert rows == sorted(
        [
            f"{order_day.order_id},2026-04-07,{county.code},{county.name},basic,784.00",
            f"{order_day.order_id},2026-04-07,{township.code},{township.name},basic,1368.00",
        ]
    )
    assert bank_file.splitlines()[-1] == "TOTAL,2,,,,2152.00"
    # and the bank legs of the payment are one per line, adding up to the order
    async with sessionmaker() as s:
        legs = (
            await s.execute(
                select(PostingRow.institution_code, func.sum(PostingRow.amount), func.count())
                .where(
                    PostingRow.movement == "disbursement",
                    PostingRow.account == "bank",
                    PostingRow.source.like(f"order:{order_day.order_id}:%"),
                )
                .group_by(PostingRow.institution_code)
            )
        ).all()
    assert {(code, int(amount), n) for code, amount, n in legs} == {
        (county.code, -78_400, 1),
        (township.code, -136_800, 1),
    }
