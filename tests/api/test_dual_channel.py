"""两病 drugs and 双通道 (issue #17, DOMAIN §9), through the public API.

* 两病 drugs: for a recognised HTN/DM resident at levels 0–1 the lines of the listed drugs are
  paid at the disease's ``drug_ratio_override`` ratio (0.70) instead of the chronic ratio.
* 双通道: a pharmacy bill on a prescription whose diagnosis is a recognised disease (at the
  designated pharmacy where the disease requires one) is paid under that disease's chronic
  tier, as a chronic bill at level 1, sharing the disease's annual limit with chronic bills.

Recognitions are approved on 2026-03-01 (test_chronic's day; one on 12-02), prescriptions issued and
bills settled on 2026-12-03, the suite's frozen "today": a payable dated on a past business day would
be taken by another test's daily settle (tests/settlement/helpers.py). Every test owns its persons.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
from typing import Any

import httpx
import pytest

from api.schemas.settlements import SettlementRead
from tests.api.test_chronic import chronic_bill, recognise, staff
from tests.api.test_contract import conforms
from tests.builders import idem, line, make_bill, make_person
from tests.settlement.helpers import at, china, own_institution, own_region
from yibao.config import REPO_ROOT

_RUN = secrets.token_hex(3)
_numbers = itertools.count(1)
DAY = "2026-12-03"
OVERRIDE = "chronic_diseases[HTN].drug_ratio_override"


@pytest.fixture
async def team(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A clerk and two reviewers (as in test_chronic)."""
    tag = secrets.token_hex(2)
    return {
        "clerk": await staff(sessionmaker, "clerk", f"dc-clerk-{tag}"),
        "a": await staff(sessionmaker, "first_reviewer", f"dc-rev-a-{tag}"),
        "b": await staff(sessionmaker, "second_reviewer", f"dc-rev-b-{tag}"),
    }


def _policy() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REPO_ROOT / "data" / "reference" / "policy-2026.json").read_text("utf-8"))
    return doc


def _traced(item: str, qty: int, price: str, no: int) -> dict[str, Any]:
    codes = [f"DC{_RUN}{next(_numbers):05d}" for _ in range(qty)]
    return line(item, str(qty), price, no=no, day=DAY, trace_codes=codes)


async def issue(
    client: httpx.AsyncClient, issuer: dict[str, str], idn: str, items: list[tuple[str, int]], diagnosis: str = "I10"
) -> str:
    body = {
        "rx_id": f"RXDC{_RUN}{next(_numbers):05d}",
        "doctor_code": "D001",
        "id_number": idn,
        "diagnoses": [diagnosis],
        "items": [{"item_code": code, "quantity": str(qty), "days_supply": 28} for code, qty in items],
    }
    with at(china(2026, 12, 3, 9)):
        r = await client.post("/api/v1/prescriptions", json=body, headers=issuer)
    assert r.status_code == 201, r.text
    return str(body["rx_id"])


async def settle(client: httpx.AsyncClient, headers: dict[str, str], bill: dict[str, Any]) -> dict[str, Any]:
    with at(china(2026, 12, 3, 11)):
        r = await client.post("/api/v1/settlements", json=bill, headers={**headers, **idem()})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def rx_bill(idn: str, rx_id: str | None, lines: list[dict[str, Any]]) -> dict[str, Any]:
    bill = make_bill(idn, lines, visit_type="pharmacy", service_date=DAY)
    if rx_id is not None:
        bill["prescription_id"] = rx_id
    return bill


def rules(body: dict[str, Any]) -> set[str]:
    return {e["rule"] for e in body["explanation"]}


