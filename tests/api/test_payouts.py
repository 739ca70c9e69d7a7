"""Payouts, reconcile, clearing and reports through HTTP."""

from __future__ import annotations

from datetime import date, timedelta

from tests.builders import make_person
from tests.settlement.helpers import at, china, inpatient, key, outpatient, settle
from yibao.auth.tokens import create_staff_token

INST = "H430522101"
#: a hospital no other test bills, so carried balances from other tests cannot net its day away
OWN = "H430522199"


async def own_hospital(client, app, admin_headers) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    async with app.state.runtime.sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO institutions (code, name, type, level, region, agreement, credit_grade, annual_budget, "
                "dip_coefficient) VALUES (:c, '测试专用医院', 'hospital', 2, '430522', 'active', 'A', 1000000000, 1.0) "
                "ON CONFLICT DO NOTHING"
            ),
            {"c": OWN},
        )
    r = await client.post(f"/api/v1/institutions/{OWN}/keys", headers=admin_headers)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


async def finance(app, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with app.state.runtime.sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, 'finance', name)}"}


async def test_reconcile_finds_exactly_the_planted_mismatches(client, admin_headers, institution_keys) -> None:
    # given four bills in June at one institution
    h = key(institution_keys, INST)
    idn = await make_person(client, admin_headers)
    bills = [await settle(client, h, outpatient(idn, date(2026, 6, d)), china(2026, 6, d, 10)) for d in (2, 3, 4, 5)]

    def detail(b):  # type: ignore[no-untyped-def]
        t = b["totals"]
        return {
            "settlement_id": b["settlement_id"],
            "scheme": "resident",
            "total": t["total"],
            "fund_pay": t["fund_total"],
            "account_pay": t["personal_account"],
        }

    details = [detail(b) for b in bills]
    total = sum(int(b["totals"]["total"].replace(".", "")) for b in bills)
    good_totals = [
        {"scheme": "resident", "count": 4, "total": f"{total / 100:.2f}", "fund_pay": "0.00", "account_pay": "0.00"}
    ]
    good_totals[0]["fund_pay"] = f"{sum(int(b['totals']['fund_total'].replace('.', '')) for b in bills) / 100:.2f}"
    ok = await client.post(
        "/api/v1/reconcile/submissions", json={"month": "2026-06", "totals": good_totals, "details": details}, headers=h
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "balanced"
    # when: one bill left out, one unknown id, one amount changed
    planted = [
        details[0],
        details[1],
        {**details[2], "total": "1.00"},
        {**details[3], "settlement_id": "00000000-0000-0000-0000-000000000000"},
    ]
    r = await client.post(
        "/api/v1/reconcile/submissions", json={"month": "2026-06", "totals": good_totals, "details": planted}, headers=h
    )
    body = r.json()
    # then
    assert body["status"] == "unbalanced"
    assert body["missing_at_institution"] == [bills[3]["settlement_id"]]
    assert body["missing_at_fund"] == ["00000000-0000-0000-0000-000000000000"]
    assert [(d["settlement_id"], d["field"]) for d in body["differences"]] == [(bills[2]["settlement_id"], "total")]
    assert body["total_differences"] == []
    again = await client.post(
        "/api/v1/reconcile/submissions", json={"month": "2026-06", "totals": good_totals, "details": planted}, headers=h
    )
    assert again.json()["id"] == body["id"]
    # CSV upload of the good list balances; others cannot read this institution's submission
    csv = "settlement_id,scheme,total,fund_pay,account_pay\n" + "".join(
        f"{d['settlement_id']},{d['scheme']},{d['total']},{d['fund_pay']},{d['account_pay']}\n" for d in details
    )
    import json

    up = await client.post(
        "/api/v1/reconcile/submissions/csv",
        headers=h,
        data={"month": "2026-06", "totals": json.dumps(good_totals)},
        files={"details": ("june.csv", csv.encode(), "text/csv")},
    )
    assert up.status_code == 200 and up.json()["status"] == "balanced", up.text
    other = key(institution_keys, "H430522100")
    assert (await client.get(f"/api/v1/reconcile/submissions/{body['id']}", headers=other)).status_code == 404
    bad = await client.post("/api/v1/reconcile/submissions", json={"month": "2026-13", "totals": []}, headers=h)
    assert bad.status_code == 400


async def test_order_through_api_and_clearing_preview_commit(client, app, admin_headers, institution_keys) -> None:
    # given a July bill and its daily settle run by finance A
    fa, fb = await finance(app, "fin-a"), await finance(app, "fin-b")
    h = await own_hospital(client, app, admin_headers)
    idn = await make_person(client, admin_headers)
    await settle(client, h, inpatient(idn, date(2026, 7, 6), diagnoses=["K35.8"]), china(2026, 7, 6, 10))
    from yibao.payouts.daily_settle import settle_day

    with at(china(2026, 7, 7, 0, 10)):
        async with app.state.runtime.sessionmaker() as s, s.begin():
            result = await settle_day(s, date(2026, 7, 6), "fin-a")
    oid = result.order_id
    # when A tries to approve → 403 SAME_ACTOR; B approves and pays
    r = await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fa)
    assert r.status_code == 403 and r.json()["error"]["code"] == "SAME_ACTOR"
    assert (await client.post(f"/api/v1/payouts/orders/{oid}/approve", headers=fb)).json()["state"] == "approved"
    assert (await client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb)).json()["state"] == "paid"
    again = await client.post(f"/api/v1/payouts/orders/{oid}/pay", headers=fb)
    assert again.status_code == 409
    csv = await client.get(f"/api/v1/payouts/orders/{oid}/bank-file", headers=fb)
    assert csv.text.strip().splitlines()[-1].startswith("TOTAL,")
    mine = await client.get(f"/api/v1/payouts/orders/{oid}", headers=h)
    assert mine.status_code == 200, mine.text
    assert {ln["institution_code"] for ln in mine.json()["lines"]} == {OWN}, mine.text
    other = key(institution_keys, "H430522010")
    assert (await client.get(f"/api/v1/payouts/orders/{oid}", headers=other)).status_code == 404
    # prepayment is maker-checked
    p = await client.post(
        "/api/v1/payouts/prepayments", headers=fa, json={"institution_code": OWN, "year": 2026, "amount": "1000.00"}
    )
    assert p.status_code == 201
    assert (await client.post(f"/api/v1/payouts/prepayments/{p.json()['id']}/approve", headers=fa)).status_code == 403
    assert (await client.post(f"/api/v1/payouts/prepayments/{p.json()['id']}/approve", headers=fb)).status_code == 200
    # and the clearing: preview, commit after the year, commit again changes nothing
    with at(china(2027, 1, 5)):
        prev = await client.get("/api/v1/clearing/2026/preview", headers=fa)
        assert prev.status_code == 200 and prev.json()["committed"] is False
        st = {s["institution_code"]: s for s in prev.json()["statements"]}
        assert st[OWN]["prepaid"] == "1000.00"
        first = await client.post("/api/v1/clearing/2026/commit", headers=fb)
        second = await client.post("/api/v1/clearing/2026/commit", headers=fa)
    assert first.status_code == 200 and second.json() == first.json()
    mine = await client.get("/api/v1/clearing/2026/statements", headers=h)
    assert [s["institution_code"] for s in mine.json()["statements"]] == [OWN]
    rep = await client.get(f"/api/v1/reports/funds?from=2026-07-01&to={date(2027, 1, 31)}&period=month", headers=fa)
    assert rep.status_code == 200 and any(i["fund"] == "basic" for i in rep.json()["items"])
    assert date(2026, 7, 6) + timedelta(days=1) == date(2026, 7, 7)
