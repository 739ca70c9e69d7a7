"""Premiums, derived coverage, the member app and the member QR code, through HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.builders import idem, line, make_bill, register_person
from yibao import clock


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    """Move the business clock; the wall clock comes back afterwards."""
    at = [datetime.now(UTC)]
    clock.set_clock(lambda: at[0])
    yield at
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


async def test_subsidies_by_group_overlap_and_assistance_booking(client, admin_headers) -> None:
    fixed = await register(client, admin_headers, "marginal")
    both = await register(client, admin_headers, "marginal", "orphan")
    wrong = await pay(client, admin_headers, fixed, "400.00", "2025-10-01")
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "PREMIUM_AMOUNT_MISMATCH"
    r = await pay(client, admin_headers, fixed, "240.00", "2026-02-01")
    assert r.status_code == 201 and r.json()["subsidy"] == "160.00"
    assert r.json()["enrolment"]["coverage_reason"] == "SPECIAL_GROUP"  # exempt from waiting
    assert r.json()["enrolment"]["coverage_start"] == "2026-02-01"
    r = await pay(client, admin_headers, both, "0.00", "2025-10-01")
    assert r.status_code == 201 and (r.json()["subsidy"], r.json()["subsidy_group"]) == ("400.00", "orphan")
    totals = (await client.get("/api/v1/premiums/subsidies?year=2026", headers=admin_headers)).json()["items"]
    by = {t["group"]: t for t in totals}
    assert by["orphan"]["people"] >= 1 and by["marginal"]["people"] >= 1


async def test_refund_before_coverage_year_removes_enrolment(client, admin_headers, frozen) -> None:
    idn = await register(client, admin_headers, "min_living")
    r = await pay(client, admin_headers, idn, "240.00", "2025-10-01")
    pid = r.json()["payment_id"]
    frozen[0] = datetime(2025, 12, 1, 4, tzinfo=UTC)
    ok = await client.post(f"/api/v1/premiums/payments/{pid}/refund", headers=admin_headers)
    assert ok.status_code == 200 and ok.json()["status"] == "refunded", ok.text
    twice = await client.post(f"/api/v1/premiums/payments/{pid}/refund", headers=admin_headers)
    assert twice.json()["error"]["code"] == "REFUND_NOT_ALLOWED"
    r = await pay(client, admin_headers, idn, "240.00", "2025-12-02")  # can pay again
    frozen[0] = datetime(2026, 1, 2, 4, tzinfo=UTC)
    late = await client.post(f"/api/v1/premiums/payments/{r.json()['payment_id']}/refund", headers=admin_headers)
    assert late.status_code == 409 and late.json()["error"]["code"] == "REFUND_NOT_ALLOWED"


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
    from datetime import date

    idn = await register(client, admin_headers, born=date(2026, 2, 1))
    r = await pay(client, admin_headers, idn, "0.00", "2026-03-01", channel="counter")
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "newborn"
    assert (r.json()["enrolment"]["coverage_start"], r.json()["enrolment"]["coverage_reason"]) == (
        "2026-02-01",
        "NEWBORN",
    )


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