async def test_two_disease_drugs_at_their_own_ratio_for_residents_at_levels_0_and_1(
    client, admin_headers, sessionmaker, team
) -> None:
    # a region whose resident chronic ratio at level 1 (0.60) differs from the 两病 drug ratio (0.70)
    doc = _policy()
    resident = copy.deepcopy(doc["resident"])
    resident["chronic_outpatient"]["ratio_by_level"]["1"] = "0.60"
    region = await own_region(sessionmaker, 2026, changes={"resident": resident})
    township = await own_institution(client, sessionmaker, admin_headers, level=1, region=region)
    county = await own_institution(client, sessionmaker, admin_headers, level=2, region=region)
    idn = await make_person(client, admin_headers, region=region)
    rec = await recognise(client, team, idn)

    def bill() -> dict[str, Any]:  # the antihypertensive 30.00 (listed) and a blood test 20.00 (not listed)
        lines = [_traced("D-AMLO-5", 2, "15.00", 1), line("S-BLRT", "1", "20.00", no=2, day=DAY)]
        return make_bill(idn, lines, visit_type="chronic_outpatient", service_date=DAY, chronic_disease="HTN")

    paid = await settle(client, township.headers, bill())
    # 20.00 × 0.60 (the chronic ratio of level 1) + 30.00 × 0.70 (the listed drug) = 12.00 + 21.00
    assert paid["totals"]["basic_fund"] == "33.00"
    assert paid["totals"]["policy_range"] == "50.00" and paid["totals"]["personal_part"] == "17.00"
    listed = next(e for e in paid["explanation"] if e["rule"] == OVERRIDE)
    assert "line 1 D-AMLO-5" in listed["detail"] and "0.70 instead of the level 1 ratio 0.60" in listed["detail"]
    assert "S-BLRT" not in listed["detail"]
    assert [ln["reasons"] for ln in paid["lines"]] == [["drug ratio 0.70"], []]
    assert paid["chronic_disease"] == {"code": "HTN", "name": "高血压", "recognition_id": rec["id"]}

    # at level 2 the override does not apply: every line at the chronic ratio 0.65
    county_paid = await settle(client, county.headers, bill())
    assert county_paid["totals"]["basic_fund"] == "32.50" and OVERRIDE not in rules(county_paid)

    # employees: the policy names residents only, so the employee chronic ratio 0.85 throughout
    employee = await make_person(client, admin_headers, region=region, scheme="employee")
    await recognise(client, team, employee)
    emp_bill = bill() | {"id_number": employee}
    emp_bill["lines"][0] = _traced("D-AMLO-5", 2, "15.00", 1)
    emp = await settle(client, township.headers, emp_bill)
    assert emp["totals"]["basic_fund"] == "42.50" and OVERRIDE not in rules(emp)


async def test_dual_channel_pays_the_chronic_tier_for_employees_and_residents(
    client, admin_headers, hospital, institution_keys, team
) -> None:
    pharmacy = {"Authorization": f"Bearer {institution_keys['P430522500']}"}
    employee = await make_person(client, admin_headers, scheme="employee")
    resident = await make_person(client, admin_headers)
    recognitions = {idn: (await recognise(client, team, idn))["id"] for idn in (employee, resident)}

    def lines() -> list[dict[str, Any]]:  # 30.00 of a listed antihypertensive, 10.00 of amoxicillin
        return [_traced("D-AMLO-5", 2, "15.00", 1), _traced("D-AMOX-250", 1, "10.00", 2)]

    for idn, basic in ((employee, "34.00"), (resident, "28.00")):
        rx = await issue(client, hospital, idn, [("D-AMLO-5", 2), ("D-AMOX-250", 1)])
        body = await settle(client, pharmacy, rx_bill(idn, rx, lines()))
        # the chronic tier of HTN as at level 1: employees 40.00 × 0.85; residents 0.70 (the
        # listed drug at the 两病 ratio, the rest at the chronic ratio of level 1)
        assert body["totals"]["basic_fund"] == basic, body
        assert body["visit_type"] == "pharmacy"
        assert body["chronic_disease"] == {"code": "HTN", "name": "高血压", "recognition_id": recognitions[idn]}
        assert any(e["detail"].startswith("双通道") for e in body["explanation"])
        assert (OVERRIDE in rules(body)) == (idn == resident)
        read = await client.get(f"/api/v1/settlements/{body['settlement_id']}", headers=pharmacy)
        assert read.json()["chronic_disease"] == body["chronic_disease"]

    # without a recognition: the employee's prescription reaches outpatient pooling (its deductible
    # first), the resident's stays account and cash; neither names a disease
    for idn, scheme_rule in ((employee, "employee.outpatient_pooling.annual_deductible"), (resident, None)):
        other = await make_person(client, admin_headers, scheme="employee" if idn == employee else "resident")
        rx = await issue(client, hospital, other, [("D-AMLO-5", 2), ("D-AMOX-250", 1)])
        body = await settle(client, pharmacy, rx_bill(other, rx, lines()))
        assert body["totals"]["basic_fund"] == "0.00" and body["chronic_disease"] is None
        assert scheme_rule is None or scheme_rule in rules(body)
    # a prescription of another diagnosis than the recognised disease: no chronic tier either
    rx = await issue(client, hospital, resident, [("D-AMOX-250", 1)], diagnosis="J06.9")
    body = await settle(client, pharmacy, rx_bill(resident, rx, [_traced("D-AMOX-250", 1, "10.00", 1)]))
    assert body["totals"]["fund_total"] == "0.00" and body["chronic_disease"] is None


