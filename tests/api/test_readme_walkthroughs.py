"""README "Try one bill" then "Member app", in that order, on the day the README was last run
(2026-12-03): the answers the README shows are the answers the API gives (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.builders import new_id_number
from yibao import clock


@pytest.fixture
def readme_day() -> Iterator[None]:
    """10:00 in Beijing on 2026-12-03."""
    clock.set_clock(lambda: datetime(2026, 12, 3, 2, tzinfo=UTC))
    try:
        yield
    finally:
        clock.set_clock(None)


def line(no: int, item: str, qty: str, price: str, day: str) -> dict[str, Any]:
    return {"line_no": no, "item_code": item, "quantity": qty, "unit_price": price, "service_date": day}


async def test_try_one_bill_then_member_app(client, admin_headers, hospital, readme_day) -> None:
    idn = new_id_number()  # the README's 430522199001011235, fresh for this run
    # Try one bill: register, staff enrol 2026 from Jan 1, one inpatient bill
    r = await client.post(
        "/api/v1/persons", headers=admin_headers, json={"id_number": idn, "name": "张三", "region": "430522"}
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/enrolments",
        headers=admin_headers,
        json={"id_number": idn, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"},
    )
    assert r.status_code == 201, r.text
    bill = {
        "id_number": idn,
        "visit_no": "ZY2026000123",
        "visit_type": "inpatient",
        "admitted_on": "2026-03-01",
        "discharged_on": "2026-03-08",
        "service_date": "2026-03-08",
        "diagnoses": ["K35.8"],
        "lines": [line(1, "S-BED-2", "7", "40.00", "2026-03-02"), line(2, "S-APPX", "1", "1500.00", "2026-03-02")],
    }
    first_bill = await client.post(
        "/api/v1/settlements", headers={**hospital, "Idempotency-Key": "demo-1-" + idn}, json=bill
    )
    assert first_bill.status_code == 201, first_bill.text
    assert first_bill.json()["totals"]["fund_total"] == "896.00"

    # Member app 1–2: an activation code for the same person, exchanged for a token
    r = await client.post(f"/api/v1/persons/{idn}/activation-codes", headers=admin_headers)
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/me/activate", json={"activation_code": r.json()["activation_code"]})
    assert r.status_code == 201, r.text
    me = {"Authorization": f"Bearer {r.json()['token']}"}

    # 3. the quote: 2026 is already covered (staff enrolment), so nothing is payable; paying is refused
    due = await client.get("/api/v1/me/premiums/2026", headers=me)
    assert due.status_code == 200, due.text
    assert (due.json()["due"], due.json()["payable"], [w["code"] for w in due.json()["warnings"]]) == (
        "400.00",
        False,
        ["ALREADY_ENROLLED"],
    )
    paid = await client.post(
        "/api/v1/me/premiums/payments",
        headers={**me, "Idempotency-Key": "pay-1"},
        json={"year": 2026, "amount": "400.00", "source": "app", "payment_reference": "WX-0001-" + idn},
    )
    assert (paid.status_code, paid.json()["error"]["code"]) == (409, "ALREADY_ENROLLED"), paid.text
    assert (await client.get("/api/v1/me/premiums/payments", headers=me)).json() == []

    # 4. the enrolment staff created is untouched
    e = (await client.get("/api/v1/me/enrolments/2026", headers=me)).json()
    assert (e["coverage_start"], e["coverage_reason"], e["waiting_months"]) == ("2026-01-01", "STAFF", 0)

    # 5. a second stay, settled with the member QR code: the fund pays, as for the first bill
    code = (await client.post("/api/v1/me/member-code", headers=me)).json()["member_code"]
    stay = {
        "member_code": code,
        "visit_no": "ZY2026000456",
        "visit_type": "inpatient",
        "admitted_on": "2026-05-10",
        "discharged_on": "2026-05-12",
        "service_date": "2026-05-12",
        "diagnoses": ["J18.9"],
        "lines": [line(1, "S-BED-2", "2", "40.00", "2026-05-10"), line(2, "S-MRI", "1", "600.00", "2026-05-10")],
    }
    second = await client.post(
        "/api/v1/settlements", headers={**hospital, "Idempotency-Key": "demo-qr-1-" + idn}, json=stay
    )
    assert second.status_code == 201, second.text
    t = second.json()["totals"]
    assert (t["total"], t["deductible"], t["fund_total"], t["cash"]) == ("680.00", "250.00", "259.00", "421.00")

    # 6. both bills in the app
    mine = (await client.get("/api/v1/me/settlements", headers=me)).json()["items"]
    assert {s["settlement_id"] for s in mine} == {first_bill.json()["settlement_id"], second.json()["settlement_id"]}

    # the note under the walkthrough: 2026 paid today by someone not enrolled would only be covered
    # from 2027-03-03, so it is refused; 2027 is collected once its policy is loaded
    other = new_id_number()
    r = await client.post(
        "/api/v1/persons", headers=admin_headers, json={"id_number": other, "name": "李四", "region": "430522"}
    )
    assert r.status_code == 201, r.text
    quote = await client.get(f"/api/v1/premiums/due?id_number={other}&year=2026", headers=admin_headers)
    assert (quote.json()["coverage_start"], quote.json()["warnings"][0]["code"]) == (
        "2027-03-03",
        "COVERAGE_CANNOT_START",
    )
    body = {"id_number": other, "year": 2026, "channel": "wechat", "reference": "WX-0002-" + other, "amount": "400.00"}
    late = await client.post("/api/v1/premiums/payments", headers=admin_headers, json=body)
    assert (late.status_code, late.json()["error"]["code"]) == (422, "COVERAGE_CANNOT_START"), late.text
    next_year = await client.get(f"/api/v1/premiums/due?id_number={other}&year=2027", headers=admin_headers)
    assert (next_year.status_code, next_year.json()["error"]["code"]) == (422, "POLICY_NOT_FOUND")
