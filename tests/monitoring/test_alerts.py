"""Monthly alerts at their exact thresholds: return-to-poverty, fund health and budget pace.

Thresholds (rule parameters seeded from ``policy-2026.json``): a year's self-pay above
50,000.00; months of balance below 6; spending above 1.5 × the budget's pace. Every test runs in
one transaction that is rolled back and asserts only on its own persons, institutions and a
period no other test settles in, so the counts are exact whatever ran before.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, text

from tests.builders import idem, line, make_bill, make_person
from tests.monitoring.rows import Rows, own_institution
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
    # and the 12 months' spending is 9,000.00 (residents) and 9,000.01 (employees), i.e. 750.00 a month:
    # balances of 4,500.00 (exactly 6.00 months) and 4,490.00 (5.99 months)
    rules = _with_params(
        await load_rules(rows.session), "fund_health", balances={"resident": "4500.00", "employee": "4490.00"}
    )
    assert rules.params("fund_health")["months_alert"] == 6
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
    # then one of each kind, each the case just past its threshold
    assert first == {
        "period": "2011-06",
        "return_to_poverty": 1,
        "fund_health": 1,
        "fund_health_skipped": [],
        "budget_growth": 1,
    }
    assert again == {
        "period": "2011-06",
        "return_to_poverty": 0,
        "fund_health": 0,
        "fund_health_skipped": [],
        "budget_growth": 0,
    }
    found = await _alerts(rows.session, "2011-06")
    assert set(found) == {
        ("return_to_poverty", str(above_line)),
        ("fund_health", "employee"),
        ("budget_growth", above_pace),
    }
    assert found[("return_to_poverty", str(above_line))].amount == 5_000_001
    health = found[("fund_health", "employee")]
    assert (health.amount, health.detail["months_of_balance"], health.detail["monthly_spending_fen"]) == (
        449_000,
        "5.99",
        75_000,
    )
    pace = found[("budget_growth", above_pace)]
    assert (pace.amount, pace.detail["budget_pace_fen"]) == (900_001, 600_000)


async def test_fund_health_skips_a_scheme_without_a_balance_and_never_divides_by_zero(rows: Rows) -> None:
    # given resident spending in December 2012 and balances known only for employees (who spent nothing)
    inst = await rows.institution()
    await rows.visit(inst, await rows.person(), date(2012, 12, 3), fund_total=10_000)
    rules = _with_params(await load_rules(rows.session), "fund_health", balances={"employee": "1.00"})
    # when
    result = await alerts.run(rows.session, rules, 2012, 12)
    # then residents are reported as skipped, and employees (no spending: no months of balance) raise nothing
    assert result == {
        "period": "2012-12",
        "return_to_poverty": 0,
        "fund_health": 0,
        "fund_health_skipped": ["resident"],
        "budget_growth": 0,
    }
