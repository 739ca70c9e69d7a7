"""Payouts, reconcile, clearing and reports through HTTP, every amount checked to the fen.

Each test owns its institutions (``own_institution``) and its days (see tests/settlement/helpers),
and the clearing test owns its pooling region and year, so no test sees another's money in any
order of the run. Hand figures (default policy, DOMAIN §4; residents unless said):
* inpatient at level 2: policy range P = 120.00 bed + min(price, 1,500.00) appendectomy;
  basic = (P − 500.00) × 0.70 on a first admission (P = 1,620.00 → 784.00);
* outpatient S-CTHD at level 1: resident pooling, no deductible, 0.50 → 120.00 pays 60.00;
  employee pooling: 200.00 annual deductible, then 0.50; the rest from the personal account.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlalchemy import text

from api.schemas.clearing import ClearingRead, InstitutionClearingRead
from api.schemas.payouts import (
    InstitutionOrderDetailRead,
    InstitutionOrderPage,
    OrderDetailRead,
    OrderRead,
    PrepaymentRead,
)
from tests.api.test_contract import conforms
from tests.builders import idem, line, make_bill, make_person
from tests.settlement.helpers import (
    OwnInstitution,
    at,
    cancel,
    china,
    fen,
    fund_parts,
    inpatient,
    line_figures,
    order_lines,
    outpatient,
    own_institution,
    own_region,
    run_settle,
    settle,
    yuan,
)
from yibao.auth.tokens import create_staff_token

UNKNOWN = "00000000-0000-0000-0000-000000000000"


async def finance(sessionmaker, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, 'finance', name)}"}


def totals_of(bill: dict) -> tuple[int, int, int]:  # type: ignore[type-arg]
    t = bill["totals"]
    return fen(t["total"]), fen(t["fund_total"]), fen(t["personal_account"])


async def test_reconcile_finds_exactly_the_planted_mismatches(client, admin_headers, sessionmaker) -> None:
    # given June 3 at a township hospital of this test: two resident visits, two employee visits
    # paid from the personal account, and one resident visit cancelled the same day
    own = await own_institution(client, sessionmaker, admin_headers, level=1)
    resident = await make_person(client, admin_headers)
    employee = await make_person(client, admin_headers, scheme="employee", account="5000.00")
    day = date(2026, 6, 3)
    b1 = await settle(client, own.headers, outpatient(resident, day), china(2026, 6, 3, 9))
    b2 = await settle(client, own.headers, outpatient(resident, day), china(2026, 6, 3, 10))
    b3 = await settle(
        client, own.headers, outpatient(employee, day, price="150.00", use_personal_account=True), china(2026, 6, 3, 11)
    )
    b4 = await settle(
        client, own.headers, outpatient(employee, day, price="130.00", use_personal_account=True), china(2026, 6, 3, 12)
    )
    gone = await settle(client, own.headers, outpatient(resident, day), china(2026, 6, 3, 13))
    await cancel(client, own.headers, gone["settlement_id"], china(2026, 6, 3, 14))
    # (total, fund pay, account pay) by hand: 120.00 × 0.50; the employee's 150.00 all under the
    # 200.00 deductible, from the account; then 50.00 deductible left: (130.00 − 50.00) × 0.50
    by_hand = {
        b1["settlement_id"]: ("resident", 12_000, 6_000, 0),
        b2["settlement_id"]: ("resident", 12_000, 6_000, 0),
        b3["settlement_id"]: ("employee", 15_000, 0, 15_000),
        b4["settlement_id"]: ("employee", 13_000, 4_000, 9_000),
    }
    assert {b["settlement_id"]: totals_of(b) for b in (b1, b2, b3, b4)} == {sid: v[1:] for sid, v in by_hand.items()}

    def detail(sid: str, scheme: str, total: int, fund_pay: int, account_pay: int) -> dict[str, str]:
        return {
            "settlement_id": sid,
            "scheme": scheme,
            "total": yuan(total),
            "fund_pay": yuan(fund_pay),
            "account_pay": yuan(account_pay),
        }

    details = [detail(sid, *v) for sid, v in by_hand.items()]
    good_totals = [
        {"scheme": "employee", "count": 2, "total": "280.00", "fund_pay": "40.00", "account_pay": "240.00"},
        {"scheme": "resident", "count": 2, "total": "240.00", "fund_pay": "120.00", "account_pay": "0.00"},
    ]
    ok = await client.post(
        "/api/v1/reconcile/submissions",
        json={"month": "2026-06", "totals": good_totals, "details": details},
        headers=own.headers,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "balanced", ok.text
    assert ok.json()["fund_totals"] == {t["scheme"]: {k: v for k, v in t.items() if k != "scheme"} for t in good_totals}
    # when: one bill left out, one unknown id, a difference planted in every field of the detail
    # and two in the month totals
    s1, s2, s3, s4 = by_hand
    planted = [
        {**details[1], "total": "121.00"},
        {**details[2], "scheme": "resident", "fund_pay": "0.01"},
        {**details[3], "account_pay": "80.00"},
        {**details[0], "settlement_id": UNKNOWN},
    ]
    bad_totals = [
        {**good_totals[0], "total": "280.01"},
        {**good_totals[1], "count": 3, "account_pay": "1.00"},
    ]
    body = {"month": "2026-06", "totals": bad_totals, "details": planted}
    r = await client.post("/api/v1/reconcile/submissions", json=body, headers=own.headers)
    answer = r.json()
    # then exactly the planted ones are found, with both sides' figures
    assert answer["status"] == "unbalanced"
    assert answer["missing_at_institution"] == [s1]
    assert answer["missing_at_fund"] == [UNKNOWN]
    assert sorted(answer["differences"], key=lambda d: (d["settlement_id"], d["field"])) == sorted(
        [
            {"settlement_id": s2, "field": "total", "fund": "120.00", "institution": "121.00"},
            {"settlement_id": s3, "field": "scheme", "fund": "employee", "institution": "resident"},
            {"settlement_id": s3, "field": "fund_pay", "fund": "0.00", "institution": "0.01"},
            {"settlement_id": s4, "field": "account_pay", "fund": "90.00", "institution": "80.00"},
        ],
        key=lambda d: (d["settlement_id"], d["field"]),
    )
    assert sorted(answer["total_differences"], key=lambda d: (d["scheme"], d["field"])) == [
        {"scheme": "employee", "field": "total", "fund": "280.00", "institution": "280.01"},
        {"scheme": "resident", "field": "account_pay", "fund": "0.00", "institution": "1.00"},
        {"scheme": "resident", "field": "count", "fund": 2, "institution": 3},
    ]
    again = await client.post("/api/v1/reconcile/submissions", json=body, headers=own.headers)
    assert again.json()["id"] == answer["id"]
    # a totals mismatch alone is enough to unbalance a month
    only_totals = await client.post(
        "/api/v1/reconcile/submissions",
        json={"month": "2026-06", "totals": bad_totals, "details": details},
        headers=own.headers,
    )
    assert only_totals.json()["status"] == "unbalanced"
    assert only_totals.json()["total_differences"] == answer["total_differences"]
    assert only_totals.json()["differences"] == [] and only_totals.json()["missing_at_fund"] == []
    # the CSV upload of the good list balances; others cannot read this institution's submission
    csv_text = "settlement_id,scheme,total,fund_pay,account_pay\n" + "".join(
        f"{d['settlement_id']},{d['scheme']},{d['total']},{d['fund_pay']},{d['account_pay']}\n" for d in details
    )
    up = await client.post(
        "/api/v1/reconcile/submissions/csv",
        headers=own.headers,
        data={"month": "2026-06", "totals": json.dumps(good_totals)},
        files={"details": ("june.csv", csv_text.encode(), "text/csv")},
    )
    assert up.status_code == 200 and up.json()["status"] == "balanced", up.text
    other = await own_institution(client, sessionmaker, admin_headers, level=1)
    assert (await client.get(f"/api/v1/reconcile/submissions/{answer['id']}", headers=other.headers)).status_code == 404
    bad = await client.post(
        "/api/v1/reconcile/submissions", json={"month": "2026-13", "totals": []}, headers=own.headers
    )
    assert bad.status_code == 400
    # (June 3 is settled, so none of its payable is left open for another test's order)
    closed = await run_settle(sessionmaker, day)
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, closed.order_id)).items()} == {
        (own.code, "basic"): (22_000, 6_000, 0, 0, 16_000),
        (own.code, "personal_account"): (24_000, 0, 0, 0, 24_000),
    }


async def test_order_is_maker_checked_and_pays_exactly_its_lines(client, admin_headers, sessionmaker) -> None:
    # given July 6 at a county hospital (784.00 + 434.00 + 784.00, the last cancelled) and a
    # township hospital (60.00), settled by finance A
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    county = await own_institution(client, sessionmaker, admin_headers, level=2)
    township = await own_institution(client, sessionmaker, admin_headers, level=1)
    day = date(2026, 7, 6)
    people = [await make_person(client, admin_headers) for _ in range(4)]
    bills = [
        await settle(client, county.headers, inpatient(people[0], day), china(2026, 7, 6, 9)),
        await settle(client, county.headers, inpatient(people[1], day, price="1000.00"), china(2026, 7, 6, 10)),
        await settle(client, county.headers, inpatient(people[2], day), china(2026, 7, 6, 11)),
        await settle(client, township.headers, outpatient(people[3], day), china(2026, 7, 6, 12)),
    ]
    # (1,120.00 − 500.00) × 0.70 = 434.00 for the 1,000.00 operation
    assert [fund_parts(b["totals"])["basic"] for b in bills] == [78_400, 43_400, 78_400, 6_000]
    await cancel(client, county.headers, bills[2]["settlement_id"], china(2026, 7, 6, 15))
    result = await run_settle(sessionmaker, day, by="fin-a")
    oid = result.order_id
    # when A tries to approve → 403 SAME_ACTOR; B approves and pays on July 7
    r = await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fa)
    assert r.status_code == 403 and r.json()["error"]["code"] == "SAME_ACTOR"
    approved = await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fb)
    with at(china(2026, 7, 7, 9)):
        paid = await client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb)
    again = await client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb)
    # then the order is the two hospitals' lines, to the fen, in every state
    for step, state in ((approved, "approved"), (paid, "paid")):
        assert step.status_code == 200, step.text
        assert (step.json()["state"], step.json()["total"], step.json()["line_count"]) == (state, "1278.00", 2)
    assert (again.status_code, again.json()) == (200, paid.json())  # a retry pays nothing more
    order = (await client.get(f"/api/v1/payouts/orders/{oid}", headers=fb)).json()
    assert (order["settle_date"], order["prepared_by"], order["approved_by"], order["paid_by"]) == (
        "2026-07-06",
        "fin-a",
        "fin-b",
        "fin-b",
    )
    county_line = {
        "institution_code": county.code,
        "fund": "basic",
        "settled": "2002.00",
        "cancelled": "784.00",
        "adjusted": "0.00",
        "deducted": "0.00",
        "net": "1218.00",
    }
    township_line = {
        "institution_code": township.code,
        "fund": "basic",
        "settled": "60.00",
        "cancelled": "0.00",
        "adjusted": "0.00",
        "deducted": "0.00",
        "net": "60.00",
    }
    assert sorted(order["lines"], key=lambda x: x["institution_code"]) == sorted(
        [county_line, township_line], key=lambda x: x["institution_code"]
    )
    # the bank file: one row per institution and fund paid, and the control total
    bank = await client.get(f"/api/v1/payouts/orders/{oid}/bank-file", headers=fb)
    rows = list(csv.reader(io.StringIO(bank.text)))
    assert rows[0] == ["order_id", "settle_date", "institution_code", "institution_name", "fund", "amount"]
    assert sorted(rows[1:-1]) == sorted(
        [
            [str(oid), "2026-07-06", county.code, county.name, "basic", "1218.00"],
            [str(oid), "2026-07-06", township.code, township.name, "basic", "60.00"],
        ]
    )
    assert rows[-1] == ["TOTAL", "2", "", "", "", "1278.00"]
    # each institution sees its own line only; one with no line sees nothing
    mine = await client.get(f"/api/v1/payouts/orders/{oid}", headers=county.headers)
    assert mine.status_code == 200, mine.text
    assert mine.json()["lines"] == [county_line]
    other = await own_institution(client, sessionmaker, admin_headers, level=1)
    assert (await client.get(f"/api/v1/payouts/orders/{oid}", headers=other.headers)).status_code == 404
    # and the fund report: July 6 spent the bills' basic parts, July 7 paid them out
    rep = await client.get("/api/v1/reports/funds?from=2026-07-06&to=2026-07-07&period=day", headers=fa)
    assert rep.status_code == 200, rep.text
    assert rep.json()["items"] == [
        {
            "period": "2026-07-06",
            "fund": "basic",
            "spending": "1278.00",
            "income": "0.00",
            "paid_out": "0.00",
            "payable_change": "1278.00",
        },
        {
            "period": "2026-07-07",
            "fund": "basic",
            "spending": "0.00",
            "income": "0.00",
            "paid_out": "1278.00",
            "payable_change": "-1278.00",
        },
    ]


# --- year-end DIP clearing ------------------------------------------------------------------

#: DIP groups of the reference data used below: (main diagnosis, procedure) → points, average cost
GROUPS = {("K35.8", "47.0901"): (900, 900_000), ("J18.9", ""): (550, 550_000)}
#: default policy: cases above 2× / below 0.5× the average are scaled; 15 % surplus kept;
#: 50 % of an overspend shared, up to 10 % of the DIP amount
HIGH, LOW, KEEP, SHARE, BAND = Decimal("2.0"), Decimal("0.5"), Decimal("0.15"), Decimal("0.50"), Decimal("0.10")


def _half_up(x: Decimal, q: str = "1") -> Decimal:
    return x.quantize(Decimal(q), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class HandStatement:
    points: Decimal
    weighted: Decimal
    dip: int
    claimed: int
    before_cap: int
    final: int
    ratio: Decimal
    prepaid: int
    difference: int
    unmatched_claimed: int


def dip_reference(
    cases: list[tuple[str, str, str, int, int]],
    institutions: dict[str, tuple[Decimal, int, int]],
    budget: int,
) -> dict[str, HandStatement]:
    """DOMAIN §5 year-end clearing, from the text alone (fen; points to 4 decimals, the point
    value an exact fraction and the DIP amount rounded half-up to the fen once, as the product
    states its precision).

    ``cases``: (institution, main diagnosis, procedure, cost, basic fund paid);
    ``institutions``: code → (coefficient, annual budget, prepaid)."""
    points = dict.fromkeys(institutions, Decimal(0))
    claimed = dict.fromkeys(institutions, 0)
    unmatched = dict.fromkeys(institutions, 0)
    for inst, dx, proc, cost, paid in cases:
        if (dx, proc) not in GROUPS:
            unmatched[inst] += paid
            continue
        pts, avg = GROUPS[(dx, proc)]
        ratio = Decimal(cost) / Decimal(avg)
        points[inst] += _half_up(pts * ratio if ratio > HIGH or ratio < LOW else Decimal(pts), "0.0001")
        claimed[inst] += paid
    weighted = {c: _half_up(points[c] * institutions[c][0], "0.0001") for c in institutions}
    value = Fraction(budget) / Fraction(sum(weighted.values()))  # fen per point, exact
    out: dict[str, HandStatement] = {}
    for code, (_, annual_budget, prepaid) in institutions.items():
        dip = math.floor(Fraction(weighted[code]) * value + Fraction(1, 2))
        paid = claimed[code]
        if paid < dip:  # keep the surplus up to 15 % of the DIP amount
            settled = paid + min(dip - paid, int(_half_up(dip * KEEP)))
        else:  # the fund shares 50 % of the overspend, up to 10 % of the DIP amount
            settled = dip + min(int(_half_up((paid - dip) * SHARE)), int(_half_up(dip * BAND)))
        final = min(settled, annual_budget)
        out[code] = HandStatement(
            points=points[code],
            weighted=weighted[code],
            dip=dip,
            claimed=paid,
            before_cap=settled,
            final=final,
            ratio=_half_up(Decimal(final) / Decimal(paid), "0.0001"),
            prepaid=prepaid,
            difference=final - paid - prepaid,
            unmatched_claimed=unmatched[code],
        )
    return out


@dataclass(frozen=True)
class DipYear:
    region: str
    year: int
    a: OwnInstitution
    b: OwnInstitution
    unmatched: str  # settlement id of A's case that fits no DIP group
    expected: dict[str, HandStatement]


async def dip_year(client, admin_headers, sessionmaker, year: int) -> DipYear:  # type: ignore[no-untyped-def]
    """A pooling region of the test's own for ``year`` (DIP budget 2,500.00) with two DIP
    hospitals, A (coefficient 1.00) and B (0.80, annual budget only 1,000.00); four stays on
    July 6 (settled into that day's order) and a 1,000.00 prepayment to A paid out on July 8 (the
    region's policy lets a prepayment reach 7 months of A's fund payments)."""
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    region = await own_region(sessionmaker, year, dip_budget="2500.00", fund={"prepayment_months": "7"})
    a = await own_institution(
        client, sessionmaker, admin_headers, region=region, dip_coefficient="1.00", annual_budget="100000.00"
    )
    b = await own_institution(
        client, sessionmaker, admin_headers, region=region, dip_coefficient="0.80", annual_budget="1000.00"
    )
    day = date(year, 7, 6)
    people = [await make_person(client, admin_headers, region=region, year=year) for _ in range(4)]
    appendectomy = ["47.0901"]
    # A: appendectomy (cost 6,120.00 = 0.68 × average: 900 points), pneumonia (cost 900.00 =
    # 0.16 × average < 0.5: scaled to 550 × 900/5,500 = 90 points), and an appendicitis without
    # the operation (no group: paid item by item, outside the pool)
    a1 = await settle(
        client, a.headers, inpatient(people[0], day, price="6000.00", procedures=appendectomy), china(year, 7, 6, 9)
    )
    pneumonia = make_bill(
        people[1],
        [
            line("S-BED-2", "3", "40.00", no=1, day=day.isoformat()),
            line("S-CTHD", "1", "180.00", no=2, day=day.isoformat()),
            line("S-MRI", "1", "600.00", no=3, day=day.isoformat()),
        ],
        visit_type="inpatient",
        service_date=day.isoformat(),
        diagnoses=["J18.9"],
    )
    a2 = await settle(client, a.headers, pneumonia, china(year, 7, 6, 10))
    a3 = await settle(client, a.headers, inpatient(people[2], day), china(year, 7, 6, 11))
    # B: appendectomy at cost 20,120.00 = 2.24 × average > 2: scaled to 900 × 20,120/9,000 = 2,012
    b1 = await settle(
        client, b.headers, inpatient(people[3], day, price="20000.00", procedures=appendectomy), china(year, 7, 6, 12)
    )
    # first admissions, policy range 1,620.00 → 784.00; pneumonia: MRI is class B (10 % pre
    # self-pay), P = 120.00 + 180.00 + 540.00 = 840.00 → (840.00 − 500.00) × 0.70 = 238.00
    assert [(fen(x["totals"]["total"]), fund_parts(x["totals"])["basic"]) for x in (a1, a2, a3, b1)] == [
        (612_000, 78_400),
        (90_000, 23_800),
        (162_000, 78_400),
        (2_012_000, 78_400),
    ]
    order = await run_settle(sessionmaker, day)  # the day is paid as usual
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, order.order_id)).items()} == {
        (a.code, "basic"): (180_600, 0, 0, 0, 180_600),
        (b.code, "basic"): (78_400, 0, 0, 0, 78_400),
    }
    # the region's policy allows up to 7 months' payments: 7 × 1,806.00 / 12 = 1,053.50 ≥ 1,000.00
    with at(china(year, 7, 8, 9)):
        p = await client.post(
            "/api/v1/payouts/prepayments",
            headers={**fa, **idem()},
            json={"institution_code": a.code, "year": year, "amount": "1000.00"},
        )
    assert p.status_code == 201, p.text
    assert (await client.post(f"/api/v1/payouts/prepayments/{p.json()['id']}/approve", headers=fa)).status_code == 403
    with at(china(year, 7, 8, 10)):
        ok = await client.post(f"/api/v1/payouts/prepayments/{p.json()['id']}/approve", headers=fb)
    assert ok.status_code == 200 and ok.json()["amount"] == "1000.00", ok.text
    expected = dip_reference(
        [
            (a.code, "K35.8", "47.0901", 612_000, 78_400),
            (a.code, "J18.9", "", 90_000, 23_800),
            (a.code, "K35.8", "", 162_000, 78_400),
            (b.code, "K35.8", "47.0901", 2_012_000, 78_400),
        ],
        {a.code: (Decimal("1.00"), 10_000_000, 100_000), b.code: (Decimal("0.80"), 100_000, 0)},
        250_000,
    )
    # by hand: weighted 990 + 1,609.6 = 2,599.6 points; 250,000 fen / 2,599.6 = 96.168641 fen a point.
    # A: DIP 952.07, claimed 1,022.00 → 50 % of the 69.93 overspend (34.97 < band 95.21) = 987.04;
    #    minus claimed and the 1,000.00 prepaid: −1,034.96 to recover.
    # B: DIP 1,547.93, claimed 784.00 → surplus 763.93 kept up to 15 % (232.19) = 1,016.19, capped
    #    by its 1,000.00 annual budget: 216.00 to pay.
    assert {c: (e.dip, e.final, e.difference) for c, e in expected.items()} == {
        a.code: (95_207, 98_704, -103_496),
        b.code: (154_793, 100_000, 21_600),
    }
    return DipYear(region, year, a, b, a3["settlement_id"], expected)


async def test_clearing_preview_refusal_commit_and_fund_report(client, admin_headers, sessionmaker) -> None:
    # given the DIP year 2025 of a region of this test's own
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    dy = await dip_year(client, admin_headers, sessionmaker, 2025)
    a, b, region = dy.a, dy.b, dy.region
    # when a commit is tried before the year has ended
    with at(china(2025, 12, 31, 23, 59)):
        early = await client.post(f"/api/v1/clearing/2025/commit?region={region}", headers=fb)
        still = await client.get(f"/api/v1/clearing/2025/preview?region={region}", headers=fa)
    # then it is refused and nothing is written
    assert early.status_code == 400 and early.json()["error"]["code"] == "INVALID_REQUEST", early.text
    assert still.json()["committed"] is False
    # when previewed and committed after the year (a second commit changes nothing)
    with at(china(2026, 1, 5)):
        prev = await client.get(f"/api/v1/clearing/2025/preview?region={region}", headers=fa)
        first = await client.post(f"/api/v1/clearing/2025/commit?region={region}", headers=fb)
        second = await client.post(f"/api/v1/clearing/2025/commit?region={region}", headers=fa)
    await run_settle(sessionmaker, date(2026, 1, 5))  # close the clearing day (see helpers); pinned below
    # then each statement is the hand clearing
    assert prev.status_code == 200 and prev.json()["committed"] is False, prev.text
    head = {k: prev.json()[k] for k in ("region", "year", "budget", "weighted_points", "point_value")}
    assert head == {
        "region": region,
        "year": 2025,
        "budget": "2500.00",
        "weighted_points": "2599.6000",
        "point_value": "0.961686",
    }
    got = {s["institution_code"]: s for s in prev.json()["statements"]}
    assert set(got) == {a.code, b.code}
    for code, e in dy.expected.items():
        s = got[code]
        assert (Decimal(s["points"]), Decimal(s["weighted_points"])) == (e.points, e.weighted), code
        assert {k: s[k] for k in ("dip_amount", "claimed", "before_cap", "final", "prepaid", "difference")} == {
            "dip_amount": yuan(e.dip),
            "claimed": yuan(e.claimed),
            "before_cap": yuan(e.before_cap),
            "final": yuan(e.final),
            "prepaid": yuan(e.prepaid),
            "difference": yuan(e.difference),
        }, code
        assert Decimal(s["clearing_ratio"]) == e.ratio, code
        assert s["unmatched_claimed"] == yuan(e.unmatched_claimed)
    assert (got[a.code]["cases"], got[a.code]["unmatched"], got[a.code]["direction"]) == (
        2,
        [dy.unmatched],
        "recover",
    )
    assert (got[b.code]["cases"], got[b.code]["unmatched"], got[b.code]["direction"]) == (1, [], "pay")
    assert first.status_code == 200, first.text
    assert second.json() == first.json()
    assert first.json()["statements"] == prev.json()["statements"] and first.json()["committed"] is True
    mine = await client.get(f"/api/v1/clearing/2025/statements?region={region}", headers=b.headers)
    assert [s["institution_code"] for s in mine.json()["statements"]] == [b.code]
    assert mine.json()["statements"][0]["final"] == "1000.00"
    # an institution sees the point value (to check its own DIP amount) but not the region's
    # budget or weighted points, and never another hospital's figures
    conforms(InstitutionClearingRead, mine)
    assert mine.json()["point_value"] == "0.961686"
    assert "budget" not in mine.json() and "2599.6000" not in mine.text and a.code not in mine.text
    staff_read = await client.get(f"/api/v1/clearing/2025/statements?region={region}", headers=fa)
    conforms(ClearingRead, staff_read)
    assert staff_read.json() == first.json()
    # and the fund report of the region's year: the bills' basic parts, then the prepayment paid out
    rep = await client.get("/api/v1/reports/funds?from=2025-07-01&to=2025-12-31&period=day", headers=fa)
    assert rep.status_code == 200, rep.text
    assert rep.json()["items"] == [
        {  # 784.00 + 238.00 + 784.00 (A) + 784.00 (B)
            "period": "2025-07-06",
            "fund": "basic",
            "spending": "2590.00",
            "income": "0.00",
            "paid_out": "0.00",
            "payable_change": "2590.00",
        },
        {
            "period": "2025-07-08",
            "fund": "basic",
            "spending": "0.00",
            "income": "0.00",
            "paid_out": "1000.00",
            "payable_change": "0.00",
        },
    ]


async def test_clearing_commit_books_every_institutions_difference(client, admin_headers, sessionmaker) -> None:
    # given the DIP year 2024 of a region of this test's own (the same hand clearing as above)
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    dy = await dip_year(client, admin_headers, sessionmaker, 2024)
    a, b = dy.a, dy.b
    # when the clearing is committed on Jan 6 (and retried), and that day is settled
    with at(china(2025, 1, 6)):
        committed = await client.post(f"/api/v1/clearing/2024/commit?region={dy.region}", headers=fb)
        retried = await client.post(f"/api/v1/clearing/2024/commit?region={dy.region}", headers=fb)
    assert committed.status_code == 200, committed.text
    assert (retried.status_code, retried.json()) == (200, committed.json())
    after = await run_settle(sessionmaker, date(2025, 1, 6))
    # then each hospital's final − claimed is booked on its payable, and A's prepayment recovered
    async with sessionmaker() as s:
        rows = await s.execute(
            text(
                "SELECT institution_code, movement, SUM(amount) FROM ledger_postings "
                "WHERE institution_code = ANY(:codes) AND account = 'payable' "
                "AND movement IN ('clearing', 'prepayment_recovery') GROUP BY 1, 2"
            ),
            {"codes": [a.code, b.code]},
        )
        booked = {(r[0], r[1]): int(r[2]) for r in rows}
    assert booked == {
        (a.code, "clearing"): 3_496,  # 987.04 − 1,022.00 owed back
        (a.code, "prepayment_recovery"): 100_000,
        (b.code, "clearing"): -21_600,  # 1,000.00 − 784.00 owed to B
    }
    # and the next daily settle pays B its 216.00; A's −1,034.96 waits to be recovered from new bills
    assert {k: line_figures(v) for k, v in (await order_lines(sessionmaker, after.order_id)).items()} == {
        (b.code, "basic"): (0, 0, 21_600, 0, 21_600)
    }
    assert after.total == 21_600
    rep = await client.get("/api/v1/reports/funds?from=2025-01-06&to=2025-01-06&period=day", headers=fa)
    assert rep.json()["items"] == [
        {  # claims −34.96 (A) + 216.00 (B); the prepayment recovered; payable −(34.96 + 1,000.00 − 216.00)
            "period": "2025-01-06",
            "fund": "basic",
            "spending": "181.04",
            "income": "1000.00",
            "paid_out": "0.00",
            "payable_change": "-818.96",
        }
    ]


# --- what an institution sees of the county's payouts (issue #13.7) -----------------------


async def test_an_institution_sees_its_own_lines_and_sum_never_the_countys(client, admin_headers, sessionmaker) -> None:
    # given Aug 24: a county hospital (784.00) and a township hospital (60.00), settled by finance
    # A, approved by B and paid on Aug 25
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    county = await own_institution(client, sessionmaker, admin_headers, level=2)
    township = await own_institution(client, sessionmaker, admin_headers, level=1)
    day = date(2026, 8, 24)
    p1, p2 = await make_person(client, admin_headers), await make_person(client, admin_headers)
    await settle(client, county.headers, inpatient(p1, day), china(2026, 8, 24, 9))
    await settle(client, township.headers, outpatient(p2, day), china(2026, 8, 24, 10))
    oid = (await run_settle(sessionmaker, day, by="fin-a")).order_id
    assert (await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fb)).status_code == 200
    with at(china(2026, 8, 25, 9)):
        paid = await client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb)
    assert paid.status_code == 200, paid.text
    # when staff, then each hospital, read the order and the list of orders
    staff_view = await client.get(f"/api/v1/payouts/orders/{oid}", headers=fa)
    views = {
        inst.code: (
            await client.get(f"/api/v1/payouts/orders/{oid}", headers=inst.headers),
            await client.get("/api/v1/payouts/orders?before=2026-08-26&limit=1", headers=inst.headers),
        )
        for inst in (county, township)
    }
    # then staff see the county's order: both lines, the total and who prepared, approved, paid
    assert staff_view.status_code == 200, staff_view.text
    conforms(OrderDetailRead, staff_view)
    s = staff_view.json()
    assert (s["total"], s["line_count"], s["prepared_by"], s["approved_by"], s["paid_by"]) == (
        "844.00",
        2,
        "fin-a",
        "fin-b",
        "fin-b",
    )
    # and each hospital its own line and its own sum only: no county total, no staff names
    own_net = {county.code: "784.00", township.code: "60.00"}
    for inst, other in ((county, township), (township, county)):
        one, page = views[inst.code]
        assert one.status_code == 200 and page.status_code == 200, (one.text, page.text)
        conforms(InstitutionOrderDetailRead, one)
        conforms(InstitutionOrderPage, page)
        body = one.json()
        assert {k: body[k] for k in ("id", "settle_date", "state", "institution_code", "total", "line_count")} == {
            "id": oid,
            "settle_date": "2026-08-24",
            "state": "paid",
            "institution_code": inst.code,
            "total": own_net[inst.code],
            "line_count": 1,
        }
        assert [(ln["institution_code"], ln["net"]) for ln in body["lines"]] == [(inst.code, own_net[inst.code])]
        assert [(o["id"], o["total"], o["line_count"]) for o in page.json()["items"]] == [(oid, own_net[inst.code], 1)]
        for r in (one, page):
            for secret in ("844.00", "fin-a", "fin-b", other.code, own_net[other.code], s["bank_file_sha256"]):
                assert secret not in r.text, f"{r.request.url} shows {inst.code} {secret}"


# --- money-moving POSTs are safe to retry ---------------------------------------------------


async def _ledger(sessionmaker, code: str) -> dict[tuple[str, str], tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(movement, account) → (legs, sum) of an institution's postings."""
    async with sessionmaker() as s:
        rows = await s.execute(
            text(
                "SELECT movement, account, count(*), SUM(amount) FROM ledger_postings "
                "WHERE institution_code = :c GROUP BY 1, 2"
            ),
            {"c": code},
        )
        return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}


