"""The settlement contract through HTTP: worked example, retries, cancel, listing."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import select, text

from tests.builders import idem, line, make_bill, make_person
from yibao.accounts.orm import AccountMovementRow, PersonalAccountRow
from yibao.bill_settlement.orm import PersonYearRow
from yibao.people.orm import PersonRow

#: every table a settlement writes, counted to prove that a preview writes none of them
SETTLE_TABLES = ("settlements", "settlement_lines", "trace_codes", "idempotency_keys", "outbox", "account_movements")


async def person_state(sessionmaker, idn: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every accumulator of the person's 2026 row, the account balance and its movements."""
    async with sessionmaker() as s:
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == idn))
        year = await s.get(PersonYearRow, (pid, 2026))
        balance = await s.scalar(select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == pid))
        movements = (
            await s.execute(
                select(AccountMovementRow.kind, AccountMovementRow.amount)
                .where(AccountMovementRow.person_id == pid)
                .order_by(AccountMovementRow.id)
            )
        ).all()
    accumulators = {c.key: getattr(year, c.key) for c in PersonYearRow.__table__.columns} if year else {}
    accumulators.pop("updated_at", None)
    return {"accumulators": accumulators, "balance": balance, "movements": [tuple(m) for m in movements]}


async def row_counts(sessionmaker) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return {t: int(await s.scalar(text(f"SELECT count(*) FROM {t}"))) for t in SETTLE_TABLES}


def inpatient_lines(trace: list[str]) -> list[dict[str, object]]:
    return [
        line("S-BED-2", "7", "40.00", no=1),
        line("S-APPX", "1", "1500.00", no=2),
        line("D-CEFT-1G", "10", "16.00", no=3, trace_codes=trace),
        line("S-VIPW", "7", "100.00", no=4),
    ]


def inpatient_bill(idn: str) -> dict[str, object]:
    trace = [f"T{secrets.token_hex(8)}" for _ in range(10)]
    return make_bill(
        idn,
        inpatient_lines(trace),
        visit_type="inpatient",
        admitted_on="2026-03-01",
        service_date="2026-03-08",
        diagnoses=["K35.8"],
    )


async def test_inpatient_worked_example(client: httpx.AsyncClient, admin_headers, hospital) -> None:
    # given a resident with no special group, first admission at a level-2 hospital
    idn = await make_person(client, admin_headers)
    # when
    r = await client.post("/api/v1/settlements", json=inpatient_bill(idn), headers={**hospital, **idem()})
    # then: 2640 total; C 700; over-cap 10; B 15; P 1915; (1915−500)×0.70 = 990.50
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "settled"
    assert body["policy_version"] == "430522-2026-v3"
    assert body["id_number"] == idn[:10] + "******" + idn[16:]
    assert body["admission_order"] == 1
    assert body["totals"] == {
        "total": "2640.00",
        "full_self_pay": "700.00",
        "over_cap_self_pay": "10.00",
        "pre_self_pay": "15.00",
        "policy_range": "1915.00",
        "deductible": "500.00",
        "basic_fund": "990.50",
        "critical_illness": "0.00",
        "medical_assistance": "0.00",
        "fund_total": "990.50",
        "personal_part": "1649.50",
        "personal_account": "0.00",
        "cash": "1649.50",
        "maternity_fund": "0.00",
    }
    lines = {ln["line_no"]: ln for ln in body["lines"]}
    assert lines[3]["over_cap_self_pay"] == "10.00" and lines[3]["pre_self_pay"] == "15.00"
    assert lines[4]["full_self_pay"] == "700.00"
    parts = {e["part"] for e in body["explanation"]}
    assert {"deductible", "basic_fund"} <= parts
    # and GET returns the same settlement
    got = await client.get(f"/api/v1/settlements/{body['settlement_id']}", headers=hospital)
    assert got.status_code == 200 and got.json()["totals"] == body["totals"]


