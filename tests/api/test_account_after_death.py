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


async def _finance(sessionmaker, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import create_staff_token

    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, 'finance', name)}"}


async def test_closing_a_deceased_holders_account_is_maker_checker(client, admin_headers, sessionmaker) -> None:
    # given: a holder with 250.00 in the account, and two finance officers
    holder = await make_person(client, admin_headers, scheme="employee", account="250.00")
    maker, checker = await _finance(sessionmaker, "财务甲"), await _finance(sessionmaker, "财务乙")
    base = f"/api/v1/accounts/{holder}/inheritance"
    # while alive nothing is inheritable: the closing is refused
    alive = await client.post(f"{base}/close", headers=maker)
    assert alive.status_code == 409 and alive.json()["error"]["code"] == "INVALID_STATE", alive.text
    r = await client.patch(f"/api/v1/persons/{holder}", json={"death_date": "2026-06-01"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    # when: the maker asks to close it
    asked = await client.post(f"{base}/close", headers=maker)
    assert asked.status_code == 201, asked.text
    closing = asked.json()
    assert (closing["amount"], closing["status"], closing["made_by"]) == ("250.00", "pending", "财务甲")
    twice = await client.post(f"{base}/close", headers=maker)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "INVALID_STATE", twice.text
    # then: the maker cannot approve it, and nothing moved
    own = await client.post(f"{base}/{closing['closing_id']}/approve", headers=maker)
    assert own.status_code == 403 and own.json()["error"]["code"] == "SAME_ACTOR", own.text
    assert (await client.get(base, headers=maker)).json()["inheritable"] == "250.00"
    # when: another officer approves
    ok = await client.post(f"{base}/{closing['closing_id']}/approve", headers=checker)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["status"], ok.json()["approved_by"]) == ("closed", "财务乙")
    # then: the account is zero, by one movement; a retry changes nothing
    after = (await client.get(base, headers=maker)).json()
    assert (after["balance"], after["inheritable"]) == ("0.00", "0.00")
    again = await client.post(f"{base}/{closing['closing_id']}/approve", headers=checker)
    assert again.status_code == 200 and again.json()["status"] == "closed"
    assert (await client.get(base, headers=maker)).json()["balance"] == "0.00"
    # and: both steps are audited on the person, the closing naming its maker
    h = (await client.get(f"/api/v1/persons/{holder}/history", headers=admin_headers)).json()["entries"]
    steps = [e for e in h if e["action"].startswith("account.inheritance")]
    assert [e["action"] for e in steps] == ["account.inheritance_requested", "account.inheritance_closed"], h
    assert (steps[-1]["detail"]["maker"], steps[-1]["detail"]["amount"]) == ("财务甲", 25000)
    # and: a closed account has nothing left to close
    empty = await client.post(f"{base}/close", headers=maker)
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "INVALID_STATE", empty.text