async def test_a_prepayment_request_is_idempotent_on_its_key(client, admin_headers, sessionmaker) -> None:
    # given a hospital of this test's own with a 784.00 stay on Jun 15 (so it may be advanced up
    # to 784.00 / 12 = 65.33) and finance A's request of a 60.00 prepayment
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    own = await own_institution(client, sessionmaker, admin_headers)
    day = date(2026, 6, 15)
    await settle(client, own.headers, inpatient(await make_person(client, admin_headers), day), china(2026, 6, 15, 9))
    await run_settle(sessionmaker, day)
    body = {"institution_code": own.code, "year": 2026, "amount": "60.00", "reason": "年初预付"}
    key = {"Idempotency-Key": f"prepay-{own.code}"}
    with at(china(2026, 9, 21, 9)):
        first = await client.post("/api/v1/payouts/prepayments", json=body, headers={**fa, **key})
        # when it is retried with the same key and body, then with the same key and another body,
        # and sent without a key
        again = await client.post("/api/v1/payouts/prepayments", json=body, headers={**fa, **key})
        other = await client.post(
            "/api/v1/payouts/prepayments", json={**body, "amount": "5000.00"}, headers={**fa, **key}
        )
        keyless = await client.post("/api/v1/payouts/prepayments", json=body, headers=fa)
    # then the retry is the first answer, the other body a conflict, and one prepayment exists
    assert first.status_code == 201, first.text
    conforms(PrepaymentRead, first)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT", other.text
    assert keyless.status_code == 400 and keyless.json()["error"]["code"] == "INVALID_REQUEST", keyless.text
    async with sessionmaker() as s:
        requested = await s.execute(
            text("SELECT id, amount FROM prepayments WHERE institution_code = :c"), {"c": own.code}
        )
        assert [tuple(r) for r in requested] == [(first.json()["id"], 6_000)]
        audited = await s.scalar(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'prepayment.requested' "
                "AND subject_type = 'prepayment' AND subject_id = :id"
            ),
            {"id": str(first.json()["id"])},
        )
    assert audited == 1
    # the same key is another caller's own: finance B's request under it is a new prepayment
    # (of what A's outstanding 60.00 leaves: 5.33)
    with at(china(2026, 9, 21, 9)):
        by_b = await client.post("/api/v1/payouts/prepayments", json={**body, "amount": "5.00"}, headers={**fb, **key})
    assert by_b.status_code == 201 and by_b.json()["id"] != first.json()["id"], by_b.text
    # when B approves A's request twice (a retry), then A approves B's
    pid = first.json()["id"]
    with at(china(2026, 9, 21, 10)):
        approved = await client.post(f"/api/v1/payouts/prepayments/{pid}/approve", headers=fb)
        retried = await client.post(f"/api/v1/payouts/prepayments/{pid}/approve", headers=fb)
    # then the retry answers the same approved prepayment, and the advance is paid out once
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
    assert (retried.status_code, retried.json()) == (200, approved.json())
    assert {k: v for k, v in (await _ledger(sessionmaker, own.code)).items() if k[0] == "prepayment"} == {
        ("prepayment", "prepayment"): (1, 6_000),
        ("prepayment", "bank"): (1, -6_000),
    }


