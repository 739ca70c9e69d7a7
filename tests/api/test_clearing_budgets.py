"""What is left of issue #19 through HTTP: the DIP clearing's double control reads the approved
budgets (summed over schemes, institutions.csv when none is approved), the clearing's ledger
postings carry their scheme so the fund position shows clearing spending, and an ordinary
prepayment's maximum counts what the institution already holds.

Days and years owned here: the DIP year 2023 (bills 2023-07-06, prepayment 2023-07-08, in a region
of its own; the bureau's month 2023-07) and its clearing on 2026-02-11 (the fund's ledger opens on
2026-01-01: the position is read before and after it); prepayment bills and requests on 2026-06-02."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from api.schemas.clearing import ClearingRead
from tests.api.test_contract import conforms
from tests.api.test_payouts import dip_reference, dip_year, finance
from tests.builders import make_person
from tests.settlement.helpers import at, china, inpatient, own_institution, run_settle, settle
from yibao.budgets.orm import BudgetVersionRow


def yuan(f: int) -> str:
    return f"{Decimal(f) / 100:.2f}"


async def _budget(sessionmaker, region: str, code: str, year: int, scheme: str, version: int, state: str, amount: int):  # type: ignore[no-untyped-def]
    """Given: a budget version as the negotiation (tests/api/test_budgets.py) leaves it."""
    async with sessionmaker() as s, s.begin():
        s.add(
            BudgetVersionRow(
                region=region,
                year=year,
                scheme=scheme,
                institution_code=code,
                version=version,
                state=state,
                amount=amount,
                expected_cases=1,
                per_case_quota=amount,
                history={},
                made_by="fin-x",
                agreed_by="fin-y",
                approved_by="fin-z" if state == "approved" else None,
            )
        )


async def test_clearing_caps_by_the_approved_budgets_and_books_clearing_per_scheme(
    client, admin_headers, sessionmaker
) -> None:
    # given the DIP year 2023 of test_payouts' hand clearing (A: csv budget 100,000.00; B: csv 1,000.00)
    fa = await finance(sessionmaker, "fin-a")
    dy = await dip_year(client, admin_headers, sessionmaker, 2023)
    a, b = dy.a, dy.b
    # and B's approved budgets in force: resident 600.00, employee 300.00 (900.00 in all), plus a
    # newer resident version of 2,000.00 only agreed (not in force); A has none approved
    await _budget(sessionmaker, dy.region, b.code, 2023, "resident", 1, "approved", 60_000)
    await _budget(sessionmaker, dy.region, b.code, 2023, "employee", 1, "approved", 30_000)
    await _budget(sessionmaker, dy.region, b.code, 2023, "resident", 2, "agreed", 200_000)
    await _budget(sessionmaker, dy.region, a.code, 2023, "resident", 1, "agreed", 1_000)
    # and the fund positions on the clearing day before it (the fund's ledger opens on 2026-01-01)
    positions = "/api/v1/reports/fund-position?as_of=2026-02-11&scheme="
    before = {sc: (await client.get(positions + sc, headers=fa)).json()["spending"] for sc in ("resident", "employee")}
    # when the clearing is previewed and committed on Feb 11, 2026, and that day is settled
    with at(china(2026, 2, 11)):
        prev = await client.get(f"/api/v1/clearing/2023/preview?region={dy.region}", headers=fa)
        done = await client.post(f"/api/v1/clearing/2023/commit?region={dy.region}", headers=fa)
    await run_settle(sessionmaker, date(2026, 2, 11))
    # then the hand clearing with B capped at 900.00: B's 1,016.19 before the cap → 900.00, so
    # 900.00 − 784.00 = 116.00 to pay (with the csv's 1,000.00 it was 216.00); A keeps its csv cap
    expected = dip_reference(
        [
            (a.code, "K35.8", "47.0901", 612_000, 78_400),
            (a.code, "J18.9", "", 90_000, 23_800),
            (a.code, "K35.8", "", 162_000, 78_400),
            (b.code, "K35.8", "47.0901", 2_012_000, 78_400),
        ],
        {a.code: (Decimal("1.00"), 10_000_000, 100_000), b.code: (Decimal("0.80"), 90_000, 0)},
        250_000,
    )
    assert {c: (e.before_cap, e.final, e.difference) for c, e in expected.items()} == {
        a.code: (98_704, 98_704, -103_496),
        b.code: (101_619, 90_000, 11_600),
    }
    assert prev.status_code == 200, prev.text
    conforms(ClearingRead, prev)
    got = {s["institution_code"]: s for s in prev.json()["statements"]}
    for code, e in expected.items():
        assert {k: got[code][k] for k in ("before_cap", "final", "difference")} == {
            "before_cap": yuan(e.before_cap),
            "final": yuan(e.final),
            "difference": yuan(e.difference),
        }, code
    assert (got[b.code]["annual_budget"], got[b.code]["budget_source"]) == ("900.00", "approved")
    assert (got[a.code]["annual_budget"], got[a.code]["budget_source"]) == ("100000.00", "institutions")
    assert done.status_code == 200 and done.json()["statements"] == prev.json()["statements"], done.text
    # and the clearing's claims legs carry the scheme of the cases (all resident here): the
    # resident fund position grows by clearing spending −34.96 (A) + 116.00 (B) = 81.04, employee's by 0
    after = {sc: (await client.get(positions + sc, headers=fa)).json()["spending"] for sc in ("resident", "employee")}

    def clearing(spending: dict[str, str]) -> int:
        return int(Decimal(spending.get("clearing", "0.00")) * 100)

    assert clearing(after["resident"]) - clearing(before["resident"]) == 8_104, (before, after)
    assert clearing(after["employee"]) == clearing(before["employee"]), (before, after)
    # and the bureau's page of July 2023 charts the year's four stays (no other test bills that month):
    # resident, level 2, 4 settlements, total 6,120.00 + 900.00 + 1,620.00 + 20,120.00 = 28,760.00,
    # basic fund 784.00 × 3 + 238.00 = 2,590.00, average inpatient cost 7,190.00
    page = await client.get("/api/v1/reports/bureau/page?month=2023-07", headers=fa)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
    html = page.text
    assert html.count("<svg") == 3 and "2023-07 结算人次 settlements" in html
    assert "<td>resident</td><td>2</td><td>4</td><td>28760.00</td><td>2590.00</td>" in html
    assert "<td>7190.00</td>" in html
    assert 'src="http' not in html and "<link" not in html  # nothing loaded from outside
    staffless = await client.get("/api/v1/reports/bureau/page?month=2023-07", headers=a.headers)
    bad = await client.get("/api/v1/reports/bureau/page?month=2023-13", headers=fa)
    assert staffless.status_code == 401, staffless.text
    assert bad.status_code in (400, 422) and "error" in bad.json(), bad.text


def test_a_clearing_adjustment_splits_over_schemes_to_the_fen() -> None:
    from yibao.clearing.year_end import split

    # 100.01 over claims 2:1 → 66.67 + 33.34 = 100.01 (the larger remainder takes the fen)
    assert split(10_001, {"employee": [200, 1], "resident": [100, 1]}) == {"employee": 6_667, "resident": 3_334}
    assert split(-10_001, {"employee": [200, 1], "resident": [100, 1]}) == {"employee": -6_667, "resident": -3_334}
    # nothing claimed: by cases
    assert split(3, {"employee": [0, 1], "resident": [0, 2]}) == {"employee": 1, "resident": 2}
    assert split(5, {}) == {}


async def test_an_ordinary_prepayment_counts_what_is_outstanding(client, admin_headers, sessionmaker) -> None:
    # given a hospital of this test's own with two 784.00 stays on Jun 2 (its only fund payments):
    # 1 month × 1,568.00 / 12 = 130.666… → at most 130.66 outstanding at once
    fa, fb = await finance(sessionmaker, "fin-pp-out-a"), await finance(sessionmaker, "fin-pp-out-b")
    own = await own_institution(client, sessionmaker, admin_headers)
    day = date(2026, 6, 2)
    for hour in (9, 10):
        await settle(
            client, own.headers, inpatient(await make_person(client, admin_headers), day), china(2026, 6, 2, hour)
        )
    await run_settle(sessionmaker, day)
    body = {"institution_code": own.code, "year": 2026, "reason": "预付"}

    async def ask(amount: str, key: str, year: int = 2026):  # type: ignore[no-untyped-def]
        with at(china(2026, 6, 2, 15)):
            return await client.post(
                "/api/v1/payouts/prepayments",
                json={**body, "year": year, "amount": amount},
                headers={**fa, "Idempotency-Key": key},
            )

    # when 100.00 is requested and paid out, then 30.67 and 30.66 (what is left) are requested
    first = await ask("100.00", "out-1")
    assert first.status_code == 201, first.text
    with at(china(2026, 6, 2, 16)):
        paid = await client.post(f"/api/v1/payouts/prepayments/{first.json()['id']}/approve", headers=fb)
    assert paid.status_code == 200, paid.text
    above = await ask("30.67", "out-2")
    exact = await ask("30.66", "out-3")
    # then one fen above what is left is refused with the maximum left; exactly that passes
    assert above.status_code == 422 and above.json()["error"]["code"] == "PREPAYMENT_ABOVE_LIMIT", above.text
    assert "30.66" in above.json()["error"]["message"] and "100.00" in above.json()["error"]["message"]
    assert exact.status_code == 201 and exact.json()["amount"] == "30.66", exact.text
    # and a request not yet approved counts too: nothing more may be asked for 2026
    more = await ask("0.01", "out-4")
    assert more.status_code == 422 and "0.00" in more.json()["error"]["message"], more.text
    # another year's prepayment is sized on its own
    other = await ask("130.66", "out-5", year=2027)
    assert other.status_code == 201, other.text
