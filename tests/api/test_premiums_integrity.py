"""A premium buys coverage or is refused (issue 13, items 1–5), through HTTP.

A payment never rewrites an enrolment that is already there; the quote says when coverage
would start and a payment whose coverage cannot start inside its year is refused; the member
app's ``Idempotency-Key`` replays or conflicts; a pay-back shortens a wait that has not ended,
whatever the order of payments; payments that can never help are refused, each with its code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.api.test_members import enrolment, login, pay, payments, register
from yibao import clock
from yibao.audit.orm import AuditRow
from yibao.enrolment.orm import EnrolmentRow
from yibao.people.orm import PersonRow
from yibao.premiums.orm import PremiumPaymentRow


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    """Move the business clock; the wall clock comes back afterwards, even on failure."""
    at = [datetime.now(UTC)]
    clock.set_clock(lambda: at[0])
    try:
        yield at
    finally:
        clock.set_clock(None)


def beijing_morning(d: date) -> datetime:
    """10:00 in Beijing on ``d`` (02:00 UTC): the business date is ``d``."""
    return datetime(d.year, d.month, d.day, 2, tzinfo=UTC)


async def staff_enrol(client: httpx.AsyncClient, admin: dict[str, str], idn: str, year: int, start: str) -> None:
    body = {"id_number": idn, "scheme": "resident", "year": year, "coverage_start": start}
    r = await client.post("/api/v1/enrolments", json=body, headers=admin)
    assert r.status_code == 201, r.text


def refused(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert (r.status_code, r.json().get("error", {}).get("code")) == (status, code), r.text
    return r.json()["error"]  # type: ignore[no-any-return]


async def app_pay(
    client: httpx.AsyncClient, me: dict[str, str], key: str, year: int, ref: str, amount: str = "400.00"
) -> httpx.Response:
    body = {"year": year, "amount": amount, "source": "app", "payment_reference": ref}
    return await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, "Idempotency-Key": key})


async def audited(sessionmaker: Any, idn: str, prefix: str = "enrolment.") -> list[AuditRow]:
    """The audit entries about the person's enrolments, oldest first."""
    async with sessionmaker() as s:
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == idn))
        rows = await s.scalars(
            select(AuditRow)
            .where(
                AuditRow.subject_type == "person",
                AuditRow.subject_id == str(pid),
                AuditRow.action.startswith(prefix),
            )
            .order_by(AuditRow.id)
        )
        return list(rows)


def codes(quote: dict[str, Any]) -> list[str]:
    return [w["code"] for w in quote["warnings"]]


# ---------------------------------------------------------------- 1. an enrolment already there stays


async def test_a_payment_for_a_year_already_enrolled_is_refused_and_changes_nothing(
    client, admin_headers, frozen
) -> None:
    # given: staff enrolled the person for 2026 from Jan 1 (README "Try one bill"); today 2026-12-03
    idn = await register(client, admin_headers)
    await staff_enrol(client, admin_headers, idn, 2026, "2026-01-01")
    me = await login(client, admin_headers, idn)
    frozen[0] = beijing_morning(date(2026, 12, 3))
    # when: the member asks what is due, pays through the app, and a bank pays in the window
    due = await client.get("/api/v1/me/premiums/2026", headers=me)
    in_app = await app_pay(client, me, "k-enrolled-" + idn, 2026, "WX-ENR-" + idn)
    by_bank = await pay(client, admin_headers, idn, "400.00", "2025-10-15")
    # then: the quote says so, both payments are refused, and the staff enrolment is untouched
    assert due.status_code == 200, due.text
    assert (due.json()["payable"], codes(due.json())) == (False, ["ALREADY_ENROLLED"])
    assert "2026-01-01" in due.json()["warnings"][0]["message"]
    refused(in_app, 409, "ALREADY_ENROLLED")
    refused(by_bank, 409, "ALREADY_ENROLLED")
    e = await enrolment(client, me)
    assert (e["coverage_start"], e["coverage_reason"], e["waiting_months"]) == ("2026-01-01", "STAFF", 0)
    assert await payments(client, me) == []


