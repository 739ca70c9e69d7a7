"""Employers, monthly contributions, derived employee enrolments and account credits, through HTTP."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, select

from tests.builders import idem, line, make_bill, new_id_number, register_person
from yibao.accounts.orm import AccountMovementRow, PersonalAccountRow
from yibao.bill_settlement.orm import SettlementRow
from yibao.employers.credit_code import CHARSET, make
from yibao.employers.orm import ContributionPostingRow, EmployerRow
from yibao.enrolment.orm import EnrolmentRow
from yibao.people.orm import PersonRow


def new_code() -> str:
    """A valid, random unified social credit code (91 = enterprise, region 430522)."""
    return make("91430522" + "".join(secrets.choice(CHARSET) for _ in range(9)))


@pytest_asyncio.fixture(scope="session")
async def staff(sessionmaker) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from yibao.auth.tokens import create_staff_token

    out = {}
    for role in ("clerk", "finance", "inspector"):
        async with sessionmaker() as s, s.begin():
            out[role] = {"Authorization": f"Bearer {await create_staff_token(s, role, f'{role}-emp')}"}
    return out


async def person(client: httpx.AsyncClient, admin: dict[str, str], **kw: Any) -> str:
    return await register_person(client, admin, name="赵六", **kw)


async def employer(client: httpx.AsyncClient, clerk: dict[str, str]) -> str:
    code = new_code()
    r = await client.post(
        "/api/v1/employers", json={"code": code, "name": "某机械厂", "region": "430522"}, headers=clerk
    )
    assert r.status_code == 201, r.text
    return code


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, month: str, lines: list[dict[str, Any]]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/employers/{code}/contributions", json={"month": month, "lines": lines}, headers=headers
    )


async def balance(sessionmaker, idn: str) -> int | None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await s.scalar(
            select(PersonalAccountRow.balance)
            .join(PersonRow, PersonRow.id == PersonalAccountRow.person_id)
            .where(PersonRow.id_number == idn)
        )


async def enrolments(sessionmaker, idn: str, year: int = 2026) -> dict[str, EnrolmentRow]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        rows = await s.scalars(
            select(EnrolmentRow)
            .join(PersonRow, PersonRow.id == EnrolmentRow.person_id)
            .where(PersonRow.id_number == idn, EnrolmentRow.year == year)
        )
        return {r.scheme: r for r in rows}


# ---------------------------------------------------------------- employers


async def test_register_is_idempotent_on_the_code_and_checks_it(client, staff) -> None:
    # given
    code = new_code()
    body = {"code": code.lower(), "name": "某机械厂", "region": "430522"}
    # when
    first = await client.post("/api/v1/employers", json=body, headers=staff["clerk"])
    again = await client.post("/api/v1/employers", json=body, headers=staff["clerk"])
    other = await client.post("/api/v1/employers", json=body | {"name": "别的厂"}, headers=staff["clerk"])
    bad = await client.post(
        "/api/v1/employers", json=body | {"code": code[:17] + ("0" if code[17] != "0" else "1")}, headers=staff["clerk"]
    )
    finance = await client.post("/api/v1/employers", json=body, headers=staff["finance"])
    # then
    assert first.status_code == 201 and first.json()["created"] is True and first.json()["code"] == code
    assert again.status_code == 200 and again.json()["created"] is False
    assert other.status_code == 409 and other.json()["error"]["code"] == "DUPLICATE"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST"
    assert finance.status_code == 403
    got = await client.get(f"/api/v1/employers/{code}", headers=staff["finance"])
    assert got.status_code == 200 and got.json()["name"] == "某机械厂"
    missing = await client.get(f"/api/v1/employers/{new_code()}", headers=staff["clerk"])
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


# ---------------------------------------------------------------- contributions


async def test_amounts_to_the_fen_and_account_credit(client, admin_headers, staff, sessionmaker) -> None:
    # given
    code = await employer(client, staff["clerk"])
    a, b = await person(client, admin_headers), await person(client, admin_headers)
    # when: 5,000.00 → 8% / 2% / the employee part to the account; 3,333.33 shows half-up rounding
    r = await post(
        client,
        staff["finance"],
        code,
        "2026-03",
        [{"id_number": a, "base": "5000.00"}, {"id_number": b, "base": "3333.33"}],
    )
    # then
    assert r.status_code == 201, r.text
    body = r.json()
    by = {ln["id_number"]: ln for ln in body["lines"]}
    assert (by[a]["employer_part"], by[a]["employee_part"], by[a]["account_credit"]) == ("400.00", "100.00", "100.00")
    # 333333 × 0.08 = 26666.64 → 26667 fen; 333333 × 0.02 = 6666.66 → 6667 fen
    assert (by[b]["employer_part"], by[b]["employee_part"], by[b]["account_credit"]) == ("266.67", "66.67", "66.67")
    assert (body["employer_total"], body["employee_total"], body["account_total"]) == ("666.67", "166.67", "166.67")
    assert body["created"] is True and body["month"] == "2026-03" and body["line_count"] == 2
    assert body["credit_reference"] == f"contrib:{code}:2026-03"
    assert await balance(sessionmaker, a) == 10000 and await balance(sessionmaker, b) == 6667


async def test_retry_replays_and_credits_once_conflict_is_409(client, admin_headers, staff, sessionmaker) -> None:
    # given
    code = await employer(client, staff["clerk"])
    a, b = await person(client, admin_headers), await person(client, admin_headers)
    lines = [{"id_number": a, "base": "5000.00"}, {"id_number": b, "base": "6000.00"}]
    first = await post(client, staff["finance"], code, "2026-04", lines)
    # when: the same lines in another order, then other lines for the same month
    again = await post(client, staff["clerk"], code, "2026-04", list(reversed(lines)))
    conflict = await post(client, staff["finance"], code, "2026-04", [{"id_number": a, "base": "5100.00"}])
    # then
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["posting_id"] == first.json()["posting_id"]
    assert again.json()["account_total"] == first.json()["account_total"] == "220.00"
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert await balance(sessionmaker, a) == 10000
    async with sessionmaker() as s:
        moves = await s.scalar(
            select(func.count())
            .select_from(AccountMovementRow)
            .where(AccountMovementRow.reference == f"contrib:{code}:2026-04")
        )
    assert moves == 2


async def test_stored_fingerprint_is_the_canonical_form_of_the_posted_lines(
    client, admin_headers, staff, sessionmaker
) -> None:
    """What a retry is compared with: the month, then [ID, base in fen, retiree] sorted by ID, as compact
    JSON (the unit tests pin the digest of a fixed body). Yuan on the wire become integer fen."""
    # given
    code = await employer(client, staff["clerk"])
    a, b = sorted([await person(client, admin_headers), await person(client, admin_headers)])
    # when: listed in reverse order, bases in yuan
    r = await post(
        client,
        staff["finance"],
        code,
        "2026-06",
        [{"id_number": b, "base": "3333.33"}, {"id_number": a, "base": "5000.00", "retiree": False}],
    )
    # then
    assert r.status_code == 201, r.text
    canonical = f'["2026-06",[["{a}",500000,false],["{b}",333333,false]]]'
    async with sessionmaker() as s:
        stored = await s.scalar(
            select(ContributionPostingRow.request_hash)
            .join(EmployerRow, EmployerRow.id == ContributionPostingRow.employer_id)
            .where(EmployerRow.code == code)
        )
    assert stored == hashlib.sha256(canonical.encode()).hexdigest()


async def test_unknown_person_duplicate_line_and_roles_are_refused(client, admin_headers, staff, sessionmaker) -> None:
    # given
    code = await employer(client, staff["clerk"])
    known = await person(client, admin_headers)
    stranger = new_id_number()
    # when
    unknown = await post(
        client,
        staff["finance"],
        code,
        "2026-05",
        [{"id_number": known, "base": "5000.00"}, {"id_number": stranger, "base": "1.00"}],
    )
    twice = await post(
        client,
        staff["finance"],
        code,
        "2026-05",
        [{"id_number": known, "base": "5000.00"}, {"id_number": known, "base": "1.00"}],
    )
    zero = await post(client, staff["finance"], code, "2026-05", [{"id_number": known, "base": "0.00"}])
    inspector = await post(client, staff["inspector"], code, "2026-05", [{"id_number": known, "base": "5000.00"}])
    no_employer = await post(client, staff["finance"], new_code(), "2026-05", [{"id_number": known, "base": "1.00"}])
    bad_month = await post(client, staff["finance"], code, "2026-13", [{"id_number": known, "base": "1.00"}])
    # then: nothing was written by the refused requests
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "PERSON_NOT_FOUND"
    assert "line 2" in unknown.json()["error"]["message"]
    assert twice.status_code == 400 and "line 2" in twice.json()["error"]["message"]
    assert zero.status_code == 400 and zero.json()["error"]["code"] == "INVALID_REQUEST"
    assert inspector.status_code == 403
    assert no_employer.status_code == 404 and no_employer.json()["error"]["code"] == "NOT_FOUND"
    assert bad_month.status_code == 400
    assert await balance(sessionmaker, known) is None
    assert await enrolments(sessionmaker, known) == {}


async def test_enrolment_is_derived_and_retiree_keeps_the_account(client, admin_headers, staff, sessionmaker) -> None:
    # given
    code = await employer(client, staff["clerk"])
    worker = await person(client, admin_headers)
    # when: April, then March posted late (the earliest month wins), then May as a retiree (base 0)
    r4 = await post(client, staff["finance"], code, "2026-04", [{"id_number": worker, "base": "5000.00"}])
    after_april = (await enrolments(sessionmaker, worker))["employee"]
    r3 = await post(client, staff["finance"], code, "2026-03", [{"id_number": worker, "base": "5000.00"}])
    r5 = await post(client, staff["finance"], code, "2026-05", [{"id_number": worker, "base": "0.00", "retiree": True}])
    # then
    assert r4.status_code == r3.status_code == r5.status_code == 201, (r4.text, r3.text, r5.text)
    assert str(after_april.coverage_start) == "2026-04-01" and after_april.retiree is False
    e = (await enrolments(sessionmaker, worker))["employee"]
    assert (str(e.coverage_start), e.coverage_reason, e.source, e.waiting_months) == (
        "2026-03-01",
        "EMPLOYEE_CONTRIBUTION",
        "employer",
        0,
    )
    assert e.retiree is True
    assert r5.json()["lines"][0]["account_credit"] == "0.00"
    assert await balance(sessionmaker, worker) == 20000  # March + April credits, kept on retirement


async def test_employee_settles_from_the_account_and_a_scheme_move_keeps_one_person(
    client, admin_headers, staff, sessionmaker, hospital
) -> None:
    # given: a resident for 2026 who starts a job in March
    idn = await person(client, admin_headers)
    r = await client.post(
        "/api/v1/enrolments",
        json={"id_number": idn, "scheme": "resident", "year": 2026, "coverage_start": "2026-01-01"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    code = await employer(client, staff["clerk"])
    # when
    posted = await post(client, staff["finance"], code, "2026-03", [{"id_number": idn, "base": "5000.00"}])
    again = await client.post(
        "/api/v1/persons", json={"id_number": idn, "name": "赵六", "region": "430522"}, headers=admin_headers
    )
    march = await client.post(
        "/api/v1/settlements",
        json=make_bill(
            idn, [line("S-CTHD", "1", "180.00", day="2026-03-08")], service_date="2026-03-08", use_personal_account=True
        ),
        headers={**hospital, **idem()},
    )
    february = await client.post(
        "/api/v1/settlements",
        json=make_bill(idn, [line("S-CTHD", "1", "180.00", day="2026-02-08")], service_date="2026-02-08"),
        headers={**hospital, **idem()},
    )
    # then: one person, both enrolments; the service date picks the scheme
    assert posted.status_code == 201, posted.text
    assert again.status_code == 409  # the ID is the person's key: no second record
    rows = await enrolments(sessionmaker, idn)
    assert set(rows) == {"resident", "employee"}
    assert str(rows["resident"].coverage_start) == "2026-01-01"
    assert march.status_code == 201, march.text
    assert february.status_code == 201, february.text
    # employee outpatient: 200 deductible not reached, fund 0; the 100.00 credited pays 100 of the 180
    assert march.json()["totals"]["personal_account"] == "100.00"
    assert await balance(sessionmaker, idn) == 0
    async with sessionmaker() as s:
        people = await s.scalar(select(func.count()).select_from(PersonRow).where(PersonRow.id_number == idn))
        schemes = {
            d: scheme
            for d, scheme in (
                await s.execute(
                    select(SettlementRow.service_date, SettlementRow.scheme).where(
                        SettlementRow.id.in_(
                            [uuid.UUID(march.json()["settlement_id"]), uuid.UUID(february.json()["settlement_id"])]
                        )
                    )
                )
            )
        }
    assert people == 1
    assert sorted(schemes.values()) == ["employee", "resident"]


async def test_list_is_keyset_paginated_newest_first(client, admin_headers, staff) -> None:
    # given
    code = await employer(client, staff["clerk"])
    idn = await person(client, admin_headers)
    for month in ("2026-01", "2026-02", "2026-03"):
        r = await post(client, staff["clerk"], code, month, [{"id_number": idn, "base": "4000.00"}])
        assert r.status_code == 201, r.text
    # when
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/api/v1/employers/{code}/contributions", params=params, headers=staff["finance"])
        assert page.status_code == 200, page.text
        seen += [p["month"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    # then
    assert seen == ["2026-03", "2026-02", "2026-01"]
    bad = await client.get(f"/api/v1/employers/{code}/contributions?cursor=x", headers=staff["finance"])
    assert bad.status_code == 400


async def test_policy_waiting_months_apply_once_per_run(client, admin_headers, staff, sessionmaker) -> None:
    """A policy with waiting_months = 2 (the default has 0): a new contributor from March is covered
    from May, April's posting does not shorten that, and a gap starts a new run."""
    from datetime import date

    from yibao.employers import service
    from yibao.employers.rules import LineIn
    from yibao.money import Fen
    from yibao.policy.params import ContributionParams

    # given
    code = await employer(client, staff["clerk"])
    idn = await person(client, admin_headers)
    params = ContributionParams(waiting_months=2)
    async with sessionmaker() as s:
        emp = await service.get(s, code)
        # when
        for month in (date(2026, 3, 1), date(2026, 4, 1)):
            await service.post_month(s, emp, month, [LineIn(idn, Fen(500_000))], params)
        e = (
            await s.scalars(
                select(EnrolmentRow)
                .join(PersonRow, PersonRow.id == EnrolmentRow.person_id)
                .where(PersonRow.id_number == idn, EnrolmentRow.year == 2026)
            )
        ).one()
        # then
        assert (str(e.coverage_start), e.coverage_reason, e.waiting_months) == ("2026-05-01", "EMPLOYEE_WAITING", 2)
        await s.rollback()
