"""Premiums, derived coverage, the member app and the member QR code, through HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.builders import idem, line, make_bill, register_person
from yibao import clock
from yibao.money import yuan_to_fen


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    """Move the business clock; the wall clock comes back afterwards, even on failure."""
    at = [datetime.now(UTC)]
    clock.set_clock(lambda: at[0])
    try:
        yield at
    finally:
        clock.set_clock(None)


async def register(client: httpx.AsyncClient, admin: dict[str, str], *groups: str, **kw: object) -> str:
    idn = await register_person(client, admin, name="王五", **kw)  # type: ignore[arg-type]
    for g in groups:
        r = await client.post(
            f"/api/v1/persons/{idn}/groups", json={"group": g, "valid_from": "2025-01-01"}, headers=admin
        )
        assert r.status_code == 201, r.text
    return idn


async def pay(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    idn: str,
    amount: str,
    paid_on: str,
    year: int = 2026,
    ref: str | None = None,
    channel: str = "bank",
) -> httpx.Response:
    body = {
        "id_number": idn,
        "year": year,
        "channel": channel,
        "reference": ref or secrets.token_hex(8),
        "amount": amount,
        "paid_on": paid_on,
    }
    return await client.post("/api/v1/premiums/payments", json=body, headers=admin)


async def login(client: httpx.AsyncClient, admin: dict[str, str], idn: str) -> dict[str, str]:
    r = await client.post(f"/api/v1/persons/{idn}/activation-codes", headers=admin)
    assert r.status_code == 201, r.text
    code = r.json()["activation_code"]
    r = await client.post("/api/v1/me/activate", json={"activation_code": code})
    assert r.status_code == 201, r.text
    again = await client.post("/api/v1/me/activate", json={"activation_code": code})
    assert again.status_code == 401 and again.json()["error"]["code"] == "ACTIVATION_CODE_INVALID"
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def enrolment(client: httpx.AsyncClient, me: dict[str, str], year: int = 2026) -> dict[str, Any]:
    r = await client.get(f"/api/v1/me/enrolments/{year}", headers=me)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def payments(client: httpx.AsyncClient, me: dict[str, str]) -> list[tuple[int, str]]:
    """(payment id, status) of my payments, newest first, as the app shows them."""
    r = await client.get("/api/v1/me/premiums/payments", headers=me)
    assert r.status_code == 200, r.text
    return [(p["payment_id"], p["status"]) for p in r.json()]


async def subsidies(client: httpx.AsyncClient, admin: dict[str, str], year: int = 2026) -> dict[str, tuple[int, int]]:
    """Subsidy totals booked to the assistance fund: group → (people, amount in fen)."""
    r = await client.get(f"/api/v1/premiums/subsidies?year={year}", headers=admin)
    assert r.status_code == 200, r.text
    return {t["group"]: (t["people"], yuan_to_fen(t["amount"])) for t in r.json()["items"]}


def moved(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """What a test's own payments added per group: (people, fen); groups that did not move are left out.

    The totals are global to the run's database, so a test compares two readings around its own
    payments instead of absolute figures."""
    out = {}
    for group in before.keys() | after.keys():
        (p0, a0), (p1, a1) = before.get(group, (0, 0)), after.get(group, (0, 0))
        if (p0, a0) != (p1, a1):
            out[group] = (p1 - p0, a1 - a0)
    return out


def amounts(deltas: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Only the fen that moved, per group."""
    return {group: fen for group, (_, fen) in deltas.items() if fen}


# ---------------------------------------------------------------- premiums and coverage


async def test_window_payment_covers_from_jan_1_and_is_idempotent(client, admin_headers) -> None:
    idn = await register(client, admin_headers)
    first = await pay(client, admin_headers, idn, "400.00", "2025-10-15", ref="BANK-1-" + idn)
    again = await pay(client, admin_headers, idn, "400.00", "2025-10-15", ref="BANK-1-" + idn)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["created"] is True and again.json()["created"] is False
    assert again.json()["payment_id"] == first.json()["payment_id"]
    e = first.json()["enrolment"]
    assert (e["coverage_start"], e["coverage_reason"]) == ("2026-01-01", "IN_WINDOW")
    other = await pay(client, admin_headers, idn, "400.00", "2025-10-16")
    assert other.status_code == 409 and other.json()["error"]["code"] == "PREMIUM_ALREADY_PAID"
    conflict = await pay(client, admin_headers, idn, "300.00", "2025-10-15", ref="BANK-1-" + idn)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"


