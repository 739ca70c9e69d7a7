"""Maternity (#18 items 5-6, DOMAIN §10) through HTTP: the employees' maternity fund with its limits
by delivery type and level, residents' delivery with the deductible waived, and the maternity
allowance created once per settled delivery and paid through a person-payee order.

Own institutions (``own_institution``) and business days 2026-02-16…02-20, 02-23…02-26 (one per
test, run through the daily settle: a day is settled once), so no other test's order or bucket sees
these bills; the person orders' batch dates are 2026-02-23, 02-26 and 02-27.
"""

from __future__ import annotations

import json
import secrets
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, select, text

from tests.builders import line, make_bill, make_person, register_person
from tests.settlement.helpers import cancel, china, fen, own_institution, run_settle, settle
from yibao.config import REPO_ROOT
from yibao.employers.credit_code import CHARSET, make
from yibao.ledger.orm import PostingRow
from yibao.maternity.orm import MaternityAllowanceRow

DAY = date(2026, 2, 16)
POLICY = json.loads((REPO_ROOT / "data" / "reference" / "policy-2026.json").read_text("utf-8"))


@pytest_asyncio.fixture(scope="session")
async def staff(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import create_staff_token

    out = {}
    for role in ("clerk", "finance", "finance2"):
        real = "finance" if role == "finance2" else role
        async with sessionmaker() as s, s.begin():
            out[role] = {"Authorization": f"Bearer {await create_staff_token(s, real, f'{role}-maternity')}"}
    return out


def delivery(idn: str, day: date, kind: str, qty: str = "3", babies: int | None = None) -> dict[str, Any]:
    """A delivery stay: ``qty`` × 1,500.00 of class-A service (policy range = qty × 1,500.00)."""
    bill = make_bill(
        idn,
        [line("S-APPX", qty, "1500.00", day=day.isoformat())],
        visit_type="maternity_inpatient",
        service_date=day.isoformat(),
        diagnoses=["O80"],
        delivery_type=kind,
    )
    bill.update(admitted_on=day.isoformat(), discharged_on=day.isoformat())
    if babies is not None:
        bill["babies"] = babies
    return bill


def prenatal(idn: str, day: date, qty: str) -> dict[str, Any]:
    return make_bill(
        idn,
        [line("S-CTHD", qty, "180.00", day=day.isoformat())],
        visit_type="maternity_outpatient",
        service_date=day.isoformat(),
    )


async def employee(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    return await make_person(client, admin, scheme="employee", gender="F", born=date(1995, 5, 5))


async def test_employee_delivery_is_paid_from_the_maternity_fund_up_to_its_limit_by_type_and_level(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    # given: a level-2 and a level-3 hospital of this test; five mothers
    l2 = await own_institution(client, sessionmaker, admin_headers, level=2)
    l3 = await own_institution(client, sessionmaker, admin_headers, level=3)
    when = china(2026, 2, 16, 11)
    cases = [  # (hospital, delivery type, policy range units of 1,500.00, babies, expected maternity fund)
        (l2, "vaginal", "3", None, 300_000),  # 4,500.00 limited to 3,000.00 (levels 0-2)
        (l3, "vaginal", "3", None, 400_000),  # 4,500.00 limited to 4,000.00 (level 3)
        (l2, "caesarean", "4", None, 500_000),  # 6,000.00 limited to 5,000.00
        (l3, "caesarean", "4", None, 600_000),  # 6,000.00 within 6,000.00
        (l2, "vaginal", "3", 2, 400_000),  # twins: 3,000.00 + 1,000.00
        (l2, "vaginal", "1", None, 150_000),  # under the limit: all of the policy range
    ]
    for hospital, kind, qty, babies, expected in cases:
        idn = await employee(client, admin_headers)
        # when
        body = await settle(client, hospital.headers, delivery(idn, DAY, kind, qty, babies), when)
        # then: the maternity fund pays, the basic fund and its deductible do not
        t = body["totals"]
        assert fen(t["maternity_fund"]) == expected, (kind, hospital.level, babies, t)
        assert (t["deductible"], t["basic_fund"], t["critical_illness"]) == ("0.00", "0.00", "0.00")
        assert fen(t["fund_total"]) == expected
        assert fen(t["personal_part"]) == fen(t["total"]) - expected
        assert any(e["part"] == "maternity_fund" for e in body["explanation"])
    # and: the maternity fund's spending is in the ledger under its own fund, and the daily settle takes it
    await run_settle(sessionmaker, DAY)
    async with sessionmaker() as s:
        spent = await s.scalar(
            select(func.sum(PostingRow.amount)).where(
                PostingRow.fund == "maternity",
                PostingRow.account == "claims",
                PostingRow.institution_code.in_([l2.code, l3.code]),
            )
        )
        open_left = await s.scalar(
            text("SELECT count(*) FROM payable_open WHERE institution_code = ANY(:c) AND fund = 'maternity'"),
            {"c": [l2.code, l3.code]},
        )
    assert spent == sum(c[4] for c in cases)
    assert open_left == 0


async def test_prenatal_checks_are_paid_up_to_the_pregnancy_limit_and_a_preview_agrees(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    idn = await employee(client, admin_headers)
    day = date(2026, 2, 17)
    when = china(2026, 2, 17, 9)
    # given: 900.00 of checks paid in full
    first = await settle(client, hospital.headers, prenatal(idn, day, "5"), when)
    assert first["totals"]["maternity_fund"] == "900.00"
    # when: 360.00 more; only 100.00 of the 1,000.00 limit is left
    bill = prenatal(idn, day, "2")
    from tests.settlement.helpers import at

    with at(when):
        preview = await client.post("/api/v1/settlements/preview", json=bill, headers=hospital.headers)
    assert preview.status_code == 200, preview.text
    second = await settle(client, hospital.headers, bill, when)
    # then
    assert second["totals"]["maternity_fund"] == preview.json()["totals"]["maternity_fund"] == "100.00"
    assert second["totals"]["basic_fund"] == "0.00"
    # and: a cancel gives the limit back
    await cancel(client, hospital.headers, first["settlement_id"], when)
    third = await settle(client, hospital.headers, prenatal(idn, day, "1"), when)
    assert third["totals"]["maternity_fund"] == "180.00"
    await run_settle(sessionmaker, day)


async def test_a_residents_delivery_is_inpatient_care_with_the_deductible_waived(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    idn = await make_person(client, admin_headers, scheme="resident", gender="F", born=date(1996, 6, 6))
    when = china(2026, 2, 18, 10)
    # when
    body = await settle(client, hospital.headers, delivery(idn, date(2026, 2, 18), "vaginal", "2"), when)
    # then: no maternity fund; the basic fund pays the level-2 inpatient ratio on all of the policy range
    t = body["totals"]
    ratio = Decimal(POLICY["resident"]["inpatient"]["ratio_by_level"]["2"])
    assert t["maternity_fund"] == "0.00"
    assert t["deductible"] == "0.00"
    assert fen(t["basic_fund"]) == int((Decimal(300_000) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert any(e["rule"] == "maternity.resident_deductible_waived" for e in body["explanation"])
    # and: no allowance for a resident
    async with sessionmaker() as s:
        n = await s.scalar(select(func.count()).where(MaternityAllowanceRow.settlement_id == body["settlement_id"]))
    assert n == 0
    await run_settle(sessionmaker, date(2026, 2, 18))


async def test_a_delivery_bill_without_its_delivery_type_is_refused(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    idn = await employee(client, admin_headers)
    bill = delivery(idn, DAY, "vaginal")
    del bill["delivery_type"]
    r = await client.post("/api/v1/settlements", json=bill, headers={**hospital.headers, "Idempotency-Key": "k1"})
    assert r.status_code == 400 and "delivery_type" in r.json()["error"]["message"], r.text
    outpatient = make_bill(idn, service_date="2026-02-16", delivery_type="vaginal")
    r = await client.post("/api/v1/settlements", json=outpatient, headers={**hospital.headers, "Idempotency-Key": "k2"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REQUEST", r.text


# ---------------------------------------------------------------- the allowance


def new_code() -> str:
    return make("91430522" + "".join(secrets.choice(CHARSET) for _ in range(9)))


async def employer_with(
    client: httpx.AsyncClient,
    sessionmaker,  # type: ignore[no-untyped-def]
    staff: dict[str, dict[str, str]],
    months: list[str],
    people: dict[str, str],
) -> str:
    """An employer contributing ``months`` (YYYY-MM) for ``people`` (id number → base). Months of 2026
    are posted through the API (which derives the employee enrolment); earlier months are the
    history migrated from the previous system (no 2025 policy is loaded, so they are written as rows)."""
    code = new_code()
    r = await client.post(
        "/api/v1/employers", json={"code": code, "name": "某纺织厂", "region": "430522"}, headers=staff["clerk"]
    )
    assert r.status_code == 201, r.text
    for month in months:
        lines = [{"id_number": idn, "base": base} for idn, base in people.items()]
        if month >= "2026":
            r = await client.post(
                f"/api/v1/employers/{code}/contributions",
                json={"month": month, "lines": lines},
                headers=staff["finance"],
            )
            assert r.status_code == 201, r.text
            continue
        async with sessionmaker() as s, s.begin():
            posting = await s.scalar(
                text(
                    "INSERT INTO contribution_postings (employer_id, month, request_hash, employer_total, "
                    "employee_total, account_total) SELECT id, CAST(:m AS date), 'migrated', 0, 0, 0 "
                    "FROM employers WHERE code = :c RETURNING id"
                ),
                {"m": date.fromisoformat(month + "-01"), "c": code},
            )
            for idn, base in people.items():
                await s.execute(
                    text(
                        "INSERT INTO contribution_lines (posting_id, person_id, base, employer_part, employee_part, "
                        "account_credit, retiree) SELECT :p, id, :b, 0, 0, 0, false FROM persons WHERE id_number = :i"
                    ),
                    {"p": posting, "b": fen(base), "i": idn},
                )
    return code


def months(first: date, n: int) -> list[str]:
    out = []
    y, m = first.year, first.month
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


async def allowances(sessionmaker, idn: str) -> list[MaternityAllowanceRow]:  # type: ignore[no-untyped-def]
    from yibao.people.orm import PersonRow

    async with sessionmaker() as s:
        rows = await s.scalars(
            select(MaternityAllowanceRow)
            .join(PersonRow, PersonRow.id == MaternityAllowanceRow.person_id)
            .where(PersonRow.id_number == idn)
            .order_by(MaternityAllowanceRow.created_at)
        )
        return list(rows)


async def test_a_settled_delivery_creates_the_allowance_once_and_a_cancel_voids_it(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    # given: a mother (base 6,000.00) and a colleague (base 4,500.01) contributing 2025-02 … 2026-01
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    mother = await register_person(client, admin_headers, gender="F", born=date(1994, 4, 4))
    colleague = await register_person(client, admin_headers, born=date(1990, 1, 1))
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 2, 1), 12), {mother: "6000.00", colleague: "4500.01"}
    )
    day = date(2026, 2, 19)
    when = china(2026, 2, 19, 10)
    bill = delivery(mother, day, "caesarean", "2", babies=2)
    key = {"Idempotency-Key": secrets.token_hex(8)}
    # when: the bill is settled, and the HIS retries it
    from tests.settlement.helpers import at

    with at(when):
        first = await client.post("/api/v1/settlements", json=bill, headers={**hospital.headers, **key})
        retry = await client.post("/api/v1/settlements", json=bill, headers={**hospital.headers, **key})
    assert first.status_code == 201, first.text
    assert retry.json()["settlement_id"] == first.json()["settlement_id"]
    # then: one allowance: 98 + 15 caesarean + 15 extra baby = 128 days
    # × (average base (6,000.00 + 4,500.01) / 2 = 5,250.005 → ÷ 30 = 175.0001... → 175.00)
    [a] = await allowances(sessionmaker, mother)
    assert (a.status, a.eligible, a.days, a.months_contributed) == ("pending", True, 128, 12)
    assert a.daily_amount == 17_500
    assert a.amount == 17_500 * 128
    assert a.flags == []
    # when: the bill is cancelled, and settled again
    await cancel(client, hospital.headers, first.json()["settlement_id"], when)
    again = await settle(client, hospital.headers, {**bill, "visit_no": bill["visit_no"] + "R"}, when)
    # then: the first allowance is void, the new delivery has its own, once
    first_a, second_a = await allowances(sessionmaker, mother)
    assert first_a.status == "void" and first_a.voided_at is not None
    assert second_a.status == "pending" and str(second_a.settlement_id) == again["settlement_id"]
    await run_settle(sessionmaker, day)


async def test_an_allowance_without_twelve_months_of_contributions_is_ineligible_and_flagged(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    # given: a mother alone at her employer, contributing only since 2025-06 (8 months before delivery)
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    mother = await register_person(client, admin_headers, gender="F", born=date(1993, 3, 3))
    await employer_with(client, sessionmaker, staff, months(date(2025, 6, 1), 8), {mother: "9000.00"})
    day = date(2026, 2, 24)
    # when
    await settle(client, hospital.headers, delivery(mother, day, "vaginal", "1"), china(2026, 2, 24, 11))
    # then
    [a] = await allowances(sessionmaker, mother)
    assert (a.status, a.eligible, a.amount, a.months_contributed) == ("ineligible", False, 0, 8)
    assert a.reason is not None and "12" in a.reason
    assert set(a.flags) == {"contributions_began_recently", "employer_has_no_other_contributor"}
    await run_settle(sessionmaker, day)


async def test_an_approved_allowance_is_paid_to_the_mother_through_a_person_order(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    # given: a settled delivery whose mother contributed 12 months at 7,200.00 (daily 240.00)
    hospital = await own_institution(client, sessionmaker, admin_headers, level=3)
    mother = await register_person(client, admin_headers, gender="F", born=date(1992, 2, 2))
    colleague = await register_person(client, admin_headers, born=date(1988, 8, 8))
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 2, 1), 12), {mother: "7200.00", colleague: "7200.00"}
    )
    day = date(2026, 2, 20)
    await settle(client, hospital.headers, delivery(mother, day, "vaginal", "2"), china(2026, 2, 20, 10))
    await run_settle(sessionmaker, day)
    r = await client.get("/api/v1/maternity-allowances", params={"id_number": mother}, headers=staff["clerk"])
    assert r.status_code == 200, r.text
    [a] = r.json()
    assert (a["status"], a["days"], a["daily_amount"], a["amount"]) == ("pending", 98, "240.00", "23520.00")
    # when: one approval with her bank account, then finance prepares, another finance approves and pays
    payee = {"name": "产妇", "bank": "农业银行溆浦支行", "account_no": "6228480012345678901"}
    r = await client.post(
        f"/api/v1/maternity-allowances/{a['id']}/approve", json={"payee": payee}, headers=staff["clerk"]
    )
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    batch = {"batch_date": "2026-02-23"}
    r = await client.post("/api/v1/payouts/person-orders", json=batch, headers=staff["finance"])
    assert r.status_code in (200, 201), r.text
    order = r.json()
    [mine] = [ln for ln in order["lines"] if ln["claim_id"] == a["id"]]
    assert (mine["claim_no"], mine["amount"], mine["account_no"]) == (
        a["allowance_no"],
        "23520.00",
        payee["account_no"],
    )
    assert (
        await client.post(f"/api/v1/payouts/person-orders/{order['id']}/approve", headers=staff["finance2"])
    ).status_code == 200
    paid = await client.post(f"/api/v1/payouts/person-orders/{order['id']}/pay", headers=staff["finance2"])
    assert paid.status_code == 200 and paid.json()["state"] == "paid", paid.text
    # then: the allowance is paid by the order, the bank file carries it, the maternity fund spent it
    r = await client.get(f"/api/v1/maternity-allowances/{a['id']}", headers=staff["clerk"])
    assert (r.json()["status"], r.json()["paid_order_id"]) == ("paid", order["id"])
    bank = await client.get(f"/api/v1/payouts/person-orders/{order['id']}/bank-file", headers=staff["finance"])
    assert a["allowance_no"] in bank.text and "23520.00" in bank.text
    async with sessionmaker() as s:
        legs = await s.scalars(
            select(PostingRow.amount).where(
                PostingRow.movement == "maternity_allowance",
                PostingRow.fund == "maternity",
                PostingRow.account == "claims",
                PostingRow.source == f"person_order:{order['id']}:{a['allowance_no']}",
            )
        )
        assert list(legs) == [2_352_000]
    # and: the mother sees it paid in the app; another member does not see it
    from tests.api.test_members import login

    me = await login(client, admin_headers, mother)
    mine = (await client.get("/api/v1/me/maternity-allowances", headers=me)).json()
    assert [(m["id"], m["status"], m["amount"]) for m in mine] == [(a["id"], "paid", "23520.00")]
    other = await login(client, admin_headers, colleague)
    assert (await client.get(f"/api/v1/me/maternity-allowances/{a['id']}", headers=other)).status_code == 404
    # and: a second approval of a paid allowance is refused
    r = await client.post(
        f"/api/v1/maternity-allowances/{a['id']}/approve", json={"payee": payee}, headers=staff["clerk"]
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_STATE", r.text


async def test_the_allowance_flags_contributions_begun_fewer_than_10_months_before_delivery_not_10(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    # given: two mothers, each with 3 months at a former employer (2024-11 … 2025-01), then at a new
    # employer with a colleague: one from 2025-04 (10 months before the 2026-02 delivery: near miss),
    # one from 2025-05 (9 months: hit); both have ≥ 12 months in the last 24, so both are eligible
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    ten, nine = [await register_person(client, admin_headers, gender="F", born=date(1991, 1, 1)) for _ in range(2)]
    await employer_with(client, sessionmaker, staff, months(date(2024, 11, 1), 3), {ten: "5000.00", nine: "5000.00"})
    colleague = await register_person(client, admin_headers, born=date(1985, 5, 5))
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 4, 1), 10), {ten: "6000.00", colleague: "6000.00"}
    )
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 5, 1), 9), {nine: "6000.00", colleague: "6000.00"}
    )
    day = date(2026, 2, 23)
    # when
    for mother in (ten, nine):
        await settle(client, hospital.headers, delivery(mother, day, "vaginal", "1"), china(2026, 2, 23, 15))
    # then
    [near] = await allowances(sessionmaker, ten)
    [hit] = await allowances(sessionmaker, nine)
    assert (near.eligible, near.months_contributed, near.flags) == (True, 13, [])
    assert (hit.eligible, hit.months_contributed, hit.flags) == (True, 12, ["contributions_began_recently"])
    assert hit.daily_amount == 20_000  # 6,000.00 ÷ 30 at the new employer
    # and: a flagged allowance lists for review; an ineligible one cannot be approved
    r = await client.get("/api/v1/maternity-allowances", params={"id_number": nine}, headers=staff["finance"])
    assert r.json()[0]["flags"] == ["contributions_began_recently"]
    await run_settle(sessionmaker, day)


async def test_an_ineligible_or_unknown_allowance_cannot_be_approved(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    mother = await register_person(client, admin_headers, gender="F", born=date(1997, 7, 7))
    await employer_with(client, sessionmaker, staff, months(date(2026, 1, 1), 1), {mother: "5000.00"})
    day = date(2026, 2, 25)
    await settle(client, hospital.headers, delivery(mother, day, "vaginal", "1"), china(2026, 2, 25, 16))
    [a] = await allowances(sessionmaker, mother)
    payee = {"name": "产妇", "bank": "某银行", "account_no": "62284800123456"}
    r = await client.post(f"/api/v1/maternity-allowances/{a.id}/approve", json={"payee": payee}, headers=staff["clerk"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_STATE", r.text
    r = await client.post("/api/v1/maternity-allowances/nope/approve", json={"payee": payee}, headers=staff["clerk"])
    assert r.status_code == 404, r.text
    await run_settle(sessionmaker, day)


async def test_a_returned_allowance_transfer_is_reversed_and_paid_again_once_approved_with_the_right_account(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    # given: an allowance paid in a person order (batch 2026-02-26) to a closed account
    hospital = await own_institution(client, sessionmaker, admin_headers, level=2)
    mother = await register_person(client, admin_headers, gender="F", born=date(1990, 10, 10))
    colleague = await register_person(client, admin_headers, born=date(1980, 8, 8))
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 2, 1), 12), {mother: "3000.00", colleague: "3000.00"}
    )
    day = date(2026, 2, 26)
    await settle(client, hospital.headers, delivery(mother, day, "vaginal", "1"), china(2026, 2, 26, 10))
    await run_settle(sessionmaker, day)
    [a] = await allowances(sessionmaker, mother)
    assert a.amount == 10_000 * 98  # 3,000.00 ÷ 30 = 100.00 a day
    aid = str(a.id)

    async def pay_through_an_order(batch: str, account_no: str) -> int:
        payee = {"name": "产妇", "bank": "某银行", "account_no": account_no}
        r = await client.post(
            f"/api/v1/maternity-allowances/{aid}/approve", json={"payee": payee}, headers=staff["clerk"]
        )
        assert r.status_code == 200, r.text
        r = await client.post("/api/v1/payouts/person-orders", json={"batch_date": batch}, headers=staff["finance"])
        assert r.status_code == 201, r.text
        oid = int(r.json()["id"])
        for step in ("approve", "pay"):
            r = await client.post(f"/api/v1/payouts/person-orders/{oid}/{step}", headers=staff["finance2"])
            assert r.status_code == 200, r.text
        return oid

    first = await pay_through_an_order("2026-02-26", "62220000000000001")
    # when: the bank returns the transfer
    r = await client.post(
        f"/api/v1/payouts/person-orders/{first}/returns",
        json={"claim_id": aid, "reason": "账户已销户 account closed"},
        headers=staff["finance"],
    )
    assert r.status_code == 200, r.text
    # then: pending again (a new approval names the corrected account), and the spending is reversed
    r = await client.get(f"/api/v1/maternity-allowances/{aid}", headers=staff["clerk"])
    assert r.json()["status"] == "pending"
    second = await pay_through_an_order("2026-02-27", "62220000000000002")
    r = await client.get(f"/api/v1/maternity-allowances/{aid}", headers=staff["clerk"])
    assert (r.json()["status"], r.json()["paid_order_id"]) == ("paid", second)
    async with sessionmaker() as s:
        net = await s.scalar(
            select(func.sum(PostingRow.amount)).where(
                PostingRow.fund == "maternity",
                PostingRow.account == "claims",
                PostingRow.source.like(f"person_order:%:{a.allowance_no}%"),
            )
        )
    assert net == a.amount  # paid, returned, paid again: spent once


async def test_an_approved_maternity_claim_pays_the_maternity_fund_and_creates_the_allowance_once(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    from tests.claims.test_reimbursements import approve, claim_body, file
    from tests.claims.test_reimbursements import staff as staff_token

    # given: an employee who gave birth at a hospital outside the register and paid herself
    mother = await register_person(client, admin_headers, gender="F", born=date(1993, 9, 9))
    colleague = await register_person(client, admin_headers, born=date(1983, 3, 3))
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 2, 1), 12), {mother: "4500.00", colleague: "4500.00"}
    )
    day = "2026-02-10"
    body = claim_body(
        mother,
        [line("S-APPX", "2", "1500.00", day=day)],
        day=day,
        visit_type="maternity_inpatient",
        care={"name": "某县妇幼保健院", "region": "430522", "level": 2},
        kind="maternity",
    )
    body.update(admitted_on=day, discharged_on=day, delivery_type="vaginal", diagnoses=["O80"])
    clerk = await staff_token(sessionmaker, "clerk", f"mat-clerk-{secrets.token_hex(2)}")
    reviewer = await staff_token(sessionmaker, "first_reviewer", f"mat-rev-{secrets.token_hex(2)}")
    claim = await file(client, clerk, body)
    assert claim["fund_estimate"] == "3000.00"  # 3,000.00 policy range within the vaginal limit at level 2
    # when: approved (one approval below 10,000.00), and approved again
    r = await approve(client, reviewer, claim["id"])
    assert r.status_code == 200, r.text
    assert (await approve(client, reviewer, claim["id"])).status_code == 409
    # then: the manual settlement is paid by the maternity fund, and one allowance (98 days × 150.00)
    s = (await client.get(f"/api/v1/settlements/{r.json()['settlement_id']}", headers=admin_headers)).json()
    assert (s["totals"]["maternity_fund"], s["totals"]["basic_fund"]) == ("3000.00", "0.00")
    [a] = await allowances(sessionmaker, mother)
    assert (str(a.settlement_id), a.status, a.amount) == (r.json()["settlement_id"], "pending", 15_000 * 98)


async def the_allowance(client: httpx.AsyncClient, staff: dict[str, dict[str, str]], idn: str) -> dict[str, Any]:
    """The one allowance of a mother, as staff see it."""
    r = await client.get("/api/v1/maternity-allowances", params={"id_number": idn}, headers=staff["clerk"])
    assert r.status_code == 200, r.text
    [found] = r.json()
    return dict(found)


async def _pay_through_an_order(
    client: httpx.AsyncClient, staff: dict[str, dict[str, str]], allowance: str, batch_date: str
) -> int:
    """Approve the allowance and put it in an approved person order of ``batch_date`` (one order
    per batch date: each test uses its own)."""
    payee = {"name": "产妇", "bank": "农业银行溆浦支行", "account_no": "6228480012345678901"}
    r = await client.post(
        f"/api/v1/maternity-allowances/{allowance}/approve", json={"payee": payee}, headers=staff["clerk"]
    )
    assert r.status_code == 200, r.text
    r = await client.post("/api/v1/payouts/person-orders", json={"batch_date": batch_date}, headers=staff["finance"])
    assert r.status_code in (200, 201), r.text
    order = r.json()["id"]
    assert allowance in [ln["claim_id"] for ln in r.json()["lines"]]
    assert (
        await client.post(f"/api/v1/payouts/person-orders/{order}/approve", headers=staff["finance2"])
    ).status_code == 200
    return int(order)


async def test_an_allowance_paid_before_its_delivery_is_cancelled_is_owed_back_and_recovered_once(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    # given: a delivery whose allowance (23,520.00) was paid to the mother by a person order
    hospital = await own_institution(client, sessionmaker, admin_headers, level=3)
    mother = await register_person(client, admin_headers, gender="F", born=date(1993, 3, 3))
    colleague = await register_person(client, admin_headers, born=date(1987, 7, 7))
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 2, 1), 12), {mother: "7200.00", colleague: "7200.00"}
    )
    day = date(2026, 2, 21)
    bill = await settle(client, hospital.headers, delivery(mother, day, "vaginal", "2"), china(2026, 2, 21, 10))
    await run_settle(sessionmaker, day)
    a = await the_allowance(client, staff, mother)
    order = await _pay_through_an_order(client, staff, a["id"], "2026-03-12")
    paid = await client.post(f"/api/v1/payouts/person-orders/{order}/pay", headers=staff["finance2"])
    assert paid.status_code == 200, paid.text
    # when: the hospital cancels the delivery bill
    await cancel(client, hospital.headers, bill["settlement_id"], china(2026, 3, 5, 9))
    await run_settle(sessionmaker, date(2026, 3, 5))
    # then: the allowance stays paid and is owed back, listed as due
    r = await client.get(f"/api/v1/maternity-allowances/{a['id']}", headers=staff["clerk"])
    assert r.json()["status"] == "paid" and r.json()["delivery_cancelled_at"], r.text
    assert r.json()["recovery"] == {
        "status": "due",
        "amount": "23520.00",
        "recovered_at": None,
        "recovered_by": None,
        "reference": None,
    }
    due = await client.get("/api/v1/maternity-allowances", params={"recovery": "due"}, headers=staff["finance"])
    assert a["id"] in [x["id"] for x in due.json()]
    # when: a clerk tries to record the money back, then finance records it, twice
    body = {"reference": "HK20260310-0001"}
    by_clerk = await client.post(f"/api/v1/maternity-allowances/{a['id']}/recovery", json=body, headers=staff["clerk"])
    first = await client.post(f"/api/v1/maternity-allowances/{a['id']}/recovery", json=body, headers=staff["finance"])
    again = await client.post(f"/api/v1/maternity-allowances/{a['id']}/recovery", json=body, headers=staff["finance"])
    # then: only finance may; the maternity fund's spending is reversed once; the retry answers the same
    assert by_clerk.status_code == 403, by_clerk.text
    assert first.status_code == 200 and first.json()["recovery"]["status"] == "recovered", first.text
    assert again.json() == first.json()
    async with sessionmaker() as s:
        legs = (
            await s.execute(
                select(PostingRow.account, PostingRow.amount).where(
                    PostingRow.movement == "maternity_allowance_recovery",
                    PostingRow.source == f"maternity_recovery:{a['allowance_no']}",
                )
            )
        ).all()
    assert sorted(map(tuple, legs)) == [("bank", 2_352_000), ("claims", -2_352_000)]
    recovered = await client.get(
        "/api/v1/maternity-allowances", params={"recovery": "recovered"}, headers=staff["finance"]
    )
    assert a["id"] in [x["id"] for x in recovered.json()]


