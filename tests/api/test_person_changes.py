"""One person, one file (issue #16): a clerk changes a person's name, region or death date
through ``PATCH /api/v1/persons/{id_number}``; a death recorded after registration stops
everything the locked ``deceased`` refusal covers, at once.

Every test uses its own people (builders: IDs from a per-run counter); bills go to the county
hospital on March days of 2026 and assert no money, so the tests pass alone and in any order.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.api.test_members import login
from tests.builders import idem, make_bill, make_person, new_id_number, register_person
from tests.settlement.helpers import own_region


def refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text


async def patch(client: httpx.AsyncClient, admin: dict[str, str], idn: str, **body: Any) -> httpx.Response:
    return await client.patch(f"/api/v1/persons/{idn}", json=body, headers=admin)


async def settle(client: httpx.AsyncClient, hospital: dict[str, str], idn: str, day: str) -> httpx.Response:
    return await client.post(
        "/api/v1/settlements", json=make_bill(idn, service_date=day), headers={**hospital, **idem()}
    )


# ---------------------------------------------------------------- a death reported after registration


async def test_a_death_recorded_later_refuses_later_bills_and_raises_settled_ones(
    client, admin_headers, hospital
) -> None:
    # given: an enrolled resident with bills settled on 2026-03-02 and 2026-03-10
    idn = await make_person(client, admin_headers)
    before = await settle(client, hospital, idn, "2026-03-02")
    after = await settle(client, hospital, idn, "2026-03-10")
    assert before.status_code == 201 and after.status_code == 201, (before.text, after.text)
    after_id = after.json()["settlement_id"]
    # when: the public-security registry reports a death on 2026-03-05
    r = await patch(client, admin_headers, idn, death_date="2026-03-05", reason="公安死亡信息比对")
    # then: the change is answered, the bill dated after the death is listed and raised at once
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person"]["death_date"] == "2026-03-05"
    assert body["changes"] == {"death_date": {"before": None, "after": "2026-03-05"}}
    assert [b["settlement_id"] for b in body["settled_after_death"]] == [after_id]
    assert body["suspects_raised"] == 1
    page = await client.get(
        "/api/v1/monitoring/suspects", params={"rule_id": "claims_after_death"}, headers=admin_headers
    )
    assert page.status_code == 200, page.text
    keys = {s["evidence_key"] for s in page.json()["items"]}
    assert str(after_id) in keys and str(before.json()["settlement_id"]) not in keys
    # and: a new bill dated after the death is refused, one dated before it still settles
    refused(await settle(client, hospital, idn, "2026-03-12"), 422, "PERSON_DECEASED")
    assert (await settle(client, hospital, idn, "2026-03-04")).status_code == 201
    # and: the same death sent again raises nothing twice
    again = await patch(client, admin_headers, idn, death_date="2026-03-05")
    assert again.status_code == 200 and again.json()["changes"] == {} and again.json()["suspects_raised"] == 0


async def test_a_death_recorded_later_ends_member_app_access(client, admin_headers) -> None:
    # given: a member signed in to the app
    idn = await register_person(client, admin_headers)
    me = await login(client, admin_headers, idn)
    assert (await client.get("/api/v1/me", headers=me)).status_code == 200
    # when: a clerk records the death
    r = await patch(client, admin_headers, idn, death_date="2026-11-01")
    assert r.status_code == 200, r.text
    # then: the token stops at once, no code is issued
    refused(await client.get("/api/v1/me", headers=me), 401, "UNAUTHENTICATED")
    refused(await client.post(f"/api/v1/persons/{idn}/activation-codes", headers=admin_headers), 422, "PERSON_DECEASED")


async def test_a_death_recorded_later_refuses_premiums_for_later_years(client, admin_headers) -> None:
    # given: a resident registered alive
    idn = await register_person(client, admin_headers)
    # when: a death in June 2025 is recorded, then someone pays the 2026 premium in the window
    assert (await patch(client, admin_headers, idn, death_date="2025-06-01")).status_code == 200
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
    refused(r, 422, "PERSON_DECEASED")


# ---------------------------------------------------------------- changes, audited


async def test_name_and_region_change_and_the_history_shows_before_and_after(
    client, admin_headers, sessionmaker
) -> None:
    # given: a person of 430522, and another pooling region
    idn = await register_person(client, admin_headers, name="李四")
    region = await own_region(sessionmaker, 2026)
    # when
    r = await patch(client, admin_headers, idn, name="李思", region=region)
    # then
    assert r.status_code == 200, r.text
    assert (r.json()["person"]["name"], r.json()["person"]["region"]) == ("李思", region)
    assert r.json()["changes"] == {
        "name": {"before": "李四", "after": "李思"},
        "region": {"before": "430522", "after": region},
    }
    got = await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)
    assert (got.json()["name"], got.json()["region"]) == ("李思", region)
    h = await client.get(f"/api/v1/persons/{idn}/history", headers=admin_headers)
    assert h.status_code == 200, h.text
    actions = [e["action"] for e in h.json()["entries"]]
    assert actions == ["person.registered", "person.changed"]
    changed = h.json()["entries"][1]["detail"]
    assert changed["before"] == {"name": "李四", "region": "430522"}
    assert changed["after"] == {"name": "李思", "region": region}


async def test_a_recorded_death_is_corrected_or_cleared_only_with_a_reason(client, admin_headers) -> None:
    # given: a death recorded in error
    idn = await register_person(client, admin_headers)
    assert (await patch(client, admin_headers, idn, death_date="2026-06-01")).status_code == 200
    # when / then: clearing or moving it without a reason is refused, nothing changes
    refused(await patch(client, admin_headers, idn, death_date=None), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, idn, death_date="2026-05-01"), 400, "INVALID_REQUEST")
    assert (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).json()["death_date"] == "2026-06-01"
    # when: cleared with a reason
    r = await patch(client, admin_headers, idn, death_date=None, reason="误报死亡，本人到柜台核实")
    # then
    assert r.status_code == 200, r.text
    assert r.json()["person"]["death_date"] is None
    h = (await client.get(f"/api/v1/persons/{idn}/history", headers=admin_headers)).json()["entries"]
    assert h[-1]["detail"] == {
        "before": {"death_date": "2026-06-01"},
        "after": {"death_date": None},
        "reason": "误报死亡，本人到柜台核实",
    }


async def test_bad_changes_are_refused_with_nothing_written(client, admin_headers) -> None:
    # given: a person born 1980-05-17 (the builders' default)
    idn = await register_person(client, admin_headers)
    # then
    refused(await patch(client, admin_headers, idn, death_date="2099-01-01"), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, idn, death_date="1970-01-01"), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, idn, region="999999"), 422, "UNKNOWN_REGION")
    refused(await patch(client, admin_headers, idn, region="43"), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, idn, name=None), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, idn, name=""), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, idn), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, idn, nickname="x"), 400, "INVALID_REQUEST")
    refused(await patch(client, admin_headers, "430522198005170000", name="x"), 400, "INVALID_ID_NUMBER")
    got = (await client.get(f"/api/v1/persons/{idn}", headers=admin_headers)).json()
    assert (got["region"], got["death_date"]) == ("430522", None)
    h = (await client.get(f"/api/v1/persons/{idn}/history", headers=admin_headers)).json()["entries"]
    assert [e["action"] for e in h] == ["person.registered"]


async def test_an_unknown_person_is_404(client, admin_headers) -> None:
    refused(await patch(client, admin_headers, new_id_number(), name="王五"), 404, "PERSON_NOT_FOUND")
    refused(
        await client.get(f"/api/v1/persons/{new_id_number()}/history", headers=admin_headers), 404, "PERSON_NOT_FOUND"
    )