async def test_outside_window_waits_and_says_why(client, admin_headers) -> None:
    idn = await register(client, admin_headers)
    r = await pay(client, admin_headers, idn, "400.00", "2026-03-10")
    e = r.json()["enrolment"]
    assert (e["coverage_start"], e["coverage_reason"], e["waiting_months"]) == (
        "2026-06-10",
        "WAITING_OUTSIDE_WINDOW",
        3,
    )
    assert "3 months" in e["coverage_detail"]


@pytest.mark.parametrize(
    ("paid_on", "start", "reason", "waiting"),
    [
        ("2025-09-01", "2026-01-01", "IN_WINDOW", 0),  # the window's first day
        ("2025-12-31", "2026-01-01", "IN_WINDOW", 0),  # its last day
        ("2026-01-01", "2026-04-01", "WAITING_OUTSIDE_WINDOW", 3),  # the day after: Jan 1 + 3 months
    ],
)
async def test_collection_window_edges(client, admin_headers, paid_on, start, reason, waiting) -> None:
    # given: a first-time enrolee with no group; the 2026 window is 2025-09-01 … 2025-12-31 (policy 09-01 … 12-31)
    idn = await register(client, admin_headers)
    # when
    r = await pay(client, admin_headers, idn, "400.00", paid_on)
    # then
    assert r.status_code == 201, r.text
    e = r.json()["enrolment"]
    assert (e["coverage_start"], e["coverage_reason"], e["waiting_months"]) == (start, reason, waiting)


async def test_before_the_window_opens_is_refused_and_writes_nothing(client, admin_headers) -> None:
    # given
    idn = await register(client, admin_headers)
    ref = "BANK-EARLY-" + idn
    # when: paid on Aug 31, the day before the 2026 window opens, then the same reference on Sep 1
    early = await pay(client, admin_headers, idn, "400.00", "2025-08-31", ref=ref)
    opened = await pay(client, admin_headers, idn, "400.00", "2025-09-01", ref=ref)
    # then: refused; the retry is a first payment (created), so the refusal recorded nothing
    assert early.status_code == 422 and early.json()["error"]["code"] == "PREMIUM_WINDOW_NOT_OPEN", early.text
    assert "2025-09-01" in early.json()["error"]["message"]
    assert opened.status_code == 201 and opened.json()["created"] is True, opened.text
    assert opened.json()["enrolment"]["coverage_reason"] == "IN_WINDOW"