async def test_approving_and_paying_an_order_again_pays_nothing_more(client, admin_headers, sessionmaker) -> None:
    # given Sep 21 at a hospital of this test's own: a 784.00 stay, settled by finance A
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    own = await own_institution(client, sessionmaker, admin_headers)
    day = date(2026, 9, 21)
    await settle(client, own.headers, inpatient(await make_person(client, admin_headers), day), china(2026, 9, 21, 9))
    oid = (await run_settle(sessionmaker, day, by="fin-a")).order_id
    # when B approves twice and pays twice (retries), and A retries the approval
    approved = await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fb)
    approved_again = await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fb)
    with at(china(2026, 9, 22, 9)):
        paid = await client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb)
        paid_again = await client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb)
        approved_late = await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fb)
    by_preparer = await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fa)
    # then every retry answers the order's final state, and it is paid once
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
    assert (approved_again.status_code, approved_again.json()) == (200, approved.json())
    assert paid.status_code == 200 and paid.json()["state"] == "paid", paid.text
    conforms(OrderRead, paid)
    assert (paid_again.status_code, paid_again.json()) == (200, paid.json())
    assert (approved_late.status_code, approved_late.json()) == (200, paid.json())
    assert by_preparer.status_code == 403 and by_preparer.json()["error"]["code"] == "SAME_ACTOR"
    assert (await _ledger(sessionmaker, own.code))[("disbursement", "bank")] == (1, -78_400)
    async with sessionmaker() as s:
        audited = await s.execute(
            text(
                "SELECT action, count(*) FROM audit_log "
                "WHERE subject_type = 'disbursement_order' AND subject_id = :id GROUP BY 1"
            ),
            {"id": str(oid)},
        )
        assert {a: int(n) for a, n in audited} == {"disbursement.approved": 1, "disbursement.paid": 1}


