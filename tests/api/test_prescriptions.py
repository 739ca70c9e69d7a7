"""E-prescriptions (issue #17, DOMAIN §9): issued at a hospital, dispensed once at a pharmacy,
and the pharmacy bill then pooled for employees; through the public API."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.builders import idem, line, make_bill, make_person
from yibao import clock

_RUN = secrets.token_hex(3)
_numbers = itertools.count(1)
BASE = "/api/v1/prescriptions"
DAY = "2026-12-03"


@pytest.fixture
def freeze_readme_day() -> Iterator[None]:
    """10:00 in Beijing on 2026-12-03: prescriptions issued today, bills of today."""
    clock.set_clock(lambda: datetime(2026, 12, 3, 2, tzinfo=UTC))
    try:
        yield
    finally:
        clock.set_clock(None)


def pharmacy_key(institution_keys: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {institution_keys['P430522500']}"}


async def issue(
    client: httpx.AsyncClient, hospital: dict[str, str], idn: str, items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body = {
        "rx_id": f"RX{_RUN}{next(_numbers):04d}",
        "doctor_code": "D001",
        "id_number": idn,
        "diagnoses": ["E11.9"],
        "items": items or [{"item_code": "S-BLRT", "quantity": "5", "days_supply": 30}],
    }
    r = await client.post(BASE, json=body, headers=hospital)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def rx_bill(idn: str, rx_id: str | None, qty: str = "5", **extra: Any) -> dict[str, Any]:
    bill = make_bill(idn, [line("S-BLRT", qty, "20.00", day=DAY)], visit_type="pharmacy", service_date=DAY, **extra)
    if rx_id is not None:
        bill["prescription_id"] = rx_id
    return bill


async def test_issue_read_with_the_pickup_code_and_dispense_once(
    client, admin_headers, hospital, institution_keys, freeze_readme_day
) -> None:
    pharmacy = pharmacy_key(institution_keys)
    idn = await make_person(client, admin_headers, scheme="employee")
    rx = await issue(client, hospital, idn)
    assert rx["status"] == "issued" and rx["valid_until"] == "2026-12-05" and len(rx["pickup_code"]) == 8
    # the pharmacy sees it only with the patient's pickup code; the hospital without
    assert (await client.get(f"{BASE}/{rx['rx_id']}", headers=pharmacy)).status_code == 404
    wrong = await client.get(f"{BASE}/{rx['rx_id']}", params={"pickup_code": "00000000"}, headers=pharmacy)
    assert wrong.status_code == 404
    seen = await client.get(f"{BASE}/{rx['rx_id']}", params={"pickup_code": rx["pickup_code"]}, headers=pharmacy)
    assert seen.status_code == 200 and seen.json()["items"][0]["item_code"] == "S-BLRT"
    assert "pickup_code" not in seen.json() or seen.json()["pickup_code"] is None

    # more than prescribed, or an item not on it: refused, nothing dispensed
    for bad in (rx_bill(idn, rx["rx_id"], qty="6"),):
        r = await client.post("/api/v1/settlements", json=bad, headers={**pharmacy, **idem()})
        assert r.status_code == 422 and r.json()["error"]["code"] == "PRESCRIPTION_INVALID", r.text
    other = make_bill(
        idn,
        [line("S-ACUP", "1", "20.00", day=DAY)],
        visit_type="pharmacy",
        service_date=DAY,
        prescription_id=rx["rx_id"],
    )
    r = await client.post("/api/v1/settlements", json=other, headers={**pharmacy, **idem()})
    assert r.json()["error"]["code"] == "PRESCRIPTION_INVALID"

    # dispensed: the employee's bill reaches outpatient pooling (level 1: deductible 200.00 first)
    r = await client.post("/api/v1/settlements", json=rx_bill(idn, rx["rx_id"]), headers={**pharmacy, **idem()})
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["totals"]["deductible"] == "100.00" and first["totals"]["basic_fund"] == "0.00"
    assert any(e["rule"] == "employee.outpatient_pooling.annual_deductible" for e in first["explanation"])
    status = await client.get(f"{BASE}/{rx['rx_id']}", headers=hospital)
    assert status.json()["status"] == "dispensed"
    assert status.json()["dispensed_by_settlement"] == first["settlement_id"]

    # a second pharmacy bill on it is refused; cancelling the first gives it back
    again = await client.post("/api/v1/settlements", json=rx_bill(idn, rx["rx_id"]), headers={**pharmacy, **idem()})
    assert again.status_code == 409 and again.json()["error"]["code"] == "PRESCRIPTION_ALREADY_DISPENSED"
    r = await client.post(f"/api/v1/settlements/{first['settlement_id']}/cancel", headers=pharmacy)
    assert r.status_code == 200, r.text
    assert (await client.get(f"{BASE}/{rx['rx_id']}", headers=hospital)).json()["status"] == "issued"
    r = await client.post("/api/v1/settlements", json=rx_bill(idn, rx["rx_id"]), headers={**pharmacy, **idem()})
    assert r.status_code == 201 and r.json()["totals"]["deductible"] == "100.00", r.text  # the cancel gave it back


async def test_concurrent_bills_on_one_prescription_dispense_it_once(
    client, admin_headers, hospital, institution_keys, freeze_readme_day
) -> None:
    pharmacy = pharmacy_key(institution_keys)
    idn = await make_person(client, admin_headers, scheme="employee")
    rx = await issue(client, hospital, idn)
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/settlements", json=rx_bill(idn, rx["rx_id"]), headers={**pharmacy, **idem()})
            for _ in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9


async def test_pooling_for_employees_only_and_never_without_a_prescription(
    client, admin_headers, hospital, institution_keys, freeze_readme_day
) -> None:
    pharmacy = pharmacy_key(institution_keys)
    employee = await make_person(client, admin_headers, scheme="employee")
    resident = await make_person(client, admin_headers)
    # without a prescription: no pooled fund, as before
    r = await client.post("/api/v1/settlements", json=rx_bill(employee, None), headers={**pharmacy, **idem()})
    assert r.status_code == 201 and r.json()["totals"]["fund_total"] == "0.00"
    # a resident's prescription-backed bill: still account and cash only
    rx = await issue(client, hospital, resident)
    r = await client.post("/api/v1/settlements", json=rx_bill(resident, rx["rx_id"]), headers={**pharmacy, **idem()})
    assert r.status_code == 201 and r.json()["totals"]["fund_total"] == "0.00", r.text
    # an employee past the 200.00 deductible: 50% of the next 100.00
    for _ in range(3):
        rx = await issue(client, hospital, employee)
        r = await client.post(
            "/api/v1/settlements", json=rx_bill(employee, rx["rx_id"]), headers={**pharmacy, **idem()}
        )
        assert r.status_code == 201, r.text
    assert r.json()["totals"]["basic_fund"] == "50.00"
    # someone else's prescription, a cancelled one, an expired one: refused
    other = await issue(client, hospital, resident)
    r = await client.post("/api/v1/settlements", json=rx_bill(employee, other["rx_id"]), headers={**pharmacy, **idem()})
    assert r.json()["error"]["code"] == "PRESCRIPTION_INVALID"
    cancelled = await issue(client, hospital, employee)
    assert (await client.post(f"{BASE}/{cancelled['rx_id']}/cancel", headers=hospital)).json()["status"] == "cancelled"
    r = await client.post(
        "/api/v1/settlements", json=rx_bill(employee, cancelled["rx_id"]), headers={**pharmacy, **idem()}
    )
    assert r.json()["error"]["code"] == "PRESCRIPTION_INVALID"
    # a prescription_id on another visit type is a malformed request
    bad = make_bill(employee, visit_type="outpatient", prescription_id="RX1")
    assert (await client.post("/api/v1/settlements", json=bad, headers={**hospital, **idem()})).status_code == 400


async def test_a_pharmacy_reads_a_prescription_with_the_patients_member_code_which_the_bill_then_redeems(
    client, admin_headers, hospital, institution_keys, freeze_readme_day
) -> None:
    from tests.api.test_members import login

    # given: an employee's prescription, the employee's member QR code and another person's
    pharmacy = pharmacy_key(institution_keys)
    idn, other = await make_person(client, admin_headers, scheme="employee"), await make_person(client, admin_headers)
    rx = await issue(client, hospital, idn)
    mine = (await client.post("/api/v1/me/member-code", headers=await login(client, admin_headers, idn))).json()
    theirs = (await client.post("/api/v1/me/member-code", headers=await login(client, admin_headers, other))).json()
    url = f"{BASE}/{rx['rx_id']}"
    # when: the pharmacy reads it with each code, and with a forged one
    seen = await client.get(url, headers={**pharmacy, "X-Member-Code": mine["member_code"]})
    not_theirs = await client.get(url, headers={**pharmacy, "X-Member-Code": theirs["member_code"]})
    forged = await client.get(url, headers={**pharmacy, "X-Member-Code": mine["member_code"] + "x"})
    # then: the patient's own code shows it; another person's code is no consent (404, as if absent);
    # a forged one is refused by name
    assert seen.status_code == 200 and seen.json()["rx_id"] == rx["rx_id"], seen.text
    assert not_theirs.status_code == 404, not_theirs.text
    assert forged.status_code in (400, 401, 422) and forged.json()["error"]["code"].startswith("MEMBER_CODE"), (
        forged.text
    )
    # and: reading did not consume the code: the bill that dispenses the prescription redeems it,
    # after which the same code no longer opens the prescription
    bill = rx_bill(idn, rx["rx_id"])
    del bill["id_number"]
    r = await client.post(
        "/api/v1/settlements", json={**bill, "member_code": mine["member_code"]}, headers={**pharmacy, **idem()}
    )
    assert r.status_code == 201, r.text
    used = await client.get(url, headers={**pharmacy, "X-Member-Code": mine["member_code"]})
    assert used.status_code == 409 and used.json()["error"]["code"] == "MEMBER_CODE_USED", used.text
