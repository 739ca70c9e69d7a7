"""The fund's whole ledger through HTTP (issue #19): income posted with the premiums and
contributions that earn it, manual entries (maker-checker), the backfill, the fund position
with its months of balance, and prepayments sized by rule.

Days and years owned here: bills on 2026-06-16 (tests/settlement/helpers.py lists it); manual
entries and positions in 2096, which no other test uses (the position of a day adds everything
posted before it, so a test reads only the flows of its own year and the balance the response
opens with)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from sqlalchemy import text

from api.schemas.ledger import FundPositionRead, JournalRead
from tests.api.test_contract import conforms
from tests.builders import make_person, register_person
from tests.settlement.helpers import at, china, fen, inpatient, own_institution, own_region, run_settle, settle
from yibao import clock
from yibao.auth.tokens import create_staff_token

INCOME_ACCOUNTS = ("premiums", "subsidies", "contributions", "interest", "fiscal_subsidies", "other_income")
SPENDING_ACCOUNTS = ("claims", "transfers_out", "other_spending")


async def staff(sessionmaker, role: str, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, role, name)}"}


async def legs(sessionmaker, source: str) -> dict[tuple[str, str, str], tuple[int, str | None, str]]:  # type: ignore[no-untyped-def]
    """(movement, fund, account) → (amount, scheme, business date) of one source's legs."""
    async with sessionmaker() as s:
        rows = await s.execute(
            text(
                "SELECT movement, fund, account, amount, scheme, business_date FROM ledger_postings WHERE source = :s"
            ),
            {"s": source},
        )
        return {(r[0], r[1], r[2]): (int(r[3]), r[4], r[5].isoformat()) for r in rows}


def balanced(found: dict[tuple[str, str, str], tuple[int, str | None, str]]) -> bool:
    """Every movement's legs sum to zero in each fund."""
    sums: dict[tuple[str, str], int] = {}
    for (movement, fund, _), (amount, _, _) in found.items():
        sums[(movement, fund)] = sums.get((movement, fund), 0) + amount
    return all(v == 0 for v in sums.values())