async def test_dual_channel_needs_the_designated_pharmacy_where_the_disease_requires_one(
    client, admin_headers, sessionmaker, team
) -> None:
    diseases = _policy()["chronic_diseases"]
    next(d for d in diseases if d["code"] == "HTN")["designated_institution_required"] = True
    region = await own_region(sessionmaker, 2026, changes={"chronic_diseases": diseases})
    issuer = await own_institution(client, sessionmaker, admin_headers, level=2, region=region)
    designated = await own_institution(client, sessionmaker, admin_headers, level=0, kind="pharmacy", region=region)
    elsewhere = await own_institution(client, sessionmaker, admin_headers, level=0, kind="pharmacy", region=region)
    idn = await make_person(client, admin_headers, region=region, scheme="employee")
    with at(china(2026, 12, 2)):
        r = await client.post(
            "/api/v1/chronic-recognitions",
            json={
                "id_number": idn,
                "disease": "HTN",
                "diagnosis": "I10",
                "evidence": [{"sha256": "cd" * 32, "name": "病历.pdf", "type": "medical_record"}],
                "designated_institution": designated.code,
            },
            headers=team["clerk"],
        )
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert (await client.post(f"/api/v1/chronic-recognitions/{rid}/approve", headers=team["a"])).status_code == 200
        assert (await client.post(f"/api/v1/chronic-recognitions/{rid}/approve", headers=team["b"])).status_code == 200

    # another pharmacy: the employee's outpatient pooling, not the chronic tier
    rx = await issue(client, issuer.headers, idn, [("D-AMLO-5", 2)])
    other = await settle(client, elsewhere.headers, rx_bill(idn, rx, [_traced("D-AMLO-5", 2, "15.00", 1)]))
    assert other["chronic_disease"] is None and other["totals"]["deductible"] == "30.00"
    assert "employee.outpatient_pooling.annual_deductible" in rules(other)
    # the designated one: HTN's chronic tier (employees 0.85 at level 1)
    rx = await issue(client, issuer.headers, idn, [("D-AMLO-5", 2)])
    there = await settle(client, designated.headers, rx_bill(idn, rx, [_traced("D-AMLO-5", 2, "15.00", 1)]))
    assert there["totals"]["basic_fund"] == "25.50" and there["chronic_disease"]["recognition_id"] == rid


