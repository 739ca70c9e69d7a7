"""Monthly alerts at their exact thresholds: return-to-poverty, fund health and budget pace.

Thresholds (rule parameters seeded from ``policy-2026.json``): a year's self-pay above
50,000.00; months of balance below 6; spending above 1.5 × the budget's pace. Every test runs in
one transaction that is rolled back and asserts only on its own persons, institutions and a
period no other test settles in, so the counts are exact whatever ran before.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from tests.builders import idem, line, make_bill, make_person
from tests.monitoring.rows import Rows, own_institution
from yibao.ledger import position
from yibao.monitoring import alerts
from yibao.monitoring.orm import AlertRow
from yibao.monitoring.repository import load_rules
from yibao.monitoring.rules import RuleConfig, RuleSet, build
from yibao.people.orm import PersonRow


def _with_params(rules: RuleSet, rule_id: str, **params: Any) -> RuleSet:
    rule = rules.get(rule_id)
    changed = RuleConfig(**{**rule.__dict__, "params": {**rule.params, **params}, "version": rule.version + 1})
    return build([*rules.rules.values(), changed], [])


async def _alerts(session, period: str) -> dict[tuple[str, str], Any]:  # type: ignore[no-untyped-def]
    found = (await session.scalars(select(AlertRow).where(AlertRow.period == period))).all()
    return {(a.kind, a.subject): a for a in found}


async def test_return_to_poverty_lists_self_pay_above_50000_through_settlements(
    client, admin_headers, sessionmaker
) -> None:
    # given people whose only bills this year, at a hospital of this test's own, are a fully self-paid
    # (class C) fee of 50,000.00 (at the line), 50,000.01 (one fen above), 70,000.00, and 700.00 plus a stay
    _, hospital = await own_institution(sessionmaker, client, admin_headers)
    people = {pay: await make_person(client, admin_headers) for pay in ("50000.00", "50000.01", "70000.00", "700.00")}
    for pay, idn in people.items():
        bill = make_bill(idn, [line("S-VIPW", "1", pay, day="2026-06-02")], service_date="2026-06-02")
        r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
        assert r.status_code == 201, r.text
        assert r.json()["totals"]["personal_part"] == pay
    stay = make_bill(
        people["700.00"],
        [line("S-APPX", "1", "1500.00", day="2026-06-03")],
        visit_type="inpatient",
        admitted_on="2026-06-03",
        service_date="2026-06-05",
    )
    assert (await client.post("/api/v1/settlements", json=stay, headers={**hospital, **idem()})).status_code == 201
    async with sessionmaker() as s:
        try:
            rules = await load_rules(s)
            assert rules.params("return_to_poverty") == {"self_pay": "50000.00"}
            # when the June alerts run twice
            await alerts.run(s, rules, 2026, 6)
            again = await alerts.run(s, rules, 2026, 6)
            # then exactly the two above the line are listed, with their year's self-pay, once
            ids = {
                p.id_number: str(p.id)
                for p in await s.scalars(select(PersonRow).where(PersonRow.id_number.in_(list(people.values()))))
            }
            listed = {
                subject: a.amount
                for (kind, subject), a in (await _alerts(s, "2026-06")).items()
                if kind == "return_to_poverty" and subject in ids.values()
            }
            assert listed == {ids[people["50000.01"]]: 5_000_001, ids[people["70000.00"]]: 7_000_000}
            assert again["return_to_poverty"] == 0
        finally:
            await s.rollback()


async def test_every_alert_at_its_exact_threshold(rows: Rows) -> None:
    # given June 2011 (a period no other test uses): two hospitals with a budget of 12,000.00 a year, so
    # 6,000.00 by June and an alert above 1.5 × = 9,000.00; one spent exactly 9,000.00 (resident bills),
    # the other 9,000.01 (employee bills)
    at_pace = await rows.institution(annual_budget=1_200_000)
    above_pace = await rows.institution(annual_budget=1_200_000)
    patient = await rows.person()
    for inst, scheme, funds in (
        (at_pace, "resident", (400_000, 500_000)),
        (above_pace, "employee", (400_000, 500_001)),
    ):
        for month, fund in zip((2, 5), funds, strict=True):
            await rows.visit(inst, patient, date(2011, month, 10), fund_total=fund, scheme=scheme)
    rules = await load_rules(rows.session)
    assert rules.params("budget_growth") == {"factor": "1.5"}
    # and two people whose 2011 self-pay is 50,000.00 and 50,000.01
    at_line, above_line = await rows.person(), await rows.person()
    for pid, paid in ((at_line, 5_000_000), (above_line, 5_000_001)):
        await rows.session.execute(
            text("INSERT INTO person_years (person_id, year, personal_paid) VALUES (:p, 2011, :paid)"),
            {"p": pid, "paid": paid},
        )
    # when the June 2011 alerts run (twice)
    first = await alerts.run(rows.session, rules, 2011, 6)
    again = await alerts.run(rows.session, rules, 2011, 6)
    # then one of each kind, each the case just past its threshold (fund health is skipped: 2011
    # is before the fund's opening date, so there is no balance to read; see the test below)
    assert first == {
        "period": "2011-06",
        "return_to_poverty": 1,
        "fund_health": 0,
        "fund_health_skipped": ["resident", "employee"],
        "budget_growth": 1,
    }
    assert again == {
        "period": "2011-06",
        "return_to_poverty": 0,
        "fund_health": 0,
        "fund_health_skipped": ["resident", "employee"],
        "budget_growth": 0,
    }
    found = await _alerts(rows.session, "2011-06")
    assert set(found) == {
        ("return_to_poverty", str(above_line)),
        ("budget_growth", above_pace),
    }
    assert found[("return_to_poverty", str(above_line))].amount == 5_000_001
    pace = found[("budget_growth", above_pace)]
    assert (pace.amount, pace.detail["budget_pace_fen"]) == (900_001, 600_000)


async def _legs(session, scheme: str, day: date, account: str, amount: int) -> None:  # type: ignore[no-untyped-def]
    """One balanced movement in the scheme's basic fund (``account`` debited, bank credited)."""
    source = f"test:{scheme}:{day}:{account}"
    await session.execute(
        text(
            "INSERT INTO ledger_postings (movement, source, institution_code, fund, account, amount, business_date, "
            "scheme) VALUES ('manual', :src, 'FUND', 'basic', :acc, :amt, :day, :sc), "
            "('manual', :src, 'FUND', 'basic', 'bank', -:amt, :day, :sc)"
        ),
        {"src": source, "acc": account, "amt": amount, "day": day, "sc": scheme},
    )