async def test_a_subsidised_premium_and_its_refund_post_balanced_income(client, admin_headers, sessionmaker) -> None:
    # given a marginal resident (fixed subsidy 160.00 of the 400.00 premium)
    idn = await register_person(client, admin_headers)
    r = await client.post(
        f"/api/v1/persons/{idn}/groups", json={"group": "marginal", "valid_from": "2025-01-01"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    # when the 2026 premium is paid at the bank on 2025-11-10 (240.00 due), then refunded on
    # 2025-12-01, before its year
    body = {
        "id_number": idn,
        "year": 2026,
        "channel": "bank",
        "reference": f"BANK-{idn}",
        "amount": "240.00",
        "paid_on": "2025-11-10",
    }
    paid = await client.post("/api/v1/premiums/payments", json=body, headers=admin_headers)
    assert paid.status_code == 201 and paid.json()["subsidy"] == "160.00", paid.text
    source = f"premium:{paid.json()['payment_id']}"
    posted = await legs(sessionmaker, source)
    with at(china(2025, 12, 1)):
        refund = await client.post(
            f"/api/v1/premiums/payments/{paid.json()['payment_id']}/refund", headers=admin_headers
        )
    assert refund.status_code == 200, refund.text
    after = await legs(sessionmaker, source)
    # then the payment posted the premium to the resident pooled fund and the subsidy as a transfer
    # from the assistance fund; the refund reversed both on its own day; every movement balances
    assert posted == {
        ("premium", "basic", "bank"): (24_000, "resident", "2025-11-10"),
        ("premium", "basic", "premiums"): (-24_000, "resident", "2025-11-10"),
        ("subsidy", "assistance", "transfers_out"): (16_000, "resident", "2025-11-10"),
        ("subsidy", "assistance", "bank"): (-16_000, "resident", "2025-11-10"),
        ("subsidy", "basic", "bank"): (16_000, "resident", "2025-11-10"),
        ("subsidy", "basic", "subsidies"): (-16_000, "resident", "2025-11-10"),
    }
    assert {k: v for k, v in after.items() if k not in posted} == {
        ("premium_refund", "basic", "bank"): (-24_000, "resident", "2025-12-01"),
        ("premium_refund", "basic", "premiums"): (24_000, "resident", "2025-12-01"),
        ("subsidy_reversal", "assistance", "transfers_out"): (-16_000, "resident", "2025-12-01"),
        ("subsidy_reversal", "assistance", "bank"): (16_000, "resident", "2025-12-01"),
        ("subsidy_reversal", "basic", "bank"): (-16_000, "resident", "2025-12-01"),
        ("subsidy_reversal", "basic", "subsidies"): (16_000, "resident", "2025-12-01"),
    }
    assert balanced(after)


async def test_contributions_split_into_the_pooled_fund_and_personal_accounts(
    client, admin_headers, sessionmaker
) -> None:
    # given an employer and two employees (bases 5,000.00 and 3,333.33)
    from tests.api.test_employers import new_code

    clerk, fin = await staff(sessionmaker, "clerk", "clerk-fund"), await staff(sessionmaker, "finance", "fin-fund")
    code = new_code()
    r = await client.post(
        "/api/v1/employers", json={"code": code, "name": "某机械厂", "region": "430522"}, headers=clerk
    )
    assert r.status_code == 201, r.text
    a, b = await register_person(client, admin_headers), await register_person(client, admin_headers)
    lines = [{"id_number": a, "base": "5000.00"}, {"id_number": b, "base": "3333.33"}]
    # when March is posted (and retried) on April 2nd, 00:30 China time (still April 1st in UTC)
    with at(china(2026, 4, 2, 0, 30)):
        posted = await client.post(
            f"/api/v1/employers/{code}/contributions", json={"month": "2026-03", "lines": lines}, headers=fin
        )
        again = await client.post(
            f"/api/v1/employers/{code}/contributions", json={"month": "2026-03", "lines": lines}, headers=fin
        )
    assert posted.status_code == 201 and again.status_code in (200, 201), posted.text
    # then employer 666.67 + employee 166.67 = 833.34 came in: the employees' 166.67 to their
    # accounts (account fund), 666.67 to the employee pooled fund; once, balanced, on the
    # product's business day (the database's clock said neither the date nor the zone)
    found = await legs(sessionmaker, f"contribution:{posted.json()['posting_id']}")
    day = "2026-04-02"
    assert found == {
        ("contribution", "basic", "bank"): (66_667, "employee", day),
        ("contribution", "basic", "contributions"): (-66_667, "employee", day),
        ("contribution", "personal_account", "bank"): (16_667, "employee", day),
        ("contribution", "personal_account", "contributions"): (-16_667, "employee", day),
    }
    assert balanced(found)


async def test_manual_entries_need_a_reason_and_a_second_person(client, sessionmaker) -> None:
    # given two finance users and a proposed interest entry
    fa, fb = await staff(sessionmaker, "finance", "fin-j-a"), await staff(sessionmaker, "finance", "fin-j-b")
    body = {
        "kind": "interest",
        "scheme": "employee",
        "amount": "12.34",
        "business_date": "2026-11-30",
        "reason": "11月活期利息 November interest",
    }
    proposed = await client.post("/api/v1/ledger/journals", json=body, headers=fa)
    assert proposed.status_code == 201, proposed.text
    conforms(JournalRead, proposed)
    jid = proposed.json()["id"]
    # when it is proposed without a reason, approved by its maker, then by the other (twice)
    no_reason = await client.post("/api/v1/ledger/journals", json={**body, "reason": " "}, headers=fa)
    own = await client.post(f"/api/v1/ledger/journals/{jid}/approve", headers=fa)
    nothing_yet = await legs(sessionmaker, f"manual:{jid}")
    ok = await client.post(f"/api/v1/ledger/journals/{jid}/approve", headers=fb)
    retried = await client.post(f"/api/v1/ledger/journals/{jid}/approve", headers=fb)
    # then: refused without a reason and by its maker; posted once by the other, audited both times
    assert no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "INVALID_REQUEST", no_reason.text
    assert own.status_code == 403 and own.json()["error"]["code"] == "SAME_ACTOR", own.text
    assert nothing_yet == {}
    assert ok.status_code == 200 and ok.json()["state"] == "posted" and ok.json()["checked_by"] == "fin-j-b", ok.text
    assert (retried.status_code, retried.json()) == (200, ok.json())
    assert await legs(sessionmaker, f"manual:{jid}") == {
        ("manual", "basic", "bank"): (1_234, "employee", "2026-11-30"),
        ("manual", "basic", "interest"): (-1_234, "employee", "2026-11-30"),
    }
    async with sessionmaker() as s:
        actions = (
            await s.scalars(
                text(
                    "SELECT action FROM audit_log WHERE subject_type = 'manual_journal' AND subject_id = :i ORDER BY id"
                ),
                {"i": str(jid)},
            )
        ).all()
    assert actions == ["ledger.journal.proposed", "ledger.journal.posted"]


async def test_the_backfill_posts_what_happened_before_once(client, admin_headers, sessionmaker) -> None:
    # given a premium whose postings are missing (paid before the ledger took income)
    fin = await staff(sessionmaker, "finance", "fin-backfill")
    idn = await register_person(client, admin_headers)
    body = {"id_number": idn, "year": 2026, "channel": "bank", "reference": f"OLD-{idn}", "amount": "400.00"}
    with at(china(2025, 11, 20)):
        paid = await client.post("/api/v1/premiums/payments", json=body, headers=admin_headers)
    assert paid.status_code == 201, paid.text
    source = f"premium:{paid.json()['payment_id']}"
    expected = await legs(sessionmaker, source)
    async with sessionmaker() as s, s.begin():
        await s.execute(text("DELETE FROM ledger_postings WHERE source = :s"), {"s": source})
    # when the backfill runs twice
    first = await client.post("/api/v1/ledger/income/backfill", headers=fin)
    second = await client.post("/api/v1/ledger/income/backfill", headers=fin)
    # then the first posts the premium again (with whatever else was missing), the second nothing
    assert first.status_code == 200 and first.json()["premiums"] >= 2, first.text
    assert second.json() == {"premiums": 0, "subsidies": 0, "contributions": 0}
    assert (
        await legs(sessionmaker, source)
        == expected
        == {
            ("premium", "basic", "bank"): (40_000, "resident", "2025-11-20"),
            ("premium", "basic", "premiums"): (-40_000, "resident", "2025-11-20"),
        }
    )


async def test_ledger_identities_to_the_fen(client, admin_headers, sessionmaker) -> None:
    # given whatever the run has posted so far, backfilled
    fin = await staff(sessionmaker, "finance", "fin-identities")
    assert (await client.post("/api/v1/ledger/income/backfill", headers=fin)).status_code == 200
    async with sessionmaker() as s:
        one = await s.execute(
            text(
                """
                SELECT
                  (SELECT count(*) FROM (SELECT 1 FROM ledger_postings GROUP BY movement, source, fund
                                         HAVING SUM(amount) <> 0) x),
                  (SELECT COALESCE(-SUM(amount), 0) FROM ledger_postings WHERE account = 'premiums'),
                  (SELECT COALESCE(SUM(amount), 0) FROM premium_payments WHERE status = 'paid'),
                  (SELECT COALESCE(-SUM(amount), 0) FROM ledger_postings WHERE account = 'subsidies'),
                  (SELECT COALESCE(SUM(amount), 0) FROM ledger_postings
                   WHERE account = 'transfers_out' AND fund = 'assistance'),
                  (SELECT COALESCE(SUM(amount), 0) FROM subsidy_bookings),
                  (SELECT COALESCE(-SUM(amount), 0) FROM ledger_postings
                   WHERE account = 'contributions' AND fund = 'basic'),
                  (SELECT COALESCE(SUM(employer_total + employee_total - account_total), 0) FROM contribution_postings),
                  (SELECT COALESCE(-SUM(amount), 0) FROM ledger_postings
                   WHERE account = 'contributions' AND fund = 'personal_account'),
                  (SELECT COALESCE(SUM(account_total), 0) FROM contribution_postings)
                """
            )
        )
        (unbalanced, premiums, paid, subsidies, transferred, booked, pooled, pooled_due, accounts, credited) = (
            int(v) for v in one.one()
        )
    # then every movement balances per fund, and income equals the payments recorded, to the fen
    assert unbalanced == 0
    assert premiums == paid
    assert subsidies == transferred == booked
    assert (pooled, accounts) == (pooled_due, credited)
    # and each scheme's balance is what its bank, receivables and payables hold (opening + the sum
    # of every leg in the pooled funds' other accounts): the position's closing, to the fen
    for scheme, opening in (("resident", 18_000_000_000), ("employee", 45_000_000_000)):
        pos = await client.get(f"/api/v1/reports/fund-position?scheme={scheme}&as_of=2026-12-03", headers=fin)
        assert pos.status_code == 200, pos.text
        async with sessionmaker() as s:
            held = await s.scalar(
                text(
                    "SELECT COALESCE(SUM(amount), 0) FROM ledger_postings WHERE scheme = :sc "
                    "AND fund IN ('basic', 'critical_illness') AND NOT (account = ANY(:flows)) "
                    "AND business_date BETWEEN '2026-01-01' AND '2026-12-03'"
                ),
                {"sc": scheme, "flows": list(INCOME_ACCOUNTS + SPENDING_ACCOUNTS)},
            )
        body = pos.json()
        assert fen(body["closing_balance"]) == opening + int(held or 0), scheme
        assert fen(body["opening_balance"]) == opening  # 2026 is the fund's first year
        assert fen(body["closing_balance"]) == fen(body["opening_balance"]) + fen(body["income_total"]) - fen(
            body["spending_total"]
        )
        assert fen(body["income_total"]) == sum(fen(v) for v in body["income"].values())


async def _post(client: httpx.AsyncClient, maker: dict[str, str], checker: dict[str, str], **body: Any) -> None:
    r = await client.post("/api/v1/ledger/journals", json={"scheme": "resident", **body}, headers=maker)
    assert r.status_code == 201, r.text
    ok = await client.post(f"/api/v1/ledger/journals/{r.json()['id']}/approve", headers=checker)
    assert ok.status_code == 200, ok.text


async def test_months_of_balance_on_a_worked_example(client, sessionmaker) -> None:
    # given 2096 (no other test's year): interest of 1,200.00 on Feb 10 and other spending of
    # 2,400.00 on Mar 5 in the resident pooled fund
    fa, fb = await staff(sessionmaker, "finance", "fin-p-a"), await staff(sessionmaker, "finance", "fin-p-b")
    with at(china(2096, 3, 20)):
        await _post(client, fa, fb, kind="interest", amount="1200.00", business_date="2096-02-10", reason="利息")
        await _post(client, fa, fb, kind="other_spending", amount="2400.00", business_date="2096-03-05", reason="支出")
    # when the position on Mar 31 is read (JSON, then the monthly series as CSV)
    r = await client.get("/api/v1/reports/fund-position?scheme=resident&as_of=2096-03-31", headers=fa)
    csv_r = await client.get("/api/v1/reports/fund-position?scheme=resident&as_of=2096-03-31&format=csv", headers=fa)
    # then by hand: O = the balance 2096 opens with; closing = O + 1,200.00 − 2,400.00; the last
    # 12 months spent 2,400.00, i.e. 200.00 a month; months of balance = closing ÷ 200.00
    assert r.status_code == 200, r.text
    conforms(FundPositionRead, r)
    body = r.json()
    opening = fen(body["opening_balance"])
    closing = opening + 120_000 - 240_000
    months = (Decimal(closing) / 20_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert {k: body[k] for k in body if k not in ("opening_balance", "series")} == {
        "scheme": "resident",
        "funds": "pooled",
        "as_of": "2096-03-31",
        "period_from": "2096-01-01",
        "income": {"interest": "1200.00"},
        "income_total": "1200.00",
        "spending": {"other_spending": "2400.00"},
        "spending_total": "2400.00",
        "closing_balance": f"{Decimal(closing) / 100:.2f}",
        "average_monthly_spending": "200.00",
        "months_of_balance": str(months),
        "current_period_deficit": True,
        "cumulative_deficit": closing < 0,
    }
    o, feb = Decimal(opening) / 100, Decimal(opening + 120_000) / 100
    assert [
        (m["month"], m["income"], m["spending"], m["closing_balance"], m["months_of_balance"]) for m in body["series"]
    ] == [
        ("2096-01", "0.00", "0.00", f"{o:.2f}", None),
        ("2096-02", "1200.00", "0.00", f"{feb:.2f}", None),
        ("2096-03", "0.00", "2400.00", f"{Decimal(closing) / 100:.2f}", str(months)),
    ]
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv"), csv_r.text
    assert csv_r.text.splitlines() == [
        "month,income,spending,closing_balance,average_monthly_spending,months_of_balance",
        f"2096-01,0.00,0.00,{o:.2f},0.00,",
        f"2096-02,1200.00,0.00,{feb:.2f},0.00,",
        f"2096-03,0.00,2400.00,{Decimal(closing) / 100:.2f},200.00,{months}",
    ]
    # and the year opens where the one before closed
    dec = await client.get("/api/v1/reports/fund-position?scheme=resident&as_of=2095-12-31", headers=fa)
    assert dec.json()["closing_balance"] == body["opening_balance"]


async def test_fund_position_refuses_bad_input(client, sessionmaker) -> None:
    fa = await staff(sessionmaker, "finance", "fin-p-bad")
    before = await client.get("/api/v1/reports/fund-position?scheme=resident&as_of=2025-12-31", headers=fa)
    scheme = await client.get("/api/v1/reports/fund-position?scheme=farmers&as_of=2026-12-01", headers=fa)
    assert before.status_code == 400 and before.json()["error"]["code"] == "INVALID_REQUEST", before.text
    assert scheme.status_code == 400 and scheme.json()["error"]["code"] == "INVALID_REQUEST", scheme.text


async def test_a_prepayment_of_exactly_the_maximum_passes_one_fen_above_is_refused(
    client, admin_headers, sessionmaker
) -> None:
    # given a hospital of this test's own with two 784.00 stays on Jun 16 (its only fund payments):
    # 1 month × 1,568.00 / 12 = 130.666… → at most 130.66
    fa = await staff(sessionmaker, "finance", "fin-pp-a")
    own = await own_institution(client, sessionmaker, admin_headers)
    day = date(2026, 6, 16)
    for hour in (9, 10):
        await settle(
            client, own.headers, inpatient(await make_person(client, admin_headers), day), china(2026, 6, 16, hour)
        )
    await run_settle(sessionmaker, day)
    body = {"institution_code": own.code, "year": 2026, "reason": "预付"}
    # when 130.67 and then 130.66 are requested on Jun 17
    with at(china(2026, 6, 17, 9)):
        above = await client.post(
            "/api/v1/payouts/prepayments", json={**body, "amount": "130.67"}, headers={**fa, "Idempotency-Key": "a"}
        )
        exact = await client.post(
            "/api/v1/payouts/prepayments", json={**body, "amount": "130.66"}, headers={**fa, "Idempotency-Key": "b"}
        )
    # then one fen above is refused with the computed maximum, the maximum itself passes
    assert above.status_code == 422 and above.json()["error"]["code"] == "PREPAYMENT_ABOVE_LIMIT", above.text
    assert "130.66" in above.json()["error"]["message"]
    assert exact.status_code == 201 and exact.json()["amount"] == "130.66", exact.text
    # and a year later the stays are out of the last 12 months: nothing may be advanced
    with at(china(2027, 6, 17, 9)):
        later = await client.post(
            "/api/v1/payouts/prepayments", json={**body, "amount": "0.01"}, headers={**fa, "Idempotency-Key": "c"}
        )
    assert later.status_code == 422 and "0.00" in later.json()["error"]["message"], later.text


async def test_the_readme_fund_walkthrough(client, admin_headers, sessionmaker) -> None:
    """README "Fund position and budgets": record a premium and contributions, post a manual entry,
    see them in the fund position; a prepayment above its computed maximum is refused."""
    from tests.api.test_employers import new_code

    fin, fin2 = await staff(sessionmaker, "finance", "fin-readme"), await staff(sessionmaker, "finance", "fin-readme2")

    async def position(scheme: str) -> dict[str, Any]:
        # as of today (China time): the contributions are booked on the day they are posted, and
        # after 16:00 UTC that day is already tomorrow in China
        today = clock.today().isoformat()
        r = await client.get(f"/api/v1/reports/fund-position?scheme={scheme}&as_of={today}", headers=fin)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def income(p: dict[str, Any], kind: str) -> int:
        return fen(p["income"].get(kind, "0.00"))

    resident, employee = await position("resident"), await position("employee")
    # 1. a premium at the bank (400.00, 2026 paid on Mar 10) and a month of contributions (5,000.00 base)
    idn = await register_person(client, admin_headers)
    body = {"id_number": idn, "year": 2026, "channel": "bank", "reference": f"BANK-{idn}", "amount": "400.00"}
    paid = await client.post("/api/v1/premiums/payments", json={**body, "paid_on": "2026-03-10"}, headers=admin_headers)
    assert paid.status_code == 201, paid.text
    code = new_code()
    clerk = await staff(sessionmaker, "clerk", "clerk-readme")
    r = await client.post(
        "/api/v1/employers", json={"code": code, "name": "某机械厂", "region": "430522"}, headers=clerk
    )
    assert r.status_code == 201, r.text
    worker = await register_person(client, admin_headers)
    posted = await client.post(
        f"/api/v1/employers/{code}/contributions",
        json={"month": "2026-11", "lines": [{"id_number": worker, "base": "5000.00"}]},
        headers=fin,
    )
    assert posted.status_code == 201, posted.text
    # 2. a manual entry, proposed and approved by two finance users
    j = await client.post(
        "/api/v1/ledger/journals",
        json={
            "kind": "interest",
            "scheme": "employee",
            "fund": "basic",
            "amount": "12.34",
            "business_date": "2026-11-30",
            "reason": "11月活期利息",
        },
        headers=fin,
    )
    assert j.status_code == 201, j.text
    assert (await client.post(f"/api/v1/ledger/journals/{j.json()['id']}/approve", headers=fin2)).status_code == 200
    # 3. the position shows them, to the fen: 400.00 of premiums; 500.00 in (400.00 employer + 100.00
    #    employee) of which 100.00 went to the personal account, so 400.00 pooled; 12.34 of interest
    resident2, employee2 = await position("resident"), await position("employee")
    assert income(resident2, "premiums") - income(resident, "premiums") == 40_000
    assert income(employee2, "contributions") - income(employee, "contributions") == 40_000
    assert income(employee2, "interest") - income(employee, "interest") == 1_234
    assert fen(employee2["closing_balance"]) - fen(employee["closing_balance"]) == 41_234
    assert resident2["opening_balance"] == "180000000.00" and employee2["opening_balance"] == "450000000.00"
    assert resident2["months_of_balance"] is None or Decimal(resident2["months_of_balance"]) > 6
    # 4. a prepayment for a hospital without fund payments in the last 12 months: the maximum is 0.00
    own = await own_institution(client, sessionmaker, admin_headers)
    refused = await client.post(
        "/api/v1/payouts/prepayments",
        json={"institution_code": own.code, "year": 2026, "amount": "100.00"},
        headers={**fin, "Idempotency-Key": f"readme-{own.code}"},
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "PREPAYMENT_ABOVE_LIMIT", refused.text
    assert "0.00" in refused.json()["error"]["message"]


async def test_fiscal_subsidies_are_booked_monthly_per_enrolled_resident(client, admin_headers, sessionmaker) -> None:
    # given three residents enrolled for 2091 (no other test's year) in the home region, covered
    # from Jan 1, and a fourth covered only from Mar 1
    fin = await staff(sessionmaker, "finance", "fin-fiscal")
    for _ in range(3):
        await make_person(client, admin_headers, year=2091)
    await make_person(client, admin_headers, year=2091, coverage_start="2091-03-01")
    # when January and March are booked (January twice), in March 2091
    with at(china(2091, 3, 15)):
        jan = await client.post("/api/v1/ledger/fiscal-subsidies", json={"year": 2091, "month": 1}, headers=fin)
        again = await client.post("/api/v1/ledger/fiscal-subsidies", json={"year": 2091, "month": 1}, headers=fin)
        mar = await client.post("/api/v1/ledger/fiscal-subsidies", json={"year": 2091, "month": 3}, headers=fin)
        april = await client.post("/api/v1/ledger/fiscal-subsidies", json={"year": 2091, "month": 4}, headers=fin)
    # then by hand: 700.00 ÷ 12 per resident and month: 3 → 175.00 (Jan 31), 4 → 233.33 (Mar 15, today)
    assert jan.status_code == 200, jan.text
    assert {k: jan.json()[k] for k in ("month", "residents", "amount", "business_date", "created")} == {
        "month": "2091-01",
        "residents": 3,
        "amount": "175.00",
        "business_date": "2091-01-31",
        "created": True,
    }
    assert (again.json()["amount"], again.json()["created"]) == ("175.00", False)
    assert (mar.json()["residents"], mar.json()["amount"], mar.json()["business_date"]) == (4, "233.33", "2091-03-15")
    assert april.status_code == 400 and april.json()["error"]["code"] == "INVALID_REQUEST", april.text
    # and it is resident income, due from the treasury until a receipt is entered
    found = await legs(sessionmaker, "fiscal:430522:2091-01")
    assert found == {
        ("fiscal_subsidy", "basic", "treasury_receivable"): (17_500, "resident", "2091-01-31"),
        ("fiscal_subsidy", "basic", "fiscal_subsidies"): (-17_500, "resident", "2091-01-31"),
    }
    pos = await client.get("/api/v1/reports/fund-position?scheme=resident&as_of=2091-03-31", headers=fin)
    assert pos.json()["income"] == {"fiscal_subsidies": "408.33"}


async def test_a_fiscal_month_without_residents_books_nothing_and_an_unknown_region_is_refused(
    client, sessionmaker
) -> None:
    # given a pooling region of this test alone, with no one enrolled for 2026
    fin = await staff(sessionmaker, "finance", "fin-fiscal-empty")
    region = await own_region(sessionmaker, 2026)
    body = {"region": region, "year": 2026, "month": 1}
    # when its January is booked twice, and a month of a region that does not exist
    first = await client.post("/api/v1/ledger/fiscal-subsidies", json=body, headers=fin)
    second = await client.post("/api/v1/ledger/fiscal-subsidies", json=body, headers=fin)
    unknown = await client.post("/api/v1/ledger/fiscal-subsidies", json={**body, "region": "999999"}, headers=fin)
    # then nothing is due, nothing is posted, and no audit entry is written for either attempt
    for r in (first, second):
        assert r.status_code == 200, r.text
        assert (r.json()["residents"], r.json()["amount"], r.json()["created"]) == (0, "0.00", False)
    assert await legs(sessionmaker, f"fiscal:{region}:2026-01") == {}
    async with sessionmaker() as s:
        audited = await s.scalar(
            text("SELECT count(*) FROM audit_log WHERE subject_id = :src"), {"src": f"fiscal:{region}:2026-01"}
        )
    assert audited == 0
    # and the unknown region is refused by name
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "UNKNOWN_REGION", unknown.text


async def test_a_procurement_prepayment_is_45_percent_of_last_years_volume_once(
    client, admin_headers, sessionmaker
) -> None:
    # given a hospital of this test's own whose 2025 procurement amount, imported as CSV, is 10,000.01
    fa = await staff(sessionmaker, "finance", "fin-gpo")
    own = await own_institution(client, sessionmaker, admin_headers)
    good = f"institution_code,year,amount\n{own.code},2025,10000.01\n".encode()

    async def upload(content: bytes) -> httpx.Response:
        files = {"file": ("volumes.csv", content, "text/csv")}
        return await client.post("/api/v1/procurement/volumes", files=files, headers=fa)

    first, same = await upload(good), await upload(good)
    unknown = await upload(b"institution_code,year,amount\nH-NO-SUCH,2025,1.00\n")
    twice = await upload(f"institution_code,year,amount\n{own.code},2024,1.00\n{own.code},2024,2.00\n".encode())
    bad_header = await upload(b"code,year,amount\n")
    assert (first.status_code, first.json()) == (200, {"rows": 1, "changed": 1}), first.text
    assert same.json() == {"rows": 1, "changed": 0}
    for r in (unknown, twice, bad_header):
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REQUEST", r.text
    # when 2026 procurement prepayments of 4,500.01, 4,500.00 and then 0.01 more are requested
    body = {"institution_code": own.code, "year": 2026, "kind": "procurement", "reason": "集采预付"}

    async def request(amount: str, key: str) -> httpx.Response:
        return await client.post(
            "/api/v1/payouts/prepayments", json={**body, "amount": amount}, headers={**fa, "Idempotency-Key": key}
        )

    above, exact, more = await request("4500.01", "g1"), await request("4500.00", "g2"), await request("0.01", "g3")
    # then by hand: 45 % × 10,000.01 = 4,500.0045 → at most 4,500.00, once a year
    assert above.status_code == 422 and above.json()["error"]["code"] == "PREPAYMENT_ABOVE_LIMIT", above.text
    assert "4500.00" in above.json()["error"]["message"]
    assert exact.status_code == 201 and (exact.json()["kind"], exact.json()["amount"]) == ("procurement", "4500.00")
    assert more.status_code == 422 and "0.00" in more.json()["error"]["message"], more.text


async def test_the_bureau_report_answers_json_and_csv_and_refuses_a_bad_month(client, sessionmaker) -> None:
    # given an inspector, and January 2078 (no bills: figures on hand-written bills are in
    # tests/monitoring/test_bureau_report.py)
    insp = await staff(sessionmaker, "inspector", "insp-bureau")
    # when the month is read as JSON and as CSV, and a malformed month is asked for
    as_json = await client.get("/api/v1/reports/bureau?month=2078-01", headers=insp)
    as_csv = await client.get("/api/v1/reports/bureau?month=2078-01&format=csv", headers=insp)
    bad = await client.get("/api/v1/reports/bureau?month=2078-13", headers=insp)
    # then
    assert as_json.status_code == 200, as_json.text
    assert as_json.json() == {"month": "2078-01", "by_scheme_and_level": [], "trace_code_upload": []}
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("scheme,level,settlements,total,basic_fund")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST", bad.text