async def test_a_supplier_payment_is_idempotent_on_its_reference(client, admin_headers, sessionmaker) -> None:
    # given a hospital of this test's own and a 300.00 payment for its procured goods
    fa = await finance(sessionmaker, "fin-a")
    own = await own_institution(client, sessionmaker, admin_headers)
    body = {
        "institution_code": own.code,
        "supplier": "国药控股湖南",
        "amount": "300.00",
        "reference": f"GPO-{own.code}",
    }
    with at(china(2026, 9, 22, 10)):
        first = await client.post("/api/v1/payouts/supplier-payments", json=body, headers=fa)
        # when retried, then sent again under the same reference for another fund or amount
        again = await client.post("/api/v1/payouts/supplier-payments", json=body, headers=fa)
        other_fund = await client.post(
            "/api/v1/payouts/supplier-payments", json={**body, "fund": "critical_illness"}, headers=fa
        )
        other_amount = await client.post(
            "/api/v1/payouts/supplier-payments", json={**body, "amount": "301.00"}, headers=fa
        )
    # then the retry is the first answer, the others conflicts, and the supplier is paid once
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    for r in (other_fund, other_amount):
        assert r.status_code == 409 and r.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT", r.text
    assert await _ledger(sessionmaker, own.code) == {
        ("supplier_payment", "supplier"): (1, 30_000),
        ("supplier_payment", "bank"): (1, -30_000),
    }