async def test_every_change_of_a_premium_enrolment_is_audited_with_before_and_after(
    client, admin_headers, frozen, sessionmaker
) -> None:
    # given: a resident paying in the 2026 window
    idn = await register(client, admin_headers)
    r = await pay(client, admin_headers, idn, "400.00", "2025-10-15")
    assert r.status_code == 201, r.text
    # when: the payment is refunded before the year starts
    frozen[0] = beijing_morning(date(2025, 12, 1))
    ok = await client.post(f"/api/v1/premiums/payments/{r.json()['payment_id']}/refund", headers=admin_headers)
    assert ok.status_code == 200, ok.text
    # then: the enrolment the payment created, and its removal, are audited with before and after
    entries = await audited(sessionmaker, idn)
    assert [a.action for a in entries] == ["enrolment.derived", "enrolment.removed"]
    created, removed = (a.detail for a in entries)
    assert created["before"] is None and removed["after"] is None
    assert created["after"]["coverage_start"] == removed["before"]["coverage_start"] == "2026-01-01"
    assert created["after"]["coverage_reason"] == "IN_WINDOW" and created["after"]["source"] == "premium"
    assert (created["year"], created["scheme"]) == (2026, "resident")


# ---------------------------------------------------------------- 2. no one pays for a coverage that cannot start


async def test_the_quote_says_when_coverage_would_start_and_warns_outside_the_year(
    client, admin_headers, frozen
) -> None:
    # given: a first-time resident, today 2026-12-03 (the 2026 window closed on 2025-12-31)
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    frozen[0] = beijing_morning(date(2026, 12, 3))
    # when: the member and a clerk ask (the clerk for a payment made on 2026-03-10)
    late = await client.get("/api/v1/me/premiums/2026", headers=me)
    staff = await client.get(
        f"/api/v1/premiums/due?id_number={idn}&year=2026&paid_on=2026-03-10", headers=admin_headers
    )
    # then: today a 3-month wait would end on 2027-03-03, after the year: not payable, pay for 2027 instead
    assert late.status_code == 200, late.text
    q = late.json()
    assert (q["due"], q["paid_on"], q["coverage_start"], q["coverage_reason"], q["waiting_months"]) == (
        "400.00",
        "2026-12-03",
        "2027-03-03",
        "WAITING_OUTSIDE_WINDOW",
        3,
    )
    assert (q["payable"], codes(q)) == (False, ["COVERAGE_CANNOT_START"])
    assert "2027" in q["warnings"][0]["message"]
    # paid on 2026-03-10 it would have covered from 2026-06-10, inside the year
    assert staff.status_code == 200, staff.text
    s = staff.json()
    assert (s["coverage_start"], s["coverage_reason"], s["payable"], s["warnings"]) == (
        "2026-06-10",
        "WAITING_OUTSIDE_WINDOW",
        True,
        [],
    )


@pytest.mark.parametrize(
    ("paid_on", "status", "start"),
    [
        ("2026-09-30", 201, "2026-12-30"),  # 3 months later is still inside 2026
        ("2026-10-01", 422, None),  # 3 months later is 2027-01-01: never covered in 2026
    ],
)
async def test_a_payment_whose_coverage_cannot_start_inside_its_year_is_refused(
    client, admin_headers, frozen, paid_on, status, start
) -> None:
    # given: a first-time resident paying 2026 outside its window; today 2026-12-03
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    frozen[0] = beijing_morning(date(2026, 12, 3))
    # when
    r = await pay(client, admin_headers, idn, "400.00", paid_on)
    # then
    assert r.status_code == status, r.text
    if start is None:
        error = refused(r, 422, "COVERAGE_CANNOT_START")
        assert "2027" in error["message"]
        assert await payments(client, me) == []
        assert (await enrolment(client, me))["enrolled"] is False
    else:
        assert r.json()["enrolment"]["coverage_start"] == start


