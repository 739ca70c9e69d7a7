"""The personal account after its holder's death (issue #16 item 3): it pays no bill with a later
service date — not even a bound relative's under family sharing — and its balance is inheritable
(``GET /api/v1/accounts/{id_number}/inheritance``). Every test owns its people."""

from __future__ import annotations

from tests.builders import idem, line, make_bill, make_person, new_id_number


async def test_a_deceased_holders_account_pays_no_later_bill_and_is_inheritable(
    client, admin_headers, hospital
) -> None:
    # given: an employee with 100.00 in the account, bound to a child for family sharing
    holder = await make_person(client, admin_headers, scheme="employee", account="100.00")
    child = await make_person(client, admin_headers)
    bound = await client.post(
        "/api/v1/family-bindings",
        json={"holder_id_number": holder, "relative_id_number": child, "relation": "child"},
        headers=admin_headers,
    )
    assert bound.status_code == 201, bound.text
    alive = await client.get(f"/api/v1/accounts/{holder}/inheritance", headers=admin_headers)
    assert alive.status_code == 200, alive.text
    assert (alive.json()["balance"], alive.json()["inheritable"], alive.json()["death_date"]) == (
        "100.00",
        "0.00",
        None,
    )
    # when: the holder's death on 2026-03-05 is recorded
    r = await client.patch(
        f"/api/v1/persons/{holder}", json={"death_date": "2026-03-05", "reason": "公安比对"}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    # then: the child's bill of 2026-03-08 may not draw on the account (nothing moves)
    later = make_bill(
        child,
        [line("S-CTHD", "1", "180.00", day="2026-03-08")],
        service_date="2026-03-08",
        use_personal_account=True,
        account_payer_id_number=holder,
    )
    refused = await client.post("/api/v1/settlements", json=later, headers={**hospital, **idem()})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "PERSON_DECEASED", refused.text
    # and: the whole balance is inheritable
    dead = await client.get(f"/api/v1/accounts/{holder}/inheritance", headers=admin_headers)
    assert dead.json() == {
        "id_number": holder,
        "death_date": "2026-03-05",
        "balance": "100.00",
        "inheritable": "100.00",
    }
    # but: a bill dated before the death still may (the account was the holder's then)
    earlier = make_bill(
        child, [line("S-CTHD", "1", "180.00")], use_personal_account=True, account_payer_id_number=holder
    )
    ok = await client.post("/api/v1/settlements", json=earlier, headers={**hospital, **idem()})
    assert ok.status_code == 201 and ok.json()["totals"]["personal_account"] == "100.00", ok.text
    after = await client.get(f"/api/v1/accounts/{holder}/inheritance", headers=admin_headers)
    assert (after.json()["balance"], after.json()["inheritable"]) == ("0.00", "0.00")


async def test_inheritance_of_an_unknown_person_is_404(client, admin_headers) -> None:
    r = await client.get(f"/api/v1/accounts/{new_id_number()}/inheritance", headers=admin_headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "PERSON_NOT_FOUND", r.text
