"""Manual reimbursement claims (零星报销) through the public API (issue #18).

Each test owns its people, its invoice numbers (a per-run prefix) and, where a real-time bill is
compared, an institution of its own (tests/settlement/helpers.own_institution). Claims are
settled to the person (ledger account ``person_payable``), never to an institution's payable,
so they take nothing from another test's daily settle."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.builders import idem, line, make_bill, make_person
from tests.settlement.helpers import at, china, fen, own_institution
from yibao.auth.tokens import create_staff_token

pytestmark = pytest.mark.asyncio

_invoices = itertools.count(1)
_RUN = secrets.token_hex(3)


def invoice() -> str:
    return f"INV{_RUN}{next(_invoices):05d}"


async def staff(sessionmaker, role: str, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, role, f'{name}-{_RUN}')}"}


def claim_body(
    idn: str,
    lines: list[dict[str, Any]],
    *,
    day: str = "2026-11-20",
    visit_type: str = "inpatient",
    care: dict[str, Any] | None = None,
    invoices: list[str] | None = None,
    kind: str = "cross_region_unsettled",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_number": idn,
        "kind": kind,
        "channel": "service_point",
        "care": care or {"name": "广州市第一人民医院", "region": "440100", "level": 3},
        "visit_type": visit_type,
        "service_date": day,
        "diagnoses": ["K35.8"],
        "invoice_numbers": invoices or [invoice()],
        "lines": lines,
        "attachments": [{"sha256": secrets.token_hex(32), "name": "invoice.jpg", "type": "invoice"}],
        "payee": {"kind": "own_account", "name": "张三", "bank": "农业银行新邵支行", "account_no": "6228480000000001"},
    }
    if visit_type == "inpatient":
        body["admitted_on"] = day
        body["discharged_on"] = day
    return body


def ct(qty: str, day: str = "2026-11-20", price: str = "180.00", no: int = 1) -> dict[str, Any]:
    return line("S-CTHD", qty, price, no=no, day=day)


async def file(client: httpx.AsyncClient, clerk: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/api/v1/reimbursements", json=body, headers={**clerk, **idem()})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def approve(client: httpx.AsyncClient, who: dict[str, str], cid: str) -> httpx.Response:
    return await client.post(f"/api/v1/reimbursements/{cid}/approve", headers=who)


@pytest.fixture
async def team(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(2)
    return {
        "clerk": await staff(sessionmaker, "clerk", f"clerk-{tag}"),
        "a": await staff(sessionmaker, "first_reviewer", f"rev-a-{tag}"),
        "a_admin": await staff(sessionmaker, "admin", f"rev-a-{tag}"),  # the same person, as admin
        "b": await staff(sessionmaker, "second_reviewer", f"rev-b-{tag}"),
        "b_first": await staff(sessionmaker, "first_reviewer", f"rev-b-{tag}"),
        "c": await staff(sessionmaker, "admin", f"admin-c-{tag}"),
        "clerk_admin": await staff(sessionmaker, "admin", f"clerk-{tag}"),
    }


async def test_one_approval_below_10000_settles_as_manual_and_shows_every_step(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    claim = await file(client, team["clerk"], claim_body(idn, [ct("10")]))  # 1,800.00 policy range
    assert claim["status"] == "received" and claim["approvals_needed"] == 1
    # cross-region care without a filing: (1,800.00 − 1,000.00 level-3 deductible) × (0.60 − 0.10 unfiled)
    assert claim["fund_estimate"] == "400.00"
    assert [s["step"] for s in claim["steps"]] == ["filed"]

    # the filing clerk cannot approve, even as admin; the same reviewer cannot twice
    assert (await approve(client, team["clerk_admin"], claim["id"])).json()["error"]["code"] == "SAME_ACTOR"
    assert (await approve(client, team["b"], claim["id"])).json()["error"]["code"] == "FORBIDDEN"  # step 1
    r = await approve(client, team["a"], claim["id"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "approved" and done["settlement_id"]
    assert [s["step"] for s in done["steps"]] == ["filed", "first_review", "settled"]
    again = await approve(client, team["a_admin"], claim["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "INVALID_STATE"

    s = (await client.get(f"/api/v1/settlements/{done['settlement_id']}", headers=admin_headers)).json()
    assert s["totals"]["fund_total"] == "400.00" and s["visit_no"] == claim["claim_no"]


async def test_two_approvals_from_10000_each_by_another_person(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    care = {"name": "新邵县院外医院", "region": "430522", "level": 3}
    claim = await file(client, team["clerk"], claim_body(idn, [ct("100")], care=care))  # 18,000.00
    assert claim["fund_estimate"] == "10200.00" and claim["approvals_needed"] == 2  # (18,000 − 1,000) × 0.60
    assert (await approve(client, team["a"], claim["id"])).json()["status"] == "in_review"
    same = await approve(client, team["a"], claim["id"])
    assert same.status_code == 403 and same.json()["error"]["code"] == "SAME_ACTOR"
    as_admin = await approve(client, team["a_admin"], claim["id"])  # another role, the same person
    assert as_admin.json()["error"]["code"] == "SAME_ACTOR"
    r = await approve(client, team["b"], claim["id"])
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    assert [(s["step"], s["role"]) for s in r.json()["steps"]] == [
        ("filed", None),
        ("first_review", "first_reviewer"),
        ("second_review", "second_reviewer"),
        ("settled", None),
    ]


async def test_three_approvals_from_50000_the_third_by_an_admin(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    care = {"name": "新邵县院外医院", "region": "430522", "level": 3}
    claim = await file(client, team["clerk"], claim_body(idn, [ct("470")], care=care))  # 84,600.00
    assert claim["approvals_needed"] == 3 and fen(claim["fund_estimate"]) >= 5_000_000
    assert (await approve(client, team["a"], claim["id"])).status_code == 200
    assert (await approve(client, team["b"], claim["id"])).status_code == 200
    not_admin = await approve(client, team["b_first"], claim["id"])  # a reviewer may not take the admin's step
    assert not_admin.status_code == 403
    same = await approve(client, team["a_admin"], claim["id"])  # an admin, but the first reviewer
    assert same.status_code == 403 and same.json()["error"]["code"] == "SAME_ACTOR"
    assert (await client.get(f"/api/v1/reimbursements/{claim['id']}", headers=team["c"])).json()[
        "status"
    ] == "in_review"
    r = await approve(client, team["c"], claim["id"])
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    assert [s["step"] for s in r.json()["steps"]][1:] == ["first_review", "second_review", "final_approval", "settled"]


async def test_return_for_material_then_resubmission_starts_a_new_round(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    care = {"name": "新邵县院外医院", "region": "430522", "level": 3}
    claim = await file(client, team["clerk"], claim_body(idn, [ct("100")], care=care))
    assert (await approve(client, team["a"], claim["id"])).status_code == 200
    r = await client.post(
        f"/api/v1/reimbursements/{claim['id']}/return", json={"reason": "请补充出院小结"}, headers=team["b"]
    )
    assert r.status_code == 200 and r.json()["status"] == "returned" and r.json()["reason"] == "请补充出院小结"
    assert (await approve(client, team["b"], claim["id"])).json()["error"]["code"] == "INVALID_STATE"
    more = {"attachments": [{"sha256": "ab" * 32, "name": "discharge.pdf", "type": "discharge_summary"}]}
    r = await client.post(f"/api/v1/reimbursements/{claim['id']}/resubmit", json=more, headers=team["clerk"])
    assert r.status_code == 200 and r.json()["status"] == "received" and r.json()["approvals"] == 0
    assert len(r.json()["attachments"]) == 2
    # a new round: the first reviewer of the earlier round may review again; two steps are needed again
    assert (await approve(client, team["a"], claim["id"])).json()["status"] == "in_review"
    assert (await approve(client, team["a"], claim["id"])).json()["error"]["code"] == "SAME_ACTOR"
    done = (await approve(client, team["b"], claim["id"])).json()
    assert done["status"] == "approved"
    assert [s["step"] for s in done["steps"]] == [
        "filed",
        "first_review",
        "returned",
        "resubmitted",
        "first_review",
        "second_review",
        "settled",
    ]


async def test_reject_with_reason_frees_the_invoice(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    number = invoice()
    claim = await file(client, team["clerk"], claim_body(idn, [ct("10")], invoices=[number]))
    again = await client.post(
        "/api/v1/reimbursements",
        json=claim_body(idn, [ct("5")], invoices=[number]),
        headers={**team["clerk"], **idem()},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "INVOICE_ALREADY_CLAIMED"
    no_reason = await client.post(f"/api/v1/reimbursements/{claim['id']}/reject", json={}, headers=team["a"])
    assert no_reason.status_code == 400
    r = await client.post(
        f"/api/v1/reimbursements/{claim['id']}/reject", json={"reason": "发票不实"}, headers=team["a"]
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason"] == "发票不实"
    refiled = await file(client, team["clerk"], claim_body(idn, [ct("10")], invoices=[number]))
    assert refiled["status"] == "received"


async def test_invoice_of_an_approved_claim_is_never_claimed_again(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    other = await make_person(client, admin_headers)
    number = invoice()
    claim = await file(client, team["clerk"], claim_body(idn, [ct("10")], invoices=[number]))
    assert (await approve(client, team["a"], claim["id"])).json()["status"] == "approved"
    for who in (idn, other):
        r = await client.post(
            "/api/v1/reimbursements",
            json=claim_body(who, [ct("10")], invoices=[invoice(), number]),
            headers={**team["clerk"], **idem()},
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "INVOICE_ALREADY_CLAIMED", r.text


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    body = claim_body(idn, [ct("10")])
    key = idem()
    first = await client.post("/api/v1/reimbursements", json=body, headers={**team["clerk"], **key})
    again = await client.post("/api/v1/reimbursements", json=body, headers={**team["clerk"], **key})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers.get("Idempotent-Replayed") == "true"
    other = await client.post(
        "/api/v1/reimbursements", json={**body, "invoice_numbers": [invoice()]}, headers={**team["clerk"], **key}
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    missing = await client.post("/api/v1/reimbursements", json=body, headers=team["clerk"])
    assert missing.status_code == 400


async def test_refused_before_coverage_after_death_and_too_old(client, admin_headers, team, sessionmaker) -> None:
    late = await make_person(client, admin_headers, coverage_start="2026-06-01")
    r = await client.post(
        "/api/v1/reimbursements",
        json=claim_body(late, [ct("10", day="2026-05-20")], day="2026-05-20"),
        headers={**team["clerk"], **idem()},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "SERVICE_BEFORE_COVERAGE", r.text
    dead = await make_person(client, admin_headers, death_date="2026-10-01")
    r = await client.post(
        "/api/v1/reimbursements", json=claim_body(dead, [ct("10")]), headers={**team["clerk"], **idem()}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "PERSON_DECEASED", r.text
    old = await make_person(client, admin_headers, year=2024)
    r = await client.post(
        "/api/v1/reimbursements",
        json=claim_body(old, [ct("10", day="2024-12-02")], day="2024-12-02"),
        headers={**team["clerk"], **idem()},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "CLAIM_TOO_OLD", r.text
    with at(china(2026, 12, 2)):  # exactly two years: still in time
        r = await client.post(
            "/api/v1/reimbursements",
            json=claim_body(old, [ct("10", day="2024-12-02")], day="2024-12-02"),
            headers={**team["clerk"], **idem()},
        )
    # the age limit lets exactly two years pass (no 2024 policy is loaded here, so the bill is refused for that)
    assert r.json()["error"]["code"] == "POLICY_NOT_FOUND", r.text
    async with sessionmaker() as session:
        written = await session.scalar(
            text("SELECT count(*) FROM reimbursement_claims WHERE id_number = ANY(:ids)"), {"ids": [late, dead, old]}
        )
    assert written == 0


async def _queue_ids(client: httpx.AsyncClient, who: dict[str, str], **params: Any) -> set[str]:
    r = await client.get("/api/v1/reimbursements", params={**params, "limit": 500}, headers=who)
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


async def test_due_in_five_working_days_and_overdue_across_a_weekend_and_new_year(client, admin_headers, team) -> None:
    idn = await make_person(client, admin_headers)
    with at(china(2026, 12, 4, 9)):  # a Friday: Mon 7 … Fri 11 are the five working days
        friday = await file(client, team["clerk"], claim_body(idn, [ct("10")]))
    assert friday["received_on"] == "2026-12-04" and friday["due_date"] == "2026-12-11"
    with at(china(2026, 12, 29, 9)):  # a Tuesday: 30, 31, (1 Jan holiday, weekend), 4, 5, 6 January
        tuesday = await file(client, team["clerk"], claim_body(idn, [ct("10")]))
    assert tuesday["due_date"] == "2027-01-06"
    with at(china(2026, 12, 11, 17)):  # the due day itself: not overdue yet
        assert friday["id"] not in await _queue_ids(client, team["a"], overdue="true")
        assert friday["id"] in await _queue_ids(client, team["a"], status="received")
    with at(china(2026, 12, 14, 9)):  # the Monday after: overdue
        overdue = await _queue_ids(client, team["a"], overdue="true")
        assert friday["id"] in overdue and tuesday["id"] not in overdue
        one = (await client.get(f"/api/v1/reimbursements/{friday['id']}", headers=team["a"])).json()
        assert one["overdue"] is True
    with at(china(2027, 1, 6, 9)):
        assert tuesday["id"] not in await _queue_ids(client, team["a"], overdue="true")
    with at(china(2027, 1, 7, 9)):
        assert tuesday["id"] in await _queue_ids(client, team["a"], overdue="true")
        assert (await approve(client, team["a"], tuesday["id"])).json()["status"] == "approved"
        assert tuesday["id"] not in await _queue_ids(client, team["a"], overdue="true")  # decided: off the queue


async def test_a_claim_pays_what_the_same_bill_pays_at_the_counter(client, admin_headers, team, sessionmaker) -> None:
    own = await own_institution(client, sessionmaker, admin_headers, level=2)
    counter, claimant = await make_person(client, admin_headers), await make_person(client, admin_headers)
    day = "2026-11-16"
    lines = [line("S-BED-2", "3", "40.00", no=1, day=day), line("S-APPX", "1", "1500.00", no=2, day=day)]
    bill = make_bill(counter, lines, visit_type="inpatient", service_date=day, diagnoses=["K35.8"])
    r = await client.post("/api/v1/settlements", json=bill, headers={**own.headers, **idem()})
    assert r.status_code == 201, r.text
    realtime = r.json()
    body = claim_body(claimant, lines, day=day, care={"institution_code": own.code}, kind="emergency")
    claim = await file(client, team["clerk"], body)
    assert claim["fund_estimate"] == realtime["totals"]["fund_total"] == "784.00"  # (1,620 − 500) × 0.70
    done = (await approve(client, team["a"], claim["id"])).json()
    manual = (await client.get(f"/api/v1/settlements/{done['settlement_id']}", headers=admin_headers)).json()
    assert manual["totals"] == realtime["totals"]
    # the institution where the care was given cannot cancel the person's claim, nor read it or
    # find it among its own bills (the bureau paid it to the person: not the hospital's bill)
    r = await client.post(f"/api/v1/settlements/{done['settlement_id']}/cancel", headers=own.headers)
    assert r.status_code == 404
    r = await client.get(f"/api/v1/settlements/{done['settlement_id']}", headers=own.headers)
    assert r.status_code == 404
    listed = (await client.get("/api/v1/settlements", params={"limit": 100}, headers=own.headers)).json()["items"]
    assert [i["settlement_id"] for i in listed] == [realtime["settlement_id"]]
    async with sessionmaker() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT s.source, y.basic_paid, y.inpatient_admissions FROM settlements s "
                    "JOIN person_years y ON y.person_id = s.person_id AND y.year = s.year WHERE s.id = ANY(:ids) "
                    "ORDER BY s.source"
                ),
                {"ids": [realtime["settlement_id"], done["settlement_id"]]},
            )
        ).all()
    assert [tuple(r) for r in rows] == [("manual", 78_400, 1), ("realtime", 78_400, 1)]
    # the counter's visit cannot be claimed again by the person who had it settled
    again = await client.post(
        "/api/v1/reimbursements",
        json=claim_body(counter, lines, day=day, care={"institution_code": own.code}),
        headers={**team["clerk"], **idem()},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "VISIT_SETTLED_IN_REAL_TIME"


async def test_concurrent_claim_and_counter_bill_never_exceed_the_outpatient_cap(
    client, admin_headers, team, sessionmaker
) -> None:
    """Residents' outpatient pooling at levels 0–1: 50 % up to 400.00 a year. A claim and a bill
    each worth 300.00 alone, settled at the same moment: 400.00 in all, whichever goes first."""
    own = await own_institution(client, sessionmaker, admin_headers, level=1)
    idn = await make_person(client, admin_headers)
    claim = await file(
        client,
        team["clerk"],
        claim_body(
            idn,
            [ct("4", day="2026-11-17", price="150.00")],
            day="2026-11-17",
            visit_type="outpatient",
            care={"institution_code": own.code},
            kind="other",
        ),
    )
    assert claim["fund_estimate"] == "300.00"
    bill = make_bill(idn, [ct("4", day="2026-11-18", price="150.00")], service_date="2026-11-18")
    approved, settled = await asyncio.gather(
        approve(client, team["a"], claim["id"]),
        client.post("/api/v1/settlements", json=bill, headers={**own.headers, **idem()}),
    )
    assert approved.status_code == 200 and settled.status_code == 201, (approved.text, settled.text)
    manual = (await client.get(f"/api/v1/settlements/{approved.json()['settlement_id']}", headers=admin_headers)).json()
    paid = fen(manual["totals"]["fund_total"]) + fen(settled.json()["totals"]["fund_total"])
    assert paid == 40_000
    assert sorted([fen(manual["totals"]["fund_total"]), fen(settled.json()["totals"]["fund_total"])]) == [
        10_000,
        30_000,
    ]
    async with sessionmaker() as s:
        pooled = await s.scalar(
            text(
                "SELECT y.outpatient_pool_paid FROM person_years y JOIN persons p ON p.id = y.person_id "
                "WHERE p.id_number = :idn AND y.year = 2026"
            ),
            {"idn": idn},
        )
    assert pooled == 40_000


async def test_the_member_files_in_the_app_and_sees_every_step(client, admin_headers, team) -> None:
    from tests.api.test_members import login

    idn = await make_person(client, admin_headers)
    stranger = await make_person(client, admin_headers)
    me = await login(client, admin_headers, idn)
    body = claim_body(idn, [ct("10")])
    for k in ("id_number", "channel"):
        del body[k]
    r = await client.post("/api/v1/me/reimbursements", json=body, headers={**me, **idem()})
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["id_number"] == idn and mine["channel"] == "app"
    r = await client.post(
        f"/api/v1/reimbursements/{mine['id']}/return", json={"reason": "请上传发票背面"}, headers=team["a"]
    )
    assert r.status_code == 200
    more = {"attachments": [{"sha256": "cd" * 32, "name": "back.jpg", "type": "invoice"}]}
    assert (
        await client.post(f"/api/v1/me/reimbursements/{mine['id']}/resubmit", json=more, headers=me)
    ).status_code == 200
    assert (await approve(client, team["a"], mine["id"])).json()["status"] == "approved"
    seen = (await client.get(f"/api/v1/me/reimbursements/{mine['id']}", headers=me)).json()
    assert [s["step"] for s in seen["steps"]] == ["filed", "returned", "resubmitted", "first_review", "settled"]
    assert seen["steps"][1]["reason"] == "请上传发票背面"
    listed = (await client.get("/api/v1/me/reimbursements", headers=me)).json()["items"]
    assert [c["id"] for c in listed] == [mine["id"]]
    other = await login(client, admin_headers, stranger)
    assert (await client.get(f"/api/v1/me/reimbursements/{mine['id']}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/me/reimbursements", headers=other)).json()["items"] == []


async def test_person_payout_order_is_maker_checked_and_its_bank_file_totals(
    client, admin_headers, team, sessionmaker
) -> None:
    """Batch 2026-12-07 is this test's own day. The order takes every approved claim still unpaid
    (other tests' too): what is asserted is this test's claim and the file's own arithmetic."""
    idn = await make_person(client, admin_headers)
    claim = await file(client, team["clerk"], claim_body(idn, [ct("10")]))
    done = (await approve(client, team["a"], claim["id"])).json()
    maker, checker = (
        await staff(sessionmaker, "finance", "fin-maker"),
        await staff(sessionmaker, "finance", "fin-check"),
    )
    r = await client.post("/api/v1/payouts/person-orders", json={"batch_date": "2026-12-07"}, headers=maker)
    assert r.status_code == 201, r.text
    order = r.json()
    mine = [ln for ln in order["lines"] if ln["claim_id"] == claim["id"]]
    assert len(mine) == 1 and mine[0]["amount"] == "400.00" and mine[0]["account_no"] == "6228480000000001"
    assert order["state"] == "draft" and fen(order["total"]) == sum(fen(ln["amount"]) for ln in order["lines"])
    rerun = await client.post("/api/v1/payouts/person-orders", json={"batch_date": "2026-12-07"}, headers=checker)
    assert rerun.status_code == 200 and rerun.json()["id"] == order["id"]

    oid = order["id"]
    assert (await client.post(f"/api/v1/payouts/person-orders/{oid}/pay", headers=checker)).status_code == 409
    own = await client.post(f"/api/v1/payouts/person-orders/{oid}/approve", headers=maker)
    assert own.status_code == 403 and own.json()["error"]["code"] == "SAME_ACTOR"
    assert (await client.post(f"/api/v1/payouts/person-orders/{oid}/approve", headers=checker)).json()["state"] == (
        "approved"
    )
    paid = await client.post(f"/api/v1/payouts/person-orders/{oid}/pay", headers=checker)
    assert paid.status_code == 200 and paid.json()["state"] == "paid", paid.text
    again = await client.post(f"/api/v1/payouts/person-orders/{oid}/pay", headers=checker)
    assert again.json()["paid_at"] == paid.json()["paid_at"]  # final: paid once

    csv_text = (await client.get(f"/api/v1/payouts/person-orders/{oid}/bank-file", headers=checker)).text
    rows = [ln.split(",") for ln in csv_text.strip().splitlines()]
    body, control = rows[1:-1], rows[-1]
    assert control[0] == "TOTAL" and int(control[1]) == len(body) == order["line_count"]
    assert fen(control[-1]) == sum(fen(r[-1]) for r in body) == fen(order["total"])
    assert [r[2:] for r in body if r[2] == claim["claim_no"]] == [
        [claim["claim_no"], "张三", "农业银行新邵支行", "6228480000000001", "400.00"]
    ]
    seen = (await client.get(f"/api/v1/reimbursements/{claim['id']}", headers=team["a"])).json()
    assert seen["status"] == "paid" and seen["steps"][-1]["reason"] == f"person order {oid}"
    # nothing left for the next day's order from this claim
    async with sessionmaker() as s:
        legs = dict(
            (
                await s.execute(
                    text(
                        "SELECT account, SUM(amount) FROM ledger_postings WHERE source = :sid "
                        "OR source = :src GROUP BY account"
                    ),
                    {"sid": done["settlement_id"], "src": f"person_order:{oid}:{claim['claim_no']}"},
                )
            ).all()
        )
    # the claim: fund spending owed to the person, then paid from the bank; never the institution's payable
    assert legs == {"claims": 40_000, "person_payable": 0, "bank": -40_000}


async def test_readme_counter_claims_walkthrough(client, admin_headers, team, sessionmaker) -> None:
    """README "Counter claims", on the day it was last run (2026-12-03, 10:00 in Beijing)."""
    from tests.api.test_members import login

    idn = await make_person(client, admin_headers)
    member = await login(client, admin_headers, idn)
    with at(china(2026, 12, 3, 10)):
        claim = await file(client, team["clerk"], claim_body(idn, [ct("10")]))  # the README's body
        assert (claim["status"], claim["fund_estimate"], claim["approvals_needed"]) == ("received", "400.00", 1)
        assert (claim["received_on"], claim["due_date"], claim["channel"]) == (
            "2026-12-03",
            "2026-12-10",
            "service_point",
        )
        assert claim["attachments"][0]["type"] == "invoice" and claim["claim_no"].startswith("MR2026")
        assert claim["id"] in await _queue_ids(client, team["a"], status="received")
        done = (await approve(client, team["a"], claim["id"])).json()
        assert done["status"] == "approved" and [s["step"] for s in done["steps"]] == [
            "filed",
            "first_review",
            "settled",
        ]
        fin1, fin2 = (
            await staff(sessionmaker, "finance", "readme-fin1"),
            await staff(sessionmaker, "finance", "readme-fin2"),
        )
        order = (
            await client.post("/api/v1/payouts/person-orders", json={"batch_date": "2026-12-03"}, headers=fin1)
        ).json()
        assert order["state"] == "draft" and claim["id"] in {ln["claim_id"] for ln in order["lines"]}
        assert (
            await client.post(f"/api/v1/payouts/person-orders/{order['id']}/approve", headers=fin2)
        ).status_code == 200
        assert (await client.post(f"/api/v1/payouts/person-orders/{order['id']}/pay", headers=fin2)).status_code == 200
        bank = (await client.get(f"/api/v1/payouts/person-orders/{order['id']}/bank-file", headers=fin2)).text
    lines = bank.strip().splitlines()
    assert lines[0] == "order_id,batch_date,claim_no,payee_name,bank,account_no,amount"
    assert f"{claim['claim_no']},张三,农业银行新邵支行,6228480000000001,400.00" in bank and lines[-1].startswith(
        "TOTAL,"
    )
    seen = (await client.get(f"/api/v1/me/reimbursements/{claim['id']}", headers=member)).json()
    assert seen["status"] == "paid"
    assert [s["step"] for s in seen["steps"]] == ["filed", "first_review", "settled", "paid"]
    assert seen["steps"][-1]["reason"] == f"person order {order['id']}"


async def test_a_returned_transfer_is_owed_again_and_paid_once_the_payee_is_corrected(
    client, admin_headers, team, sessionmaker
) -> None:
    """Batches 2026-12-08 and 2026-12-09 are this test's own days."""
    idn = await make_person(client, admin_headers)
    claim = await file(client, team["clerk"], claim_body(idn, [ct("10")]))
    assert (await approve(client, team["a"], claim["id"])).json()["status"] == "approved"
    maker, checker = (
        await staff(sessionmaker, "finance", "ret-maker"),
        await staff(sessionmaker, "finance", "ret-check"),
    )

    async def pay_day(day: str) -> dict[str, Any]:
        r = await client.post("/api/v1/payouts/person-orders", json={"batch_date": day}, headers=maker)
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        assert (await client.post(f"/api/v1/payouts/person-orders/{oid}/approve", headers=checker)).status_code == 200
        paid = await client.post(f"/api/v1/payouts/person-orders/{oid}/pay", headers=checker)
        assert paid.status_code == 200, paid.text
        return dict(r.json())

    first = await pay_day("2026-12-08")
    ret = {"claim_id": claim["id"], "reason": "账户已销户 account closed"}
    r = await client.post(f"/api/v1/payouts/person-orders/{first['id']}/returns", json=ret, headers=checker)
    assert r.status_code == 200, r.text
    line = next(ln for ln in r.json()["lines"] if ln["claim_id"] == claim["id"])
    assert line["returned_at"] and r.json()["state"] == "paid"  # the paid order stays final
    again = await client.post(f"/api/v1/payouts/person-orders/{first['id']}/returns", json=ret, headers=checker)
    assert again.status_code == 409
    seen = (await client.get(f"/api/v1/reimbursements/{claim['id']}", headers=team["a"])).json()
    assert seen["status"] == "transfer_returned"
    # not paid again while the payee is wrong
    none = await client.post("/api/v1/payouts/person-orders", json={"batch_date": "2026-12-09"}, headers=maker)
    assert none.status_code == 409 or claim["id"] not in {ln["claim_id"] for ln in none.json()["lines"]}
    payee = {
        "kind": "other_account",
        "name": "张小三",
        "bank": "农商银行",
        "account_no": "6210000000000002",
        "relation": "child",
        "reason": "本人账户已销户",
    }
    r = await client.post(f"/api/v1/reimbursements/{claim['id']}/payee", json=payee, headers=team["clerk"])
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    if none.status_code == 201:  # another test's claims made the day's order: pay the next day
        await client.post(f"/api/v1/payouts/person-orders/{none.json()['id']}/approve", headers=checker)
        await client.post(f"/api/v1/payouts/person-orders/{none.json()['id']}/pay", headers=checker)
        second = await pay_day("2026-12-10")
    else:
        second = await pay_day("2026-12-09")
    mine = [ln for ln in second["lines"] if ln["claim_id"] == claim["id"]]
    assert [(ln["account_no"], ln["amount"]) for ln in mine] == [("6210000000000002", "400.00")]
    seen = (await client.get(f"/api/v1/reimbursements/{claim['id']}", headers=team["a"])).json()
    assert seen["status"] == "paid"
    assert [s["step"] for s in seen["steps"]][-4:] == ["paid", "transfer_returned", "payee_corrected", "paid"]
    async with sessionmaker() as s:
        owed = await s.scalar(
            text("SELECT SUM(amount) FROM ledger_postings WHERE account = 'person_payable' AND source LIKE :src"),
            {"src": f"person_order:%:{claim['claim_no']}%"},
        )
        bank = await s.scalar(
            text("SELECT SUM(amount) FROM ledger_postings WHERE account = 'bank' AND source LIKE :src"),
            {"src": f"person_order:%:{claim['claim_no']}%"},
        )
    assert (owed, bank) == (40_000, -40_000)  # paid out once in all: the returned transfer came back


async def test_concurrent_filings_under_one_key_file_once_and_concurrent_approvals_settle_once(
    client, admin_headers, team, sessionmaker
) -> None:
    idn = await make_person(client, admin_headers)
    body, key = claim_body(idn, [ct("10")]), idem()
    answers = await asyncio.gather(
        *(client.post("/api/v1/reimbursements", json=body, headers={**team["clerk"], **key}) for _ in range(4))
    )
    assert {r.status_code for r in answers} == {201}, [r.text for r in answers if r.status_code != 201]
    assert len({r.content for r in answers}) == 1
    claim = answers[0].json()
    other = await staff(sessionmaker, "first_reviewer", "rev-race")
    results = await asyncio.gather(approve(client, team["a"], claim["id"]), approve(client, other, claim["id"]))
    assert sorted(r.status_code for r in results) == [200, 409]  # the second finds it approved
    async with sessionmaker() as s:
        counts = (
            await s.execute(
                text(
                    "SELECT (SELECT count(*) FROM reimbursement_claims WHERE id_number = :idn), "
                    "(SELECT count(*) FROM settlements WHERE id_number = :idn AND source = 'manual')"
                ),
                {"idn": idn},
            )
        ).one()
    assert tuple(counts) == (1, 1)