async def test_window_opens_at_beijing_midnight_in_the_app(client, admin_headers, frozen) -> None:
    # given: a member signed in; 2025-08-31 15:59:59 UTC is 23:59:59 on Aug 31 in Beijing
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    body = {"year": 2026, "amount": "400.00", "source": "app", "payment_reference": "WX-EDGE-" + idn}
    frozen[0] = datetime(2025, 8, 31, 15, 59, 59, tzinfo=UTC)
    # when
    due_early = await client.get("/api/v1/me/premiums/2026", headers=me)
    pay_early = await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, **idem()})
    frozen[0] = datetime(2025, 8, 31, 16, 0, 0, tzinfo=UTC)  # 00:00:00 on Sep 1 in Beijing
    due = await client.get("/api/v1/me/premiums/2026", headers=me)
    paid = await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, **idem()})
    # then
    assert due_early.status_code == 422 and due_early.json()["error"]["code"] == "PREMIUM_WINDOW_NOT_OPEN"
    assert pay_early.status_code == 422 and pay_early.json()["error"]["code"] == "PREMIUM_WINDOW_NOT_OPEN"
    assert due.status_code == 200, due.text
    assert (due.json()["due"], due.json()["window_from"], due.json()["window_to"]) == (
        "400.00",
        "2025-09-01",
        "2025-12-31",
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["paid_on"] == "2025-09-01"
    assert (paid.json()["enrolment"]["coverage_start"], paid.json()["enrolment"]["coverage_reason"]) == (
        "2026-01-01",
        "IN_WINDOW",
    )
    assert [p[1] for p in await payments(client, me)] == ["paid"]  # the refused attempt left no row


async def test_premium_from_the_personal_account_needs_the_balance(client, admin_headers, frozen) -> None:
    # given: a member with no personal account yet, paying in the window
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    frozen[0] = datetime(2025, 10, 15, 2, tzinfo=UTC)
    body = {"year": 2026, "amount": "400.00", "source": "account"}

    async def credit(amount: str, ref: str) -> None:
        r = await client.post(
            f"/api/v1/accounts/{idn}/credits", json={"amount": amount, "reference": ref}, headers=admin_headers
        )
        assert r.status_code == 201, r.text

    # when: no account, then 399.99, one fen short of the 400.00 premium
    no_account = await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, **idem()})
    await credit("399.99", f"top-1-{idn}")
    short = await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, **idem()})
    # then: both refused; the balance did not move, no payment, no enrolment
    assert no_account.status_code == 422 and no_account.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert short.status_code == 422 and short.json()["error"]["code"] == "INSUFFICIENT_BALANCE", short.text
    account = (await client.get("/api/v1/me/account", headers=me)).json()
    assert account["balance"] == "399.99"
    assert [(m["amount"], m["kind"]) for m in account["movements"]] == [("399.99", "credit")]
    assert await payments(client, me) == []
    assert (await enrolment(client, me))["enrolled"] is False

    # when: one more fen makes the balance exactly the premium
    await credit("0.01", f"top-2-{idn}")
    paid = await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, **idem()})
    # then: paid from the account down to 0.00, covered from Jan 1
    assert paid.status_code == 201, paid.text
    assert (paid.json()["channel"], paid.json()["amount"]) == ("account", "400.00")
    account = (await client.get("/api/v1/me/account", headers=me)).json()
    assert account["balance"] == "0.00"
    assert [(m["amount"], m["kind"]) for m in account["movements"]] == [
        ("-400.00", "premium"),
        ("0.01", "credit"),
        ("399.99", "credit"),
    ]
    assert (await enrolment(client, me))["coverage_reason"] == "IN_WINDOW"


async def test_subsidies_by_group_overlap_and_assistance_booking(client, admin_headers) -> None:
    # given: a marginal resident (fixed 160.00) and one both marginal and orphan (full beats fixed)
    fixed = await register(client, admin_headers, "marginal")
    both = await register(client, admin_headers, "marginal", "orphan")
    before = await subsidies(client, admin_headers)
    # when
    wrong = await pay(client, admin_headers, fixed, "400.00", "2025-10-01")
    r = await pay(client, admin_headers, fixed, "240.00", "2026-02-01")
    full = await pay(client, admin_headers, both, "0.00", "2025-10-01")
    after = await subsidies(client, admin_headers)
    # then: 400.00 − 160.00 = 240.00 due; the refused payment booked nothing
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "PREMIUM_AMOUNT_MISMATCH"
    assert r.status_code == 201 and (r.json()["subsidy"], r.json()["subsidy_group"]) == ("160.00", "marginal")
    assert r.json()["enrolment"]["coverage_reason"] == "SPECIAL_GROUP"  # exempt from waiting
    assert r.json()["enrolment"]["coverage_start"] == "2026-02-01"
    assert full.status_code == 201 and (full.json()["subsidy"], full.json()["subsidy_group"]) == ("400.00", "orphan")
    # exactly one person and the subsidy in fen per group, nothing in any other group
    assert moved(before, after) == {"marginal": (1, 16000), "orphan": (1, 40000)}


async def test_full_and_fixed_subsidy_amounts_per_group(client, admin_headers) -> None:
    # given: two destitute residents (full: 400.00 each) and one min_living resident (fixed 160.00)
    destitute = [await register(client, admin_headers, "destitute") for _ in range(2)]
    poor = await register(client, admin_headers, "min_living")
    before = await subsidies(client, admin_headers)
    # when
    paid = [await pay(client, admin_headers, idn, "0.00", "2025-11-03") for idn in destitute]
    paid.append(await pay(client, admin_headers, poor, "240.00", "2025-11-03"))
    # then: destitute 2 × 400.00 = 800.00; min_living 1 × 160.00
    assert [p.status_code for p in paid] == [201, 201, 201], [p.text for p in paid]
    assert moved(before, await subsidies(client, admin_headers)) == {"destitute": (2, 80000), "min_living": (1, 16000)}