async def test_chronic_and_dual_channel_bills_share_the_disease_limit_and_cancel_restores_it(
    client, admin_headers, hospital, institution_keys, team
) -> None:
    pharmacy = {"Authorization": f"Bearer {institution_keys['P430522500']}"}
    idn = await make_person(client, admin_headers)
    await recognise(client, team, idn)  # HTN, resident: annual limit 1,500.00

    # a chronic bill at the county hospital: 2,000.00 × 0.65 = 1,300.00 of the limit
    chronic = await settle(client, hospital, chronic_bill(idn, qty="100"))
    assert chronic["totals"]["basic_fund"] == "1300.00"

    async def dual() -> dict[str, Any]:  # 300.00 of the listed drug × 0.70 = 210.00 wanted
        rx = await issue(client, hospital, idn, [("D-AMLO-5", 20)])
        return await settle(client, pharmacy, rx_bill(idn, rx, [_traced("D-AMLO-5", 20, "15.00", 1)]))

    first = await dual()
    assert first["totals"]["basic_fund"] == "200.00"  # what the chronic bill left of the limit
    assert any("HTN annual limit 1500.00" in e["detail"] for e in first["explanation"])
    assert (await dual())["totals"]["basic_fund"] == "0.00"

    # cancelling the chronic bill gives its 1,300.00 back to the next 双通道 bill, and the other way round
    with at(china(2026, 12, 3, 12)):
        r = await client.post(f"/api/v1/settlements/{chronic['settlement_id']}/cancel", headers=hospital)
    assert r.status_code == 200 and r.json()["chronic_disease"]["code"] == "HTN", r.text
    assert (await dual())["totals"]["basic_fund"] == "210.00"
    with at(china(2026, 12, 3, 12)):
        r = await client.post(f"/api/v1/settlements/{first['settlement_id']}/cancel", headers=pharmacy)
    assert r.status_code == 200, r.text
    # 1,500.00 − 210.00 left: the chronic bill wanting 1,300.00 is limited to 1,290.00
    assert (await settle(client, hospital, chronic_bill(idn, qty="100")))["totals"]["basic_fund"] == "1290.00"


async def test_the_readme_dual_channel_walkthrough(client, admin_headers, hospital, institution_keys, team) -> None:
    """README "Chronic diseases": recognised for HTN on 2026-12-03, the chronic bill (130.00), then
    a prescription for hypertension dispensed at the pharmacy under HTN's chronic tier (21.00)."""
    pharmacy = {"Authorization": f"Bearer {institution_keys['P430522500']}"}
    idn = await make_person(client, admin_headers)
    rec = await recognise(client, team, idn, on=china(2026, 12, 3))
    day = "2026-12-03"
    with at(china(2026, 12, 3)):
        r = await client.post(
            "/api/v1/settlements", json=chronic_bill(idn, qty="10", day=day), headers=hospital | idem()
        )
        assert r.status_code == 201 and r.json()["totals"]["basic_fund"] == "130.00", r.text
        rx = {
            "rx_id": f"RXDC{_RUN}{next(_numbers):05d}",
            "doctor_code": "D4305220012",
            "id_number": idn,
            "diagnoses": ["I10"],
            "items": [{"item_code": "D-AMLO-5", "quantity": "2", "days_supply": 56}],
        }
        assert (await client.post("/api/v1/prescriptions", json=rx, headers=hospital)).status_code == 201
        bill = make_bill(
            idn,
            [line("D-AMLO-5", "2", "15.00", day=day, trace_codes=[f"RM{_RUN}1", f"RM{_RUN}2"])],
            visit_type="pharmacy",
            service_date=day,
            prescription_id=rx["rx_id"],
        )
        r = await client.post("/api/v1/settlements", json=bill, headers=pharmacy | idem())
    assert r.status_code == 201, r.text
    conforms(SettlementRead, r)  # the disease object is what the schema documents
    body = r.json()
    assert body["totals"]["basic_fund"] == "21.00"
    assert body["chronic_disease"] == {"code": "HTN", "name": "高血压", "recognition_id": rec["id"]}
    assert any(
        e["detail"].startswith("双通道: pharmacy bill on a prescription for recognised HTN 高血压")
        for e in body["explanation"]
    )
    assert OVERRIDE in rules(body)
