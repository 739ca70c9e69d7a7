"""超量开药 (issue #17, DOMAIN §9): an item supplied again while more than 7 days (rule ``oversupply``,
param ``days``) of an earlier supply of it remain warns in settlement; through the public API.

Each test has its own person, so only its own bills are the "earlier supplies" it reads."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.builders import idem, line, make_bill, make_person
from yibao import clock

RULES = "/api/v1/monitoring/rules"
_RUN = secrets.token_hex(3)
_numbers = itertools.count(1)


@pytest_asyncio.fixture(scope="module")
async def inspector(sessionmaker) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import create_staff_token

    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, 'inspector', 'insp-oversupply')}"}


def _rules(body: dict[str, Any]) -> set[str]:
    return {w["rule"] for w in body["warnings"]}


def _metformin(idn: str, day: str, days: int = 30, **extra: Any) -> dict[str, Any]:
    """An outpatient bill of metformin for ``days`` days (the catalogue allows 84: no days_supply warning)."""
    return make_bill(idn, [line("D-METF-500", "2", "8.50", day=day, days_supply=days)], service_date=day, **extra)


async def _settle(client: httpx.AsyncClient, headers: dict[str, str], bill: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/api/v1/settlements", json=bill, headers={**headers, **idem()})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def _preview(client: httpx.AsyncClient, headers: dict[str, str], bill: dict[str, Any]) -> set[str]:
    r = await client.post("/api/v1/settlements/preview", json=bill, headers=headers)
    assert r.status_code == 200, r.text
    return _rules(r.json())


async def test_a_second_supply_with_more_than_7_days_left_warns(
    client, admin_headers, hospital, institution_keys, inspector
) -> None:
    # given 30 days of metformin settled on 05-04 (the supply lasts to 06-02 inclusive: 05-04 + 30 days)
    idn = await make_person(client, admin_headers)
    first = await _settle(client, hospital, _metformin(idn, "2026-05-04"))
    assert "oversupply" not in _rules(first)
    township = {"Authorization": f"Bearer {institution_keys['H430522010']}"}

    # when metformin is supplied again on 05-25 at another hospital (9 days left)
    second = await _settle(client, township, _metformin(idn, "2026-05-25", days=14))
    # then the bill settles with the warning, in its answer and in the stored settlement
    assert "oversupply" in _rules(second)
    message = next(w["message"] for w in second["warnings"] if w["rule"] == "oversupply")
    assert "D-METF-500" in message and "9 days" in message and first["settlement_id"] in message
    stored = await client.get(f"/api/v1/settlements/{second['settlement_id']}", headers=township)
    assert stored.status_code == 200 and "oversupply" in _rules(stored.json())

    # and the check counts the supply that runs longest (the second: 05-25 + 14 days, to 06-07):
    # on 06-01 7 days of it remain, a near miss (the limit is "more than 7")
    assert "oversupply" not in await _preview(client, hospital, _metformin(idn, "2026-06-01"))
    # on 05-31, 8 remain: a warning
    assert "oversupply" in await _preview(client, hospital, _metformin(idn, "2026-05-31"))
    # a different item while metformin lasts: no warning
    atorvastatin = make_bill(
        idn, [line("D-ATOR-20", "1", "5.00", day="2026-05-26", days_supply=28)], service_date="2026-05-26"
    )
    assert "oversupply" not in await _preview(client, hospital, atorvastatin)
    # a line without days of supply (used at the visit, not taken home) is not a supply
    at_visit = make_bill(idn, [line("D-METF-500", "1", "8.50", day="2026-05-26")], service_date="2026-05-26")
    assert "oversupply" not in await _preview(client, hospital, at_visit)

    # when the second bill is cancelled, its supply goes with it: 05-31 is within the first's last 2 days
    r = await client.post(f"/api/v1/settlements/{second['settlement_id']}/cancel", headers=township)
    assert r.status_code == 200, r.text
    assert "oversupply" not in await _preview(client, hospital, _metformin(idn, "2026-05-31"))
    assert "oversupply" in await _preview(client, hospital, _metformin(idn, "2026-05-25"))

    # when the rule is switched off for the region, the same bill settles without it
    r = await client.put(f"{RULES}/oversupply/regions/430522", json={"enabled": False}, headers=inspector)
    assert r.status_code == 200 and r.json()["regions"] == {"430522": False}
    try:
        assert "oversupply" not in await _preview(client, hospital, _metformin(idn, "2026-05-25"))
    finally:
        r = await client.put(f"{RULES}/oversupply/regions/430522", json={"enabled": True}, headers=inspector)
        assert r.status_code == 200
    assert "oversupply" in await _preview(client, hospital, _metformin(idn, "2026-05-25"))


async def test_the_limit_is_the_rules_parameter(client, admin_headers, hospital, inspector) -> None:
    # given 30 days of metformin from 04-01 (to 04-30 inclusive) and the rule at its default of 7 days
    idn = await make_person(client, admin_headers)
    await _settle(client, hospital, _metformin(idn, "2026-04-01"))
    assert "oversupply" in await _preview(client, hospital, _metformin(idn, "2026-04-21"))  # 10 days left
    # when an inspector publishes version n+1 with 10 days, then 10 days left is no longer "more than"
    r = await client.patch(f"{RULES}/oversupply", json={"params": {"days": 10}, "note": "t"}, headers=inspector)
    assert r.status_code == 200 and r.json()["params"] == {"days": 10}
    try:
        assert "oversupply" not in await _preview(client, hospital, _metformin(idn, "2026-04-21"))
        assert "oversupply" in await _preview(client, hospital, _metformin(idn, "2026-04-20"))  # 11 left
    finally:
        r = await client.patch(f"{RULES}/oversupply", json={"params": {"days": 7}}, headers=inspector)
        assert r.status_code == 200


# ---------------------------------------------------------------- e-prescriptions dispensed at a pharmacy


@pytest.fixture
def frozen_day() -> Iterator[None]:
    """10:00 in Beijing on 2026-12-03: prescriptions issued today, pharmacy bills of today."""
    clock.set_clock(lambda: datetime(2026, 12, 3, 2, tzinfo=UTC))
    try:
        yield
    finally:
        clock.set_clock(None)


async def _prescribe(client: httpx.AsyncClient, hospital: dict[str, str], idn: str, item: str, days: int) -> str:
    rx_id = f"RXOS{_RUN}{next(_numbers):04d}"
    body = {
        "rx_id": rx_id,
        "doctor_code": "D001",
        "id_number": idn,
        "diagnoses": ["E11.9"],
        "items": [{"item_code": item, "quantity": "2", "days_supply": days}],
    }
    r = await client.post("/api/v1/prescriptions", json=body, headers=hospital)
    assert r.status_code == 201, r.text
    return rx_id


def _dispense(idn: str, rx_id: str, item: str = "D-METF-500") -> dict[str, Any]:
    """A pharmacy bill on the prescription: its line carries no days (they are the prescription's)."""
    day = "2026-12-03"
    return make_bill(
        idn, [line(item, "2", "8.50", day=day)], visit_type="pharmacy", service_date=day, prescription_id=rx_id
    )


async def test_a_second_prescription_dispensed_while_the_first_lasts_warns(
    client, admin_headers, hospital, institution_keys, frozen_day
) -> None:
    pharmacy = {"Authorization": f"Bearer {institution_keys['P430522500']}"}
    idn = await make_person(client, admin_headers, scheme="employee")
    # given a 30-day prescription of metformin dispensed today
    first = await _settle(client, pharmacy, _dispense(idn, await _prescribe(client, hospital, idn, "D-METF-500", 30)))
    assert "oversupply" not in _rules(first)
    # when a second prescription of it is dispensed the same day (30 days left), then a warning
    second = await _settle(client, pharmacy, _dispense(idn, await _prescribe(client, hospital, idn, "D-METF-500", 30)))
    assert "oversupply" in _rules(second)
    # and a prescription of another item is not
    other = await _prescribe(client, hospital, idn, "D-ATOR-20", 28)
    assert "oversupply" not in await _preview(client, pharmacy, _dispense(idn, other, "D-ATOR-20"))

    # near miss: another person's 7-day prescription, then a second the same day: 7 days left, no warning
    idn7 = await make_person(client, admin_headers, scheme="employee")
    await _settle(client, pharmacy, _dispense(idn7, await _prescribe(client, hospital, idn7, "D-METF-500", 7)))
    again = await _settle(client, pharmacy, _dispense(idn7, await _prescribe(client, hospital, idn7, "D-METF-500", 7)))
    assert "oversupply" not in _rules(again)