async def test_refund_before_coverage_year_removes_enrolment(client, admin_headers, frozen) -> None:
    # given: a min_living resident (160.00 subsidised) signed in to the app, who paid 240.00 in the window
    idn = await register(client, admin_headers, "min_living")
    me = await login(client, admin_headers, idn)
    before = await subsidies(client, admin_headers)
    r = await pay(client, admin_headers, idn, "240.00", "2025-10-01")
    assert r.status_code == 201, r.text
    pid = r.json()["payment_id"]
    assert (await enrolment(client, me))["enrolled"] is True
    # when: refunded on Dec 1, before the coverage year
    frozen[0] = datetime(2025, 12, 1, 4, tzinfo=UTC)
    ok = await client.post(f"/api/v1/premiums/payments/{pid}/refund", headers=admin_headers)
    twice = await client.post(f"/api/v1/premiums/payments/{pid}/refund", headers=admin_headers)
    # then: read back, the payment is refunded, the enrolment gone and the subsidy reversed
    assert ok.status_code == 200 and ok.json()["status"] == "refunded", ok.text
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "REFUND_NOT_ALLOWED"
    gone = await enrolment(client, me)
    assert (gone["enrolled"], gone["coverage_start"], gone["coverage_reason"]) == (False, None, None)
    assert await payments(client, me) == [(pid, "refunded")]
    assert amounts(moved(before, await subsidies(client, admin_headers))) == {}  # +160.00 − 160.00

    # when: paid again, then a refund asked once the coverage year has started
    again = await pay(client, admin_headers, idn, "240.00", "2025-12-01")
    assert again.status_code == 201, again.text
    frozen[0] = datetime(2026, 1, 2, 4, tzinfo=UTC)
    late = await client.post(f"/api/v1/premiums/payments/{again.json()['payment_id']}/refund", headers=admin_headers)
    # then: refused, and it changed nothing: enrolled from Jan 1, the second payment still paid
    assert late.status_code == 409 and late.json()["error"]["code"] == "REFUND_NOT_ALLOWED"
    kept = await enrolment(client, me)
    assert (kept["enrolled"], kept["coverage_start"], kept["coverage_reason"]) == (True, "2026-01-01", "IN_WINDOW")
    assert await payments(client, me) == [(again.json()["payment_id"], "paid"), (pid, "refunded")]
    assert amounts(moved(before, await subsidies(client, admin_headers))) == {"min_living": 16000}


async def test_a_refunded_subsidy_counts_no_one(client, admin_headers, frozen) -> None:
    # given: a destitute resident whose 400.00 full subsidy was booked, then refunded before the year
    idn = await register(client, admin_headers, "destitute")
    before = await subsidies(client, admin_headers)
    r = await pay(client, admin_headers, idn, "0.00", "2025-10-01")
    assert r.status_code == 201, r.text
    frozen[0] = datetime(2025, 12, 1, 4, tzinfo=UTC)
    # when
    ok = await client.post(f"/api/v1/premiums/payments/{r.json()['payment_id']}/refund", headers=admin_headers)
    # then: the assistance fund subsidised no one in the end
    assert ok.status_code == 200, ok.text
    assert moved(before, await subsidies(client, admin_headers)) == {}


async def test_lapse_and_pay_back_shorten_the_wait(client, admin_headers) -> None:
    idn = await register(client, admin_headers)
    await client.post(
        "/api/v1/enrolments",
        headers=admin_headers,
        json={"id_number": idn, "scheme": "resident", "year": 2023, "coverage_start": "2023-01-01"},
    )
    # 2024 and 2025 lapsed; 2024 paid back in 2025 → variable part 1 month
    back = await pay(client, admin_headers, idn, "400.00", "2025-09-20", year=2024)
    assert back.status_code == 201 and back.json()["kind"] == "payback" and back.json()["enrolment"] is None
    r = await pay(client, admin_headers, idn, "400.00", "2025-10-01")
    e = r.json()["enrolment"]
    assert (e["coverage_reason"], e["waiting_months"], e["coverage_start"]) == ("WAITING_LAPSED", 4, "2026-05-01")