async def test_second_admission_pays_half_the_deductible(client, admin_headers, hospital) -> None:
    idn = await make_person(client, admin_headers)
    first = await client.post("/api/v1/settlements", json=inpatient_bill(idn), headers={**hospital, **idem()})
    assert first.status_code == 201
    second = await client.post("/api/v1/settlements", json=inpatient_bill(idn), headers={**hospital, **idem()})
    assert second.status_code == 201, second.text
    t = second.json()["totals"]
    assert second.json()["admission_order"] == 2
    assert t["deductible"] == "250.00"
    assert t["basic_fund"] == "1165.50"  # (1915 − 250) × 0.70


async def test_retry_returns_identical_body_and_one_settlement(client, admin_headers, hospital) -> None:
    idn = await make_person(client, admin_headers, scheme="employee", account="300.00")
    bill = make_bill(idn, [line("S-CTHD", "1", "180.00")], use_personal_account=True)
    headers = {**hospital, **idem()}
    first = await client.post("/api/v1/settlements", json=bill, headers=headers)
    again = await client.post("/api/v1/settlements", json=bill, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    # the account was charged once: 180 − 0 fund (employee deductible 200 not reached) = 180
    assert first.json()["totals"]["personal_account"] == "180.00"
    other = await client.post(
        "/api/v1/settlements",
        json=make_bill(idn, [line("S-CTHD", "1", "180.00")], use_personal_account=True),
        headers=hospital | {"Idempotency-Key": "other-key-" + secrets.token_hex(4)},
    )
    assert other.status_code == 201
    # 20 of the 200 deductible left, then 50%: fund 80, personal 100 from the 120 left
    assert other.json()["totals"]["basic_fund"] == "80.00"
    assert other.json()["totals"]["personal_account"] == "100.00"


async def test_same_key_different_body_is_a_conflict(client, admin_headers, hospital) -> None:
    idn = await make_person(client, admin_headers)
    headers = {**hospital, **idem()}
    r1 = await client.post("/api/v1/settlements", json=make_bill(idn), headers=headers)
    r2 = await client.post("/api/v1/settlements", json=make_bill(idn, [line("S-BLRT", "2", "20.00")]), headers=headers)
    assert r1.status_code == 201
    assert r2.status_code == 409 and r2.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"


async def test_cancel_restores_every_accumulator(client, admin_headers, hospital, sessionmaker) -> None:
    # given an employee with 5000.00 in the account and one bill already this year (non-zero accumulators)
    idn = await make_person(client, admin_headers, scheme="employee", account="5000.00")
    earlier = await client.post(
        "/api/v1/settlements", json=inpatient_bill(idn) | {"use_personal_account": True}, headers={**hospital, **idem()}
    )
    assert earlier.status_code == 201, earlier.text
    before = await person_state(sessionmaker, idn)
    assert before["accumulators"]["inpatient_admissions"] == 1 and before["accumulators"]["fund_paid"] > 0
    # when a second bill settles (moving the accumulators and the account) and is cancelled
    bill = inpatient_bill(idn) | {"use_personal_account": True, "admitted_on": "2026-03-10"}
    bill |= {"service_date": "2026-03-12", "discharged_on": "2026-03-12"}
    first = (await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})).json()
    assert first["admission_order"] == 2
    moved = await person_state(sessionmaker, idn)
    assert moved["accumulators"]["inpatient_admissions"] == 2
    assert moved["accumulators"]["fund_paid"] == before["accumulators"]["fund_paid"] + fen(
        first["totals"]["fund_total"]
    )
    assert moved["balance"] == before["balance"] - fen(first["totals"]["personal_account"]) < before["balance"]
    cancelled = await client.post(f"/api/v1/settlements/{first['settlement_id']}/cancel", headers=hospital)
    # then every accumulator and the balance are back where they were, and the account shows both movements
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    after = await person_state(sessionmaker, idn)
    assert after["accumulators"] == before["accumulators"]
    assert after["balance"] == before["balance"]
    paid = fen(first["totals"]["personal_account"])
    assert after["movements"][len(before["movements"]) :] == [("settlement", -paid), ("cancel", paid)]
    again = await client.post(f"/api/v1/settlements/{first['settlement_id']}/cancel", headers=hospital)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_CANCELLED"
    assert await person_state(sessionmaker, idn) == after
    # and the same bill (same trace codes, same visit) settles again exactly as the first time
    redo = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert redo.status_code == 201, redo.text
    assert redo.json()["totals"] == first["totals"]
    assert redo.json()["admission_order"] == 2
    assert await person_state(sessionmaker, idn) == {**moved, "movements": after["movements"] + [("settlement", -paid)]}


