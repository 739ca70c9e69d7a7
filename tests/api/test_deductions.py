"""GET /api/v1/deductions (issue #13.8): what an institution owes the fund, which daily settle
took it and what carries forward, before any order nets it.

The test owns its hospitals (``own_institution``), its person and its days: stays on
2026-09-07 and 09-10 (settled), the suspect confirmed on 09-14 (deductions due 09-15), and a
bill on 09-15 whose daily settle takes part of the violation.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from api.schemas.deductions import DeductionPage
from tests.api.test_contract import conforms
from tests.builders import make_person
from tests.settlement.helpers import (
    at,
    china,
    fen,
    fund_parts,
    inpatient,
    order_lines,
    own_institution,
    run_settle,
    settle,
    yuan,
)
from yibao.auth.tokens import create_staff_token
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import sweep
from yibao.people.orm import PersonRow

URL = "/api/v1/deductions"


async def _staff(sessionmaker, role: str, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, role, name)}"}


async def test_confirmed_deductions_are_listed_with_what_took_them_and_what_carries(
    client, admin_headers, sessionmaker
) -> None:
    # given a split admission at a hospital of this test's own (stays on Sep 7 and Sep 10, both
    # days settled), confirmed on Sep 14 by two reviewers with a 2× penalty
    inspector = await _staff(sessionmaker, "inspector", "insp-deduct")
    first, second = (
        await _staff(sessionmaker, "first_reviewer", "rev-deduct-1"),
        await _staff(sessionmaker, "second_reviewer", "rev-deduct-2"),
    )
    fa = await _staff(sessionmaker, "finance", "fin-a")
    own = await own_institution(client, sessionmaker, admin_headers, level=2)
    other = await own_institution(client, sessionmaker, admin_headers, level=2)
    idn = await make_person(client, admin_headers)
    await settle(client, own.headers, inpatient(idn, date(2026, 9, 7)), china(2026, 9, 7, 10))
    await settle(client, own.headers, inpatient(idn, date(2026, 9, 10)), china(2026, 9, 10, 10))
    await run_settle(sessionmaker, date(2026, 9, 7))
    await run_settle(sessionmaker, date(2026, 9, 10))
    async with sessionmaker() as s, s.begin():
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == idn))
        found = await sweep(
            s, await load_rules(s), date(2026, 9, 1), date(2026, 9, 30), persons=[pid], only=["split_admission"]
        )
    assert found == {"split_admission": 1}
    suspects = (await client.get(f"/api/v1/monitoring/suspects?institution_code={own.code}", headers=inspector)).json()
    (suspect,) = suspects["items"]
    url = f"/api/v1/monitoring/suspects/{suspect['id']}"
    violation = fen(suspect["amount"])
    with at(china(2026, 9, 14, 10)):
        assert (await client.post(f"{url}/push", headers=inspector)).status_code == 200
        review = {"stage": "first", "decision": "confirm", "penalty_multiple": 2}
        assert (await client.post(f"{url}/review", json=review, headers=first)).status_code == 200
        done = await client.post(f"{url}/review", json={"stage": "second", "decision": "confirm"}, headers=second)
    assert done.status_code == 200 and done.json()["status"] == "confirmed", done.text
    # when the hospital lists its deductions before any settle took them
    before = await client.get(URL, headers=own.headers)
    # then both are there, due the next day, nothing taken: all of it carries
    assert before.status_code == 200, before.text
    conforms(DeductionPage, before)
    source = f"suspect:{suspect['id']}"

    def expected(kind: str, amount: int, taken: int, takes: list[dict[str, object]]) -> dict[str, object]:
        return {
            "institution_code": own.code,
            "fund": "basic",
            "kind": kind,
            "source_type": "suspect",
            "source": source,
            "amount": yuan(amount),
            "taken": yuan(taken),
            "remaining": yuan(amount - taken),
            "status": "open" if taken == 0 else "taken" if taken == amount else "partial",
            "due_on": "2026-09-15",
            "takes": takes,
        }

    def shown(page: dict[str, object]) -> list[dict[str, object]]:
        keep = ("institution_code", "fund", "kind", "source_type", "source", "amount", "taken", "remaining")
        return [
            {k: d[k] for k in (*keep, "status", "due_on", "takes")}
            for d in page["items"]  # type: ignore[attr-defined]
        ]

    assert shown(before.json()) == [expected("penalty", 2 * violation, 0, []), expected("violation", violation, 0, [])]
    # when the hospital bills a 784.00 stay on Sep 15 and that day is settled
    bill = await settle(
        client,
        own.headers,
        inpatient(await make_person(client, admin_headers), date(2026, 9, 15)),
        china(2026, 9, 15, 9),
    )
    owed = fund_parts(bill["totals"])["basic"]
    assert 0 < owed < violation
    order = await run_settle(sessionmaker, date(2026, 9, 15))
    assert (await order_lines(sessionmaker, order.order_id))[(own.code, "basic")].deducted == owed
    # then the violation shows the order that took what the day owed, the rest carrying forward,
    # oldest first; the penalty waits whole
    after = await client.get(URL, headers=own.headers)
    conforms(DeductionPage, after)
    took = [{"order_id": order.order_id, "settle_date": "2026-09-15", "amount": yuan(owed)}]
    assert shown(after.json()) == [
        expected("penalty", 2 * violation, 0, []),
        expected("violation", violation, owed, took),
    ]
    # and staff see all, filter by institution, kind and status, and page; another hospital sees none
    staff_all = await client.get(URL, params={"institution_code": own.code}, headers=fa)
    assert staff_all.status_code == 200 and staff_all.json() == after.json()
    by_kind = await client.get(URL, params={"institution_code": own.code, "kind": "penalty"}, headers=fa)
    assert [d["kind"] for d in by_kind.json()["items"]] == ["penalty"]
    partial = await client.get(URL, params={"institution_code": own.code, "status": "partial"}, headers=fa)
    assert [d["kind"] for d in partial.json()["items"]] == ["violation"]
    owing = await client.get(URL, params={"institution_code": own.code, "status": "outstanding"}, headers=fa)
    assert [d["kind"] for d in owing.json()["items"]] == ["penalty", "violation"]
    page1 = await client.get(URL, params={"institution_code": own.code, "limit": 1}, headers=fa)
    cursor = page1.json()["next_cursor"]
    page2 = await client.get(URL, params={"institution_code": own.code, "limit": 1, "cursor": cursor}, headers=fa)
    assert page1.json()["items"] + page2.json()["items"] == after.json()["items"]
    assert page2.json()["next_cursor"] is None
    for params in ({}, {"institution_code": own.code}):
        theirs = await client.get(URL, params=params, headers=other.headers)
        assert theirs.status_code == 200 and theirs.json() == {"items": [], "next_cursor": None}, theirs.text
    bad = await client.get(URL, params={"status": "gone"}, headers=fa)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST", bad.text
    assert (await client.get(URL)).status_code == 401