async def test_newborn_is_covered_from_birth_premium_waived(client, admin_headers) -> None:
    idn = await register(client, admin_headers, born=date(2026, 2, 1))
    r = await pay(client, admin_headers, idn, "0.00", "2026-03-01", channel="counter")
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "newborn"
    assert (r.json()["enrolment"]["coverage_start"], r.json()["enrolment"]["coverage_reason"]) == (
        "2026-02-01",
        "NEWBORN",
    )


async def test_newborn_rule_ends_on_day_90(client, admin_headers) -> None:
    # given: two babies born 2026-02-01; day 90 is 2026-05-02 (Feb 28 + Mar 31 + Apr 30 = 89 days to May 1)
    day_90, day_91 = [await register(client, admin_headers, born=date(2026, 2, 1)) for _ in range(2)]
    # when
    on_90 = await pay(client, admin_headers, day_90, "0.00", "2026-05-02", channel="counter")
    waived_91 = await pay(client, admin_headers, day_91, "0.00", "2026-05-03", channel="counter")
    on_91 = await pay(client, admin_headers, day_91, "400.00", "2026-05-03", channel="counter")
    # then: day 90 is still a newborn (premium waived, covered from birth, no waiting) …
    assert on_90.status_code == 201, on_90.text
    assert (on_90.json()["kind"], on_90.json()["amount"]) == ("newborn", "0.00")
    e = on_90.json()["enrolment"]
    assert (e["coverage_start"], e["coverage_reason"], e["waiting_months"]) == ("2026-02-01", "NEWBORN", 0)
    # … day 91 owes the full premium and waits 3 months from payment, like anyone outside the window
    assert waived_91.status_code == 422 and waived_91.json()["error"]["code"] == "PREMIUM_AMOUNT_MISMATCH"
    assert on_91.status_code == 201, on_91.text
    assert (on_91.json()["kind"], on_91.json()["amount"]) == ("current", "400.00")
    e = on_91.json()["enrolment"]
    assert (e["coverage_start"], e["coverage_reason"], e["waiting_months"]) == (
        "2026-08-03",
        "WAITING_OUTSIDE_WINDOW",
        3,
    )


async def test_payback_and_refund_refusals(client, admin_headers) -> None:
    # given: one person enrolled in 2023 and 2024, one enrolled in 2023 only (2024 lapsed)
    enrolled, lapsed = await register(client, admin_headers), await register(client, admin_headers)
    for idn, years in ((enrolled, (2023, 2024)), (lapsed, (2023,))):
        for y in years:
            r = await client.post(
                "/api/v1/enrolments",
                headers=admin_headers,
                json={"id_number": idn, "scheme": "resident", "year": y, "coverage_start": f"{y}-01-01"},
            )
            assert r.status_code == 201, r.text
    # when: 2024 paid back in 2025 by both, the lapsed one's payback refunded, an unknown payment refunded
    not_lapsed = await pay(client, admin_headers, enrolled, "400.00", "2025-09-20", year=2024)
    back = await pay(client, admin_headers, lapsed, "400.00", "2025-09-20", year=2024)
    refund_back = await client.post(
        f"/api/v1/premiums/payments/{back.json()['payment_id']}/refund", headers=admin_headers
    )
    unknown = await client.post(f"/api/v1/premiums/payments/{2**62}/refund", headers=admin_headers)
    # then
    assert not_lapsed.status_code == 400 and not_lapsed.json()["error"]["code"] == "INVALID_REQUEST"
    assert "not a lapsed year" in not_lapsed.json()["error"]["message"]
    assert back.status_code == 201 and back.json()["kind"] == "payback", back.text
    assert refund_back.status_code == 409 and refund_back.json()["error"]["code"] == "REFUND_NOT_ALLOWED"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"