def fen(wire: str) -> int:
    whole, _, cents = wire.partition(".")
    return int(whole) * 100 + int(cents)


async def test_list_is_scoped_and_paginated(client, admin_headers, institution_keys) -> None:
    clinic = {"Authorization": f"Bearer {institution_keys['H430522010']}"}
    idn = await make_person(client, admin_headers)
    ids = set()
    for _ in range(5):
        r = await client.post("/api/v1/settlements", json=make_bill(idn), headers={**clinic, **idem()})
        assert r.status_code == 201, r.text
        ids.add(r.json()["settlement_id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/settlements", params=params, headers=clinic)).json()
        assert all(item["institution_code"] == "H430522010" for item in page["items"])
        seen += [item["settlement_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))


async def test_another_institution_cannot_read_or_cancel(client, admin_headers, hospital, institution_keys) -> None:
    idn = await make_person(client, admin_headers)
    sid = (await client.post("/api/v1/settlements", json=make_bill(idn), headers={**hospital, **idem()})).json()[
        "settlement_id"
    ]
    other = {"Authorization": f"Bearer {institution_keys['H430522101']}"}
    assert (await client.get(f"/api/v1/settlements/{sid}", headers=other)).status_code == 404
    r = await client.post(f"/api/v1/settlements/{sid}/cancel", headers=other)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.get(f"/api/v1/settlements/{sid}", headers=admin_headers)).status_code == 200


async def test_preview_writes_nothing(client, admin_headers, hospital, sessionmaker) -> None:
    # given an employee with an account, and the counts of every table a settlement writes
    idn = await make_person(client, admin_headers, scheme="employee", account="5000.00")
    bill = inpatient_bill(idn) | {"use_personal_account": True}
    state, counts = await person_state(sessionmaker, idn), await row_counts(sessionmaker)
    # when the bill is previewed twice
    p1 = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    p2 = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital)
    # then both answer the same split and nothing was written: no row, no accumulator, no balance
    assert p1.status_code == p2.status_code == 200
    assert p1.json()["totals"] == p2.json()["totals"]
    assert fen(p1.json()["totals"]["personal_account"]) > 0
    assert await row_counts(sessionmaker) == counts
    assert await person_state(sessionmaker, idn) == state
    # and settling it gives exactly the previewed split, as the first admission (trace codes still free)
    settled = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert settled.json()["totals"] == p1.json()["totals"]
    assert settled.json()["admission_order"] == 1


async def test_family_sharing_pays_from_the_holders_account(client, admin_headers, hospital) -> None:
    holder = await make_person(client, admin_headers, scheme="employee", account="100.00")
    child = await make_person(client, admin_headers)
    bill = make_bill(child, [line("S-CTHD", "1", "180.00")], use_personal_account=True, account_payer_id_number=holder)
    refused = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    bound = await client.post(
        "/api/v1/family-bindings",
        json={"holder_id_number": holder, "relative_id_number": child, "relation": "child"},
        headers=admin_headers,
    )
    assert bound.status_code == 201
    r = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **idem()})
    assert r.status_code == 201, r.text
    t = r.json()["totals"]
    assert t["personal_account"] == "100.00"
    assert t["cash"] == "80.00"
