"""Monthly alerts: return-to-poverty from the year's self-pay, fund health from balances given."""

from __future__ import annotations

from sqlalchemy import select

from tests.builders import idem, line, make_bill, make_person
from yibao.monitoring import alerts
from yibao.monitoring.orm import AlertRow
from yibao.monitoring.repository import load_rules
from yibao.monitoring.rules import RuleConfig, build
from yibao.people.orm import PersonRow


async def test_return_to_poverty_and_fund_health(client, admin_headers, hospital, sessionmaker) -> None:
    # given a person who paid 70,000 out of pocket (class C) and one who paid 600
    big = await make_person(client, admin_headers)
    small = await make_person(client, admin_headers)
    for idn, qty in ((big, "100"), (small, "1")):
        bill = make_bill(idn, [line("S-VIPW", qty, "700.00", day="2026-06-02")], service_date="2026-06-02")
        r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
        assert r.status_code == 201, r.text
    stay = make_bill(
        small,
        [line("S-APPX", "1", "1500.00", day="2026-06-03")],
        visit_type="inpatient",
        admitted_on="2026-06-03",
        service_date="2026-06-05",
    )  # some fund spending this year
    assert (await client.post("/api/v1/settlements", json=stay, headers={**hospital, **idem()})).status_code == 201
    async with sessionmaker() as s:
        try:
            rules = await load_rules(s)
            fh = rules.get("fund_health")
            tiny = RuleConfig(**{**fh.__dict__, "params": {**fh.params, "balances": {"resident": "1.00"}}})
            rules = build([*rules.rules.values(), tiny], [])
            # when the June alerts run (twice: idempotent)
            first = await alerts.run(s, rules, 2026, 6)
            again = await alerts.run(s, rules, 2026, 6)
            # then the big payer is listed, the small one is not, and the resident fund is short of money
            rows = (await s.scalars(select(AlertRow).where(AlertRow.period == "2026-06"))).all()
            poverty = {r.subject: r.amount for r in rows if r.kind == "return_to_poverty"}
            people = await s.scalars(select(PersonRow).where(PersonRow.id_number.in_([big, small])))
            ids = {p.id_number: p.id for p in people}
            assert poverty.get(str(ids[big])) == 7_000_000 and str(ids[small]) not in poverty
            assert first["fund_health"] == 1 and "resident" not in first["fund_health_skipped"]
            assert again["return_to_poverty"] == 0 and again["fund_health"] == 0
        finally:
            await s.rollback()