async def test_channel_and_app_payment_refusals(client, admin_headers) -> None:
    # given: a member signed in, and a stranger not bound to them
    idn, stranger = await register(client, admin_headers), await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    app = {"year": 2026, "amount": "400.00", "source": "app", "payment_reference": "WX-R-" + idn}
    # when
    proxy = await pay(client, admin_headers, idn, "400.00", "2025-10-01", channel="proxy")
    no_key = await client.post("/api/v1/me/premiums/payments", json=app, headers=me)
    no_ref = await client.post(
        "/api/v1/me/premiums/payments", json={**app, "payment_reference": None}, headers={**me, **idem()}
    )
    for_stranger = await client.post(
        "/api/v1/me/premiums/payments", json={**app, "id_number": stranger}, headers={**me, **idem()}
    )
    # then: a proxy payment must name its village agent; the app needs a key, a gateway reference,
    # and a bound relative (anyone else is 404, like an unknown person); nothing was paid
    assert proxy.status_code == 400 and proxy.json()["error"]["code"] == "INVALID_REQUEST"
    assert "agent" in proxy.json()["error"]["message"]
    assert no_key.status_code == 400 and no_key.json()["error"]["code"] == "INVALID_REQUEST"
    assert "Idempotency-Key" in no_key.json()["error"]["message"]
    assert no_ref.status_code == 400 and no_ref.json()["error"]["code"] == "INVALID_REQUEST"
    assert "payment_reference" in no_ref.json()["error"]["message"]
    assert for_stranger.status_code == 404 and for_stranger.json()["error"]["code"] == "PERSON_NOT_FOUND"
    assert await payments(client, me) == []


async def test_incentives_derived_from_history(client, admin_headers) -> None:
    idn = await register(client, admin_headers)
    for y in (2021, 2022, 2023, 2024, 2025):
        await client.post(
            "/api/v1/enrolments",
            headers=admin_headers,
            json={"id_number": idn, "scheme": "resident", "year": y, "coverage_start": f"{y}-01-01"},
        )
    r = await pay(client, admin_headers, idn, "400.00", "2025-10-01")
    e = r.json()["enrolment"]
    assert (e["continuous_years"], e["zero_claim_credit"]) == (5, "15000.00")


# ---------------------------------------------------------------- the member app end to end


async def test_member_pays_in_app_settles_with_qr_code_and_sees_the_bill(
    client, admin_headers, hospital, institution_keys, frozen
) -> None:
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    # given: paying in the window through the app
    frozen[0] = datetime(2025, 10, 15, 2, tzinfo=UTC)
    due = await client.get("/api/v1/me/premiums/2026", headers=me)
    assert due.status_code == 200 and due.json()["due"] == "400.00", due.text
    body = {"year": 2026, "amount": "400.00", "source": "app", "payment_reference": "WX-" + idn}
    paid = await client.post("/api/v1/me/premiums/payments", json=body, headers={**me, **idem()})
    assert paid.status_code == 201, paid.text
    frozen[0] = datetime.now(UTC)
    status = (await client.get("/api/v1/me/enrolments/2026", headers=me)).json()
    assert (status["coverage_start"], status["coverage_reason"]) == ("2026-01-01", "IN_WINDOW")
    history = await client.get("/api/v1/me/premiums/payments", headers=me)
    assert history.status_code == 200 and [p["reference"] for p in history.json()] == ["WX-" + idn]
    # when: the hospital settles with the member QR code
    code = (await client.post("/api/v1/me/member-code", headers=me)).json()["member_code"]
    bill = make_bill(None, [line("S-CTHD", "1", "180.00")])  # type: ignore[arg-type]
    bill.pop("id_number", None)
    bill["member_code"] = code
    key = idem()
    first = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **key})
    assert first.status_code == 201, first.text
    # then: the same HIS retry replays, even after the code expired
    frozen[0] = datetime.now(UTC) + timedelta(minutes=5)
    retry = await client.post("/api/v1/settlements", json=bill, headers={**hospital, **key})
    assert retry.status_code == 201 and retry.json() == first.json()
    # another request reusing the code is refused
    other = await client.post("/api/v1/settlements", json={**bill, "visit_no": "V2"}, headers={**hospital, **idem()})
    assert other.status_code == 409 and other.json()["error"]["code"] == "MEMBER_CODE_USED"
    frozen[0] = datetime.now(UTC)
    # and the bill shows in the app with its full split and my full ID
    mine = (await client.get("/api/v1/me/settlements", headers=me)).json()["items"]
    assert [s["settlement_id"] for s in mine] == [first.json()["settlement_id"]]
    assert mine[0]["totals"] == first.json()["totals"] and mine[0]["id_number"] == idn