async def test_a_cancelled_delivery_voids_an_unpaid_allowance_and_one_in_an_order_is_owed_once_paid(
    client: httpx.AsyncClient,
    sessionmaker,
    admin_headers,
    staff,  # type: ignore[no-untyped-def]
) -> None:
    # given: two mothers' deliveries; the first allowance is only pending, the second in an
    # approved person order that is not paid yet
    hospital = await own_institution(client, sessionmaker, admin_headers, level=3)
    first = await register_person(client, admin_headers, gender="F", born=date(1994, 4, 4))
    second = await register_person(client, admin_headers, gender="F", born=date(1995, 5, 5))
    await employer_with(
        client, sessionmaker, staff, months(date(2025, 2, 1), 12), {first: "6000.00", second: "6000.00"}
    )
    day = date(2026, 2, 22)
    b1 = await settle(client, hospital.headers, delivery(first, day, "vaginal", "2"), china(2026, 2, 22, 10))
    b2 = await settle(client, hospital.headers, delivery(second, day, "vaginal", "2"), china(2026, 2, 22, 11))
    await run_settle(sessionmaker, day)
    a1 = await the_allowance(client, staff, first)
    a2 = await the_allowance(client, staff, second)
    order = await _pay_through_an_order(client, staff, a2["id"], "2026-03-13")
    # when: both delivery bills are cancelled, then the order is paid
    await cancel(client, hospital.headers, b1["settlement_id"], china(2026, 3, 1, 9))
    await cancel(client, hospital.headers, b2["settlement_id"], china(2026, 3, 1, 9))
    await run_settle(sessionmaker, date(2026, 3, 1))
    mid = (await client.get(f"/api/v1/maternity-allowances/{a2['id']}", headers=staff["clerk"])).json()
    paid = await client.post(f"/api/v1/payouts/person-orders/{order}/pay", headers=staff["finance2"])
    assert paid.status_code == 200, paid.text
    # then: the pending one is void with nothing owed; the ordered one was left to its order and,
    # once paid, is owed back
    one = (await client.get(f"/api/v1/maternity-allowances/{a1['id']}", headers=staff["clerk"])).json()
    two = (await client.get(f"/api/v1/maternity-allowances/{a2['id']}", headers=staff["clerk"])).json()
    assert (one["status"], one["recovery"]) == ("void", None)
    assert (mid["status"], mid["recovery"]) == ("approved", None)
    assert (two["status"], two["recovery"]["status"], two["recovery"]["amount"]) == ("paid", "due", a2["amount"])
    # and: a bank return of that transfer leaves nothing owed (the money is back): void
    r = await client.post(
        f"/api/v1/payouts/person-orders/{order}/returns",
        json={"claim_id": a2["id"], "reason": "账户已销户 account closed"},
        headers=staff["finance"],
    )
    assert r.status_code == 200, r.text
    two = (await client.get(f"/api/v1/maternity-allowances/{a2['id']}", headers=staff["clerk"])).json()
    assert (two["status"], two["recovery"]) == ("void", None)