async def test_fund_health_reads_the_ledgers_months_of_balance_at_its_threshold(rows: Rows) -> None:
    # given June 2095 (no other test's month; this transaction is rolled back): each scheme's
    # balance on June 30 brought to a figure of the test's own by one income movement, then
    # 9,000.00 spent in June (750.00 a month over 12 months): residents keep 4,500.00 (exactly
    # 6.00 months), employees 4,490.00 (5.99 months)
    s = rows.session
    until = date(2095, 6, 30)
    for scheme, target in (("resident", 450_000), ("employee", 449_000)):
        before = await position.fund_position(s, scheme, until)
        assert before.average_monthly_spending == 0  # nothing else is spent in the 12 months
        # credit other_income (a debit of −x when the balance must fall)
        await _legs(s, scheme, date(2095, 6, 1), "other_income", -(target + 900_000 - before.closing))
        await _legs(s, scheme, date(2095, 6, 10), "other_spending", 900_000)
        after = await position.fund_position(s, scheme, until)
        assert (after.closing, after.average_monthly_spending) == (target, Decimal(75_000))
    # when the June alerts run (twice)
    rules = await load_rules(s)
    assert rules.params("fund_health")["months_alert"] == 6
    first = await alerts.run(s, rules, 2095, 6)
    again = await alerts.run(s, rules, 2095, 6)
    # then only employees (5.99 < 6) are alerted, once, with the ledger's figures
    assert (first["fund_health"], first["fund_health_skipped"], again["fund_health"]) == (1, [], 0)
    found = await _alerts(s, "2095-06")
    assert [k for k in found if k[0] == "fund_health"] == [("fund_health", "employee")]
    health = found[("fund_health", "employee")]
    assert (health.amount, health.detail["months_of_balance"], health.detail["monthly_spending_fen"]) == (
        449_000,
        "5.99",
        75_000,
    )
    assert (health.detail["current_period_deficit"], health.detail["cumulative_deficit"]) == (True, False)


async def test_fund_health_alerts_a_negative_balance_and_never_divides_by_zero(rows: Rows) -> None:
    # given May 2094 (rolled back): the residents' balance driven below zero by income reversed,
    # nothing spent in the 12 months (no months of balance); employees untouched
    s = rows.session
    until = date(2094, 5, 31)
    before = await position.fund_position(s, "resident", until)
    await _legs(s, "resident", date(2094, 5, 2), "other_income", before.closing + 100)
    # when
    result = await alerts.run(s, await load_rules(s), 2094, 5)
    # then residents are alerted for the cumulative deficit (months of balance: none), employees not
    found = await _alerts(s, "2094-05")
    assert result["fund_health"] == 1 and [k for k in found if k[0] == "fund_health"] == [("fund_health", "resident")]
    health = found[("fund_health", "resident")]
    assert (health.amount, health.detail["months_of_balance"], health.detail["cumulative_deficit"]) == (
        -100,
        None,
        True,
    )


async def _approved(session, code: str, year: int, version: int, amount: int) -> None:  # type: ignore[no-untyped-def]
    await session.execute(
        text(
            "INSERT INTO budget_versions (region, year, scheme, institution_code, version, state, amount, "
            "expected_cases, history, made_by) VALUES ('430522', :y, 'resident', :c, :v, 'approved', :a, 1, '{}', 't')"
        ),
        {"y": year, "c": code, "v": version, "a": amount},
    )


async def test_budget_pace_reads_the_newest_approved_budget(rows: Rows) -> None:
    # given June 2013 (rolled back): two hospitals whose institutions.csv budget is huge, each with
    # an approved 2013 budget of 12,000.00 (pace by June 6,000.00, alert above 9,000.00); the second
    # one's budget adjusted mid-year to 24,000.00 (version 2, approved); both spent 9,000.01
    first, adjusted = await rows.institution(), await rows.institution()
    patient = await rows.person()
    for inst in (first, adjusted):
        await _approved(rows.session, inst, 2013, 1, 1_200_000)
        for month, fund in ((2, 400_000), (5, 500_001)):
            await rows.visit(inst, patient, date(2013, month, 10), fund_total=fund)
    await _approved(rows.session, adjusted, 2013, 2, 2_400_000)
    # when the June alerts run
    result = await alerts.run(rows.session, await load_rules(rows.session), 2013, 6)
    # then only the hospital whose approved budget in force is 12,000.00 is alerted, from that budget
    assert result["budget_growth"] == 1
    found = await _alerts(rows.session, "2013-06")
    pace = found[("budget_growth", first)]
    assert (pace.amount, pace.detail["budget_pace_fen"], pace.detail["budget_source"]) == (900_001, 600_000, "approved")
    assert ("budget_growth", adjusted) not in found