async def test_concurrent_retries_request_and_pay_once(client, admin_headers, sessionmaker) -> None:
    # given a hospital of this test's own with a 784.00 stay on Sep 23, settled by finance A
    fa, fb = await finance(sessionmaker, "fin-a"), await finance(sessionmaker, "fin-b")
    own = await own_institution(client, sessionmaker, admin_headers)
    day = date(2026, 9, 23)
    await settle(client, own.headers, inpatient(await make_person(client, admin_headers), day), china(2026, 9, 23, 9))
    oid = (await run_settle(sessionmaker, day, by="fin-a")).order_id
    assert (await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fb)).status_code == 200
    # at most one month of its fund payments: 784.00 / 12 = 65.33
    body = {"institution_code": own.code, "year": 2026, "amount": "65.00"}
    headers = {**fa, "Idempotency-Key": f"twins-{own.code}"}
    # when eight twins of one prepayment request, and six of the order's payment, race
    with at(china(2026, 9, 24, 9)):
        requests = await asyncio.gather(
            *(client.post("/api/v1/payouts/prepayments", json=body, headers=headers) for _ in range(8))
        )
        pays = await asyncio.gather(*(client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb) for _ in range(6)))
    # then every caller gets the one prepayment and the one paid order
    assert [r.status_code for r in requests] == [201] * 8, [r.text for r in requests]
    assert len({r.json()["id"] for r in requests}) == 1
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in requests) == [""] + ["true"] * 7
    assert [r.status_code for r in pays] == [200] * 6, [r.text for r in pays]
    assert all(r.json() == pays[0].json() and r.json()["state"] == "paid" for r in pays)
    assert (await _ledger(sessionmaker, own.code))[("disbursement", "bank")] == (1, -78_400)
    async with sessionmaker() as s:
        assert (
            await s.scalar(text("SELECT count(*) FROM prepayments WHERE institution_code = :c"), {"c": own.code}) == 1
        )