async def test_a_payment_already_taken_for_a_coverage_that_never_starts_is_refundable(
    client, admin_headers, frozen, sessionmaker
) -> None:
    # given: a payment taken before this fix: 2026 paid on 2026-12-03, covered "from 2027-03-03"
    idn = await register(client, admin_headers)
    async with sessionmaker() as s, s.begin():
        pid = await s.scalar(select(PersonRow.id).where(PersonRow.id_number == idn))
        row = PremiumPaymentRow(
            person_id=pid,
            year=2026,
            kind="current",
            channel="app",
            reference="WX-LEGACY-" + idn,
            payer_person_id=pid,
            premium=40000,
            subsidy=0,
            amount=40000,
            paid_on=date(2026, 12, 3),
            status="paid",
        )
        s.add(row)
        s.add(
            EnrolmentRow(
                person_id=pid,
                scheme="resident",
                year=2026,
                coverage_start=date(2027, 3, 3),
                coverage_reason="WAITING_OUTSIDE_WINDOW",
                waiting_months=3,
                source="premium",
            )
        )
        await s.flush()
        payment_id = row.id
    frozen[0] = beijing_morning(date(2026, 12, 4))
    # when: a refund is asked during the coverage year
    r = await client.post(f"/api/v1/premiums/payments/{payment_id}/refund", headers=admin_headers)
    # then: refunded, and the enrolment that never covered a day is gone
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    me = await login(client, admin_headers, idn)
    assert (await enrolment(client, me))["enrolled"] is False


# ---------------------------------------------------------------- 3. Idempotency-Key on payments


async def test_the_app_replays_the_same_key_and_refuses_another_body(client, admin_headers, frozen) -> None:
    # given: a member paying 2026 in its window with key k1
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    frozen[0] = beijing_morning(date(2025, 10, 15))
    key = "k1-" + idn
    first = await app_pay(client, me, key, 2026, "WX-A-" + idn)
    # when: the same key with the same body, then with another year and reference, then from the account
    again = await app_pay(client, me, key, 2026, "WX-A-" + idn)
    other = await app_pay(client, me, key, 2025, "WX-B-" + idn)
    body = {"year": 2026, "amount": "400.00", "source": "account"}
    from_account = await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, "Idempotency-Key": key})
    # then: one payment; the replay is the first answer; the other bodies are conflicts
    assert first.status_code == 201 and first.json()["created"] is True, first.text
    assert again.status_code == 201, again.text
    assert {**again.json(), "created": True} == first.json() and again.json()["created"] is False
    refused(other, 409, "IDEMPOTENCY_CONFLICT")
    refused(from_account, 409, "IDEMPOTENCY_CONFLICT")
    assert await payments(client, me) == [(first.json()["payment_id"], "paid")]


async def test_concurrent_requests_with_one_key_pay_once(client, admin_headers, frozen) -> None:
    # given: a member whose app sends the same payment twice at once (a double tap)
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    frozen[0] = beijing_morning(date(2025, 10, 15))
    # when
    answers = await asyncio.gather(*(app_pay(client, me, "tap-" + idn, 2026, "WX-TAP-" + idn) for _ in range(2)))
    # then: one payment, answered twice
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert sorted(a.json()["created"] for a in answers) == [False, True]
    assert len({a.json()["payment_id"] for a in answers}) == 1
    assert len(await payments(client, me)) == 1


async def test_an_idempotency_key_is_scoped_to_the_member(client, admin_headers, frozen) -> None:
    # given: two members using the same key for their own payments
    a, b = await register(client, admin_headers), await register(client, admin_headers)
    me_a, me_b = await login(client, admin_headers, a), await login(client, admin_headers, b)
    frozen[0] = beijing_morning(date(2025, 10, 15))
    key = "shared-" + a
    # when
    paid_a = await app_pay(client, me_a, key, 2026, "WX-SA-" + a)
    paid_b = await app_pay(client, me_b, key, 2026, "WX-SB-" + b)
    # then: each is a first payment of its own
    assert paid_a.status_code == paid_b.status_code == 201, (paid_a.text, paid_b.text)
    assert paid_a.json()["created"] is paid_b.json()["created"] is True
    assert paid_a.json()["payment_id"] != paid_b.json()["payment_id"]