async def test_expired_and_forged_member_codes_are_refused(client, admin_headers, hospital, frozen) -> None:
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    code = (await client.post("/api/v1/me/member-code", headers=me)).json()["member_code"]
    frozen[0] = datetime.now(UTC) + timedelta(seconds=61)
    bill = make_bill(idn, [line("S-CTHD", "1", "180.00")])
    bill.pop("id_number")
    r = await client.post("/api/v1/settlements", json={**bill, "member_code": code}, headers={**hospital, **idem()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "MEMBER_CODE_EXPIRED"
    r = await client.post(
        "/api/v1/settlements", json={**bill, "member_code": code + "x"}, headers={**hospital, **idem()}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "MEMBER_CODE_INVALID"
    both = await client.post(
        "/api/v1/settlements", json={**bill, "member_code": code, "id_number": idn}, headers={**hospital, **idem()}
    )
    assert both.status_code == 400


async def test_member_sees_only_self_and_bound_relatives(client, admin_headers) -> None:
    a, b, c = [await register(client, admin_headers) for _ in range(3)]
    me_a, me_b = await login(client, admin_headers, a), await login(client, admin_headers, b)
    # another person's data is 404, like an unknown person
    r = await client.get(f"/api/v1/me/enrolments/2026?id_number={c}", headers=me_a)
    assert r.status_code == 404 and r.json()["error"]["code"] == "PERSON_NOT_FOUND"
    r = await client.get(f"/api/v1/me/account?id_number={b}", headers=me_a)
    assert r.status_code == 404
    # a holder asks, the relative confirms, then the holder may act for them (not the reverse)
    ask = await client.post(
        "/api/v1/me/family-bindings",
        headers=me_a,
        json={"relative_id_number": b, "relative_name": "王五", "relation": "spouse"},
    )
    assert ask.status_code == 201, ask.text
    rid = ask.json()["request_id"]
    assert (await client.post(f"/api/v1/me/family-bindings/{rid}/confirm", headers=me_a)).status_code == 404
    ok = await client.post(f"/api/v1/me/family-bindings/{rid}/confirm", headers=me_b)
    assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
    assert (await client.get(f"/api/v1/me/enrolments/2026?id_number={b}", headers=me_a)).status_code == 200
    assert (await client.get(f"/api/v1/me/enrolments/2026?id_number={a}", headers=me_b)).status_code == 404
    # logout revokes the token
    assert (await client.post("/api/v1/me/logout", headers=me_a)).status_code == 204
    assert (await client.get("/api/v1/me", headers=me_a)).status_code == 401


async def test_member_filings_temporary_at_once_long_term_queued(client, admin_headers) -> None:
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    t = await client.post(
        "/api/v1/me/filings",
        headers=me,
        json={"to_region": "430100", "valid_from": "2026-03-01", "valid_to": "2026-04-30"},
    )
    assert (t.json()["kind"], t.json()["status"]) == ("temporary", "approved")
    lt = await client.post("/api/v1/me/filings", headers=me, json={"to_region": "440300", "valid_from": "2026-03-01"})
    assert (lt.json()["kind"], lt.json()["status"]) == ("long_term", "pending")
    ok = await client.post(f"/api/v1/filings/{lt.json()['filing_id']}/approve", headers=admin_headers)
    assert ok.json()["status"] == "approved"


async def test_ops_views_page_and_export_csv(client, admin_headers) -> None:
    await register(client, admin_headers, "destitute")
    r = await client.get("/api/v1/ops/unenrolled-special-groups?year=2027&limit=1", headers=admin_headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 1 and r.json()["next_cursor"]
    csv = await client.get("/api/v1/ops/unenrolled-special-groups?year=2027&format=csv", headers=admin_headers)
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("id_number,name")
    rate = await client.get("/api/v1/ops/enrolment-rate?year=2026", headers={**admin_headers, "Accept": "text/csv"})
    assert rate.status_code == 200 and rate.text.startswith("region,group,people,enrolled,rate")


async def test_a_member_naming_themselves_in_fullwidth_digits_is_themselves(client, admin_headers) -> None:
    # given a member, and their own number as a phone keyboard in Chinese mode types it
    idn = await register(client, admin_headers)
    me = await login(client, admin_headers, idn)
    fullwidth = idn.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    # when they ask for their own enrolment under that spelling
    r = await client.get(f"/api/v1/me/enrolments/2026?id_number={fullwidth}", headers=me)
    # then it is theirs (the one normaliser), not PERSON_NOT_FOUND
    assert r.status_code == 200, r.text
