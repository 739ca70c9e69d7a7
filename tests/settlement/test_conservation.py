"""Daily settle conserves money: over random days of random bills, cancels and deductions at one
institution, every order is the hand model's (``payout_model``) and, to the fen,

    Σ over the days' orders of (net + deducted) + what is still open
        = Σ fund parts of the bills settled − Σ fund parts of the bills cancelled.

Each example bills a fresh institution on a fresh window of three days between Oct 13 and Nov 30
(no other test bills them; a window someone settled is skipped) and settles each day, so nothing
it leaves open can reach another order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.builders import line, make_bill, make_person
from tests.settlement.helpers import (
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
from yibao.money import Fen

WINDOW = 3
EXAMPLES = 8


def _windows() -> Iterator[date]:
    first = date(2026, 10, 13)
    while first + timedelta(days=WINDOW - 1) <= date(2026, 11, 30):
        yield first
        first += timedelta(days=WINDOW)


#: windows of days for the examples (16; the explicit and the generated examples use 9)
WINDOWS = _windows()


async def _untouched_window(sessionmaker) -> date:  # type: ignore[no-untyped-def]
    """The next window on which nobody has settled a day or left a payable open.

    Why check: any caller may settle a past day (the fuzz test posts the jobs schema's example,
    a daily settle of 2026-11-23, and a worker of the robustness tests runs it); a day already
    settled would answer with its existing, empty order."""
    for first in WINDOWS:
        last = first + timedelta(days=WINDOW - 1)
        async with sessionmaker() as s:
            used = await s.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM disbursement_orders WHERE settle_date BETWEEN :a AND :b) "
                    "OR EXISTS (SELECT 1 FROM payable_open WHERE business_date BETWEEN :a AND :b)"
                ),
                {"a": first, "b": last},
            )
        if not used:
            return first
    raise AssertionError("no untouched window of days left: lower EXAMPLES or widen the pool")


@dataclass(frozen=True)
class Bill:
    kind: str  # stay (resident inpatient) | big (poor resident, second tiers) | visit (employee, account) | cash
    amount: int  # fen: price of the stay or visit, units of dialysis for a big stay
    day: int  # offset in the window
    cancel_day: int | None  # offset of the cancel (≥ day), or never


@dataclass(frozen=True)
class Deduction:
    fund: str
    amount: int
    due: int


@st.composite
def bills(draw: st.DrawFn) -> Bill:
    kind = draw(st.sampled_from(["stay", "stay", "big", "visit", "cash"]))
    amount = {
        "stay": st.integers(10_000, 300_000),
        "big": st.integers(10, 60),
        "visit": st.integers(100, 18_000),
        "cash": st.integers(100, 18_000),
    }[kind]
    day = draw(st.integers(0, WINDOW - 1))
    cancel_day = draw(st.none() | st.integers(day, WINDOW - 1))
    return Bill(kind, draw(amount), day, cancel_day)


deduction_plans = st.lists(
    st.builds(
        Deduction,
        fund=st.sampled_from(["basic", "basic", "critical_illness", "assistance"]),
        amount=st.integers(1, 200_000),
        due=st.integers(0, WINDOW - 1),
    ),
    max_size=2,
)


def _yuan(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: each run needs a fresh window of days
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan=st.lists(bills(), min_size=1, max_size=7), planned_deductions=deduction_plans)
@example(  # a deduction larger than the first day, and a last day of cancels only (carried, open)
    plan=[Bill("stay", 150_000, 0, None), Bill("big", 50, 1, 2), Bill("visit", 15_000, 1, None)],
    planned_deductions=[Deduction("basic", 100_000, 0), Deduction("assistance", 500, 2)],
)
async def test_daily_settle_conserves_the_fund_parts(
    client, admin_headers, sessionmaker, plan: list[Bill], planned_deductions: list[Deduction]
) -> None:
    # given a fresh institution, a fresh window of days and three patients
    first = await _untouched_window(sessionmaker)
    days = [first + timedelta(days=i) for i in range(WINDOW)]
    own = await own_institution(client, sessionmaker, admin_headers, level=2)
    resident = await make_person(client, admin_headers)
    poor = await make_person(client, admin_headers, groups=("min_living",))
    employee = await make_person(client, admin_headers, scheme="employee", account="3000.00")
    model = PayoutModel()
    async with sessionmaker() as s, s.begin():
        for n, d in enumerate(planned_deductions):
            await deductions.book(
                s,
                institution_code=own.code,
                fund=d.fund,
                kind="penalty",
                source=f"test:conservation:{own.code}:{n}",
                amount=Fen(d.amount),
                due_on=days[d.due],
            )
            model.deduct(own.code, d.fund, d.amount, days[d.due])
    settled: dict[str, int] = defaultdict(int)
    cancelled: dict[str, int] = defaultdict(int)
    taken: dict[tuple[str, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
    placed: list[tuple[Bill, dict]] = []  # type: ignore[type-arg]
    # when each day's bills and cancels happen and the day is settled
    for offset, day in enumerate(days):
        for n, b in enumerate(plan):
            if b.day != offset:
                continue
            if b.kind == "stay":
                body = inpatient(resident, day, price=_yuan(b.amount))
            elif b.kind == "big":
                body = make_bill(
                    poor,
                    [line("S-HDLY", str(b.amount), "400.00", day=day.isoformat())],
                    visit_type="inpatient",
                    service_date=day.isoformat(),
                    diagnoses=["N18.5"],
                )
            else:
                who = employee if b.kind == "visit" else resident
                body = outpatient(who, day, price=_yuan(b.amount), use_personal_account=b.kind == "visit")
            answer = await settle(client, own.headers, body, china(day.year, day.month, day.day, 8 + n))
            parts = fund_parts(answer["totals"])
            model.bill(own.code, parts, day)
            for fund, v in parts.items():
                settled[fund] += v
            placed.append((b, answer))
        for n, (b, answer) in enumerate(placed):
            if b.cancel_day == offset:
                await cancel(client, own.headers, answer["settlement_id"], china(day.year, day.month, day.day, 20, n))
                parts = fund_parts(answer["totals"])
                model.cancel(own.code, parts, day)
                for fund, v in parts.items():
                    cancelled[fund] += v
        result = await run_settle(sessionmaker, day)
        # then the order is the model's, line by line, and its total their sum
        expected = {k: v.figures() for k, v in model.close(day).items()}
        got = {k: line_figures(v) for k, v in (await order_lines(sessionmaker, result.order_id)).items()}
        assert got == expected, day
        assert result.total == sum(v[4] for v in expected.values())
        for (_, fund), v in got.items():
            net, deducted = taken[(own.code, fund)]
            taken[(own.code, fund)] = (net + v[4], deducted + v[3])
    # and over the window: net + deducted + still open = settled − cancelled, per fund
    async with sessionmaker() as s:
        rows = await s.execute(
            text("SELECT fund, -SUM(amount) FROM payable_open WHERE institution_code = :c GROUP BY fund"),
            {"c": own.code},
        )
        still_open = {r[0]: int(r[1]) for r in rows}
        rows = await s.execute(
            text("SELECT fund, SUM(remaining) FROM deductions WHERE institution_code = :c GROUP BY fund"),
            {"c": own.code},
        )
        remaining = {r[0]: int(r[1]) for r in rows}
    for fund in set(settled) | set(still_open):
        net, deducted = taken[(own.code, fund)]
        assert net + deducted + still_open.get(fund, 0) == settled[fund] - cancelled[fund], fund
        assert still_open.get(fund, 0) <= 0  # only a cancel-heavy last day carries
    assert still_open == {f: v for (_, f), v in model.still_open().items()}
    booked: dict[str, int] = defaultdict(int)
    for d in planned_deductions:
        booked[d.fund] += d.amount
    assert remaining == {f: booked[f] - taken[(own.code, f)][1] for f in booked}