async def test_a_channel_reference_with_another_body_is_a_conflict(client, admin_headers) -> None:
    # given: a proxy payment recorded by a village agent
    idn = await register(client, admin_headers)
    ref = "VILLAGE-" + idn
    body = {
        "id_number": idn,
        "year": 2026,
        "channel": "proxy",
        "reference": ref,
        "amount": "400.00",
        "paid_on": "2025-10-15",
        "agent": "李四",
    }
    first = await client.post("/api/v1/premiums/payments", json=body, headers=admin_headers)
    assert first.status_code == 201, first.text
    # when: the same body, the same without paid_on, then another paid_on and another agent
    same = await client.post("/api/v1/premiums/payments", json=body, headers=admin_headers)
    other_day = await client.post(
        "/api/v1/premiums/payments", json={**body, "paid_on": "2025-10-16"}, headers=admin_headers
    )
    other_agent = await client.post("/api/v1/premiums/payments", json={**body, "agent": "王五"}, headers=admin_headers)
    # then
    assert same.status_code == 201 and same.json()["created"] is False, same.text
    assert same.json()["payment_id"] == first.json()["payment_id"]
    refused(other_day, 409, "IDEMPOTENCY_CONFLICT")
    refused(other_agent, 409, "IDEMPOTENCY_CONFLICT")


# ---------------------------------------------------------------- 4. the order of payments does not matter


