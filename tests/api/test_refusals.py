"""Rules that cut across one resource's tests: care outside the home region (what the funds pay
with and without a cross-region filing) and what a death date refuses, through HTTP.

Every test uses its own people (builders: IDs from a per-run counter), so it passes alone and
in any order against the run's shared database.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.builders import idem, line, make_bill, make_person, register_person

#: 长沙市第一中心医院: level 3, region 430100, outside the home region 430522 of the test people
OUT_OF_REGION = "H430100300"


def appendectomy(idn: str) -> dict[str, Any]:
    """A first inpatient stay: appendectomy 1,500.00 + head CT 180.00, both class A, at their price caps."""
    return make_bill(
        idn,
        [line("S-APPX", "1", "1500.00", no=1, day="2026-03-03"), line("S-CTHD", "1", "180.00", no=2, day="2026-03-02")],
        visit_type="inpatient",
        admitted_on="2026-03-02",
        service_date="2026-03-06",
        diagnoses=["K35.8"],
    )


async def file_to(client: httpx.AsyncClient, admin: dict[str, str], idn: str, region: str, **dates: str) -> None:
    r = await client.post("/api/v1/filings", json={"id_number": idn, "to_region": region, **dates}, headers=admin)
    assert r.status_code == 201 and r.json()["status"] == "approved", r.text


def rules(body: dict[str, Any]) -> list[str]:
    return [w["rule"] for w in body["warnings"]]


# ---------------------------------------------------------------- care outside the home region


async def test_out_of_region_bill_with_a_filing_pays_home_ratios(client, admin_headers, institution_keys) -> None:
    # given: a 430522 resident with an approved filing to 430100 covering March
    idn = await make_person(client, admin_headers)
    await file_to(client, admin_headers, idn, "430100", valid_from="2026-03-01", valid_to="2026-03-31")
    inst = {"Authorization": f"Bearer {institution_keys[OUT_OF_REGION]}"}
    # when: a first admission at the level-3 hospital in 430100
    r = await client.post("/api/v1/settlements", json=appendectomy(idn), headers={**inst, **idem()})
    # then: the home policy's level-3 figures, nothing taken off:
    #   total = policy range = 1,500.00 + 180.00 = 1,680.00; deductible (level 3) 1,000.00
    #   basic = (1,680.00 − 1,000.00) × 0.60 = 408.00; self-pay 1,272.00 is below the 10,000.00
    #   critical-illness threshold and the person holds no group: critical 0, assistance 0
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["policy_version"] == "430522-2026-v3"
    t = body["totals"]
    assert (t["total"], t["policy_range"], t["deductible"]) == ("1680.00", "1680.00", "1000.00")
    assert (t["basic_fund"], t["critical_illness"], t["medical_assistance"]) == ("408.00", "0.00", "0.00")
    assert (t["fund_total"], t["personal_part"], t["cash"]) == ("408.00", "1272.00", "1272.00")
    assert "cross_region_unfiled" not in rules(body)


async def test_out_of_region_bill_without_a_filing_loses_ten_points(client, admin_headers, institution_keys) -> None:
    # given: a 430522 resident with no filing to 430100 (one to another region does not count)
    idn = await make_person(client, admin_headers)
    await file_to(client, admin_headers, idn, "440300", valid_from="2026-03-01", valid_to="2026-03-31")
    inst = {"Authorization": f"Bearer {institution_keys[OUT_OF_REGION]}"}
    # when: the same first admission at the level-3 hospital in 430100
    r = await client.post("/api/v1/settlements", json=appendectomy(idn), headers={**inst, **idem()})
    # then: the ratio drops by 10 points: 0.60 − 0.10 = 0.50
    #   basic = (1,680.00 − 1,000.00) × 0.50 = 340.00; the person pays 1,680.00 − 340.00 = 1,340.00
    assert r.status_code == 201, r.text
    body = r.json()
    t = body["totals"]
    assert (t["total"], t["policy_range"], t["deductible"]) == ("1680.00", "1680.00", "1000.00")
    assert (t["basic_fund"], t["critical_illness"], t["medical_assistance"]) == ("340.00", "0.00", "0.00")
    assert (t["fund_total"], t["personal_part"], t["cash"]) == ("340.00", "1340.00", "1340.00")
    assert rules(body).count("cross_region_unfiled") == 1


async def test_a_filing_that_ended_before_the_bill_does_not_count(client, admin_headers, institution_keys) -> None:
    # given: a filing to 430100 for February only
    idn = await make_person(client, admin_headers)
    await file_to(client, admin_headers, idn, "430100", valid_from="2026-02-01", valid_to="2026-02-28")
    inst = {"Authorization": f"Bearer {institution_keys[OUT_OF_REGION]}"}
    # when: admitted in March
    r = await client.post("/api/v1/settlements", json=appendectomy(idn), headers={**inst, **idem()})
    # then: unfiled, as above: (1,680.00 − 1,000.00) × 0.50 = 340.00
    assert r.status_code == 201, r.text
    assert (r.json()["totals"]["basic_fund"], r.json()["totals"]["cash"]) == ("340.00", "1340.00")
    assert "cross_region_unfiled" in rules(r.json())


# ---------------------------------------------------------------- a death date


async def test_premium_for_a_year_after_death_is_refused(client, admin_headers) -> None:
    # given: a person who died in June 2025
    idn = await register_person(client, admin_headers, death_date="2025-06-01")
    # when: someone pays the 2026 premium in the window
    body = {
        "id_number": idn,
        "year": 2026,
        "channel": "bank",
        "reference": secrets.token_hex(8),
        "amount": "400.00",
        "paid_on": "2025-10-15",
    }
    r = await client.post("/api/v1/premiums/payments", json=body, headers=admin_headers)
    # then
    assert r.status_code == 422 and r.json()["error"]["code"] == "PERSON_DECEASED", r.text


async def test_a_deceased_person_gets_no_member_app_access(client, admin_headers) -> None:
    # given: a person registered with a death date
    idn = await register_person(client, admin_headers, death_date="2025-06-01")
    # when: a clerk issues a member-app activation code
    r = await client.post(f"/api/v1/persons/{idn}/activation-codes", headers=admin_headers)
    # then
    assert r.status_code == 422 and r.json()["error"]["code"] == "PERSON_DECEASED", r.text