async def lapsed_since_2023(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    """A resident enrolled in 2023 who let 2024 and 2025 lapse."""
    idn = await register(client, admin)
    await staff_enrol(client, admin, idn, 2023, "2023-01-01")
    return idn


async def test_a_payback_after_the_current_payment_shortens_the_wait(
    client, admin_headers, frozen, sessionmaker
) -> None:
    # given: two residents lapsed 2024–2025, both paying 2026 and both lapsed years on 2026-01-20
    frozen[0] = beijing_morning(date(2026, 1, 20))
    current_first, paybacks_first = [await lapsed_since_2023(client, admin_headers) for _ in range(2)]
    # when: one pays 2026 first, then the pay-backs; the other the other way round
    current = await pay(client, admin_headers, current_first, "400.00", "2026-01-20")
    backs = [
        await pay(client, admin_headers, current_first, "400.00", "2026-01-20", year=y, ref=f"BACK-{y}-{current_first}")
        for y in (2024, 2025)
    ]
    replay = await pay(
        client, admin_headers, current_first, "400.00", "2026-01-20", year=2025, ref=backs[-1].json()["reference"]
    )
    for y in (2024, 2025):
        assert (await pay(client, admin_headers, paybacks_first, "400.00", "2026-01-20", year=y)).status_code == 201
    later = await pay(client, admin_headers, paybacks_first, "400.00", "2026-01-20")
    # then: 5 months' wait before the pay-backs …
    assert current.status_code == 201, current.text
    assert (current.json()["enrolment"]["coverage_start"], current.json()["enrolment"]["waiting_months"]) == (
        "2026-06-20",
        5,
    )
    # … and both end covered from 2026-04-20 (3 fixed months, nothing variable left)
    assert [b.status_code for b in backs] == [201, 201], [b.text for b in backs]
    assert backs[-1].json()["kind"] == "payback"
    assert backs[-1].json()["enrolment"]["year"] == 2026
    assert backs[-1].json()["enrolment"]["coverage_start"] == "2026-04-20"
    assert replay.json()["created"] is False and replay.json()["enrolment"] == backs[-1].json()["enrolment"]
    for idn in (current_first, paybacks_first):
        e = await enrolment(client, await login(client, admin_headers, idn))
        assert (e["coverage_start"], e["coverage_reason"], e["waiting_months"]) == (
            "2026-04-20",
            "WAITING_LAPSED",
            3,
        )
        assert "2 paid back" in e["coverage_detail"]
    assert later.json()["enrolment"]["coverage_start"] == "2026-04-20"
    # and each recomputation is audited with before and after
    recomputed = [a.detail for a in await audited(sessionmaker, current_first) if a.action == "enrolment.recomputed"]
    assert [(d["before"]["coverage_start"], d["after"]["coverage_start"]) for d in recomputed] == [
        ("2026-06-20", "2026-05-20"),
        ("2026-05-20", "2026-04-20"),
    ]


async def test_a_payback_leaves_a_coverage_that_has_begun(client, admin_headers, frozen) -> None:
    # given: a lapsed resident who paid 2026 on 2026-01-20 (covered from 2026-06-20); today 2026-07-01
    frozen[0] = beijing_morning(date(2026, 1, 20))
    idn = await lapsed_since_2023(client, admin_headers)
    assert (await pay(client, admin_headers, idn, "400.00", "2026-01-20")).status_code == 201
    frozen[0] = beijing_morning(date(2026, 7, 1))
    # when: 2025 is paid back now
    back = await pay(client, admin_headers, idn, "400.00", "2026-07-01", year=2025)
    # then: taken, but the coverage that began (bills already settled under it) is not moved
    assert back.status_code == 201, back.text
    assert (back.json()["enrolment"]["year"], back.json()["enrolment"]["coverage_start"]) == (2026, "2026-06-20")
    e = await enrolment(client, await login(client, admin_headers, idn))
    assert (e["coverage_start"], e["waiting_months"]) == ("2026-06-20", 5)


# ---------------------------------------------------------------- 5. payments that can never help


async def test_a_payment_dated_in_the_future_is_refused(client, admin_headers, frozen) -> None:
    # given: today is 2026-12-03
    idn = await register(client, admin_headers)
    frozen[0] = beijing_morning(date(2026, 12, 3))
    # when: a payment dated 2027-03-01, and one dated tomorrow
    march = await pay(client, admin_headers, idn, "400.00", "2027-03-01", year=2026)
    tomorrow = await pay(client, admin_headers, idn, "400.00", "2026-12-04", year=2027)
    # then
    refused(march, 422, "PAID_ON_IN_FUTURE")
    refused(tomorrow, 422, "PAID_ON_IN_FUTURE")


async def test_a_payback_for_a_year_before_the_first_enrolment_is_refused(client, admin_headers) -> None:
    # given: one resident first enrolled in 2023, one never enrolled
    first_2023, never = await lapsed_since_2023(client, admin_headers), await register(client, admin_headers)
    # when: 2021 paid back by the first, 2025 by the other
    before_first = await pay(client, admin_headers, first_2023, "400.00", "2026-02-01", year=2021)
    never_enrolled = await pay(client, admin_headers, never, "400.00", "2026-02-01", year=2025)
    # then
    refused(before_first, 422, "PAYBACK_BEFORE_FIRST_ENROLMENT")
    refused(never_enrolled, 422, "PAYBACK_BEFORE_FIRST_ENROLMENT")


async def test_payments_that_start_nothing_before_death_are_refused(client, admin_headers) -> None:
    # given: a resident enrolled in 2023 who died on 2026-02-01, and a baby born 2026-10-01 who died 2026-10-20
    died = await register(client, admin_headers, death_date="2026-02-01")
    await staff_enrol(client, admin_headers, died, 2023, "2023-01-01")
    baby = await register(client, admin_headers, born=date(2026, 10, 1), death_date="2026-10-20")
    # when: 2026 paid on 2026-01-10 (a 3+2-month wait would end after the death), 2024 paid back after it,
    # and the baby enrolled as a newborn after its death (covered from birth: that still helps)
    current = await pay(client, admin_headers, died, "400.00", "2026-01-10")
    back = await pay(client, admin_headers, died, "400.00", "2026-03-01", year=2024)
    newborn = await pay(client, admin_headers, baby, "0.00", "2026-11-15", channel="counter")
    # then
    refused(current, 422, "PERSON_DECEASED")
    refused(back, 422, "PERSON_DECEASED")
    assert newborn.status_code == 201, newborn.text
    assert newborn.json()["enrolment"]["coverage_start"] == "2026-10-01"


async def test_a_death_date_ends_member_app_access(client, admin_headers, sessionmaker) -> None:
    # given: a member signed in to the app
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    assert (await client.get("/api/v1/me", headers=me)).status_code == 200
    # when: the registry reports the death
    async with sessionmaker() as s, s.begin():
        await s.execute(update(PersonRow).where(PersonRow.id_number == idn).values(death_date=date(2026, 11, 1)))
    # then: the token no longer works, and no new activation code is issued
    r = await client.get("/api/v1/me", headers=me)
    refused(r, 401, "UNAUTHENTICATED")
    refused(await client.post(f"/api/v1/persons/{idn}/activation-codes", headers=admin_headers), 422, "PERSON_DECEASED")
