"""Budgets (issue #19.3) through HTTP: a draft from a three-year history by hand, then the
negotiation path with each institution seeing only its own, maker-checker approval and a
mid-year adjustment. A pooling region of this test's own ("97…") and years 2081–2084, which no
other test uses."""

from __future__ import annotations

from datetime import date

from api.schemas.budgets import BudgetVersionRead, InstitutionBudgetRead, RegionBudgetRead
from tests.api.test_contract import conforms
from tests.monitoring.rows import Rows, fresh_region, own_institution
from yibao.auth.tokens import create_staff_token


async def _finance(sessionmaker, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        return {"Authorization": f"Bearer {await create_staff_token(s, 'finance', name)}"}


async def test_a_draft_from_three_years_and_the_negotiation_path(client, admin_headers, sessionmaker) -> None:
    # given a region of this test's own with two hospitals and their resident fund payments:
    #   A: 2081 1,000.00 (1 case), 2082 2,000.00 (2), 2083 3,000.00 (2)
    #   B: 2082 1,000.00 (1), 2083 1,000.00 (1)
    region = fresh_region()
    a, a_headers = await own_institution(sessionmaker, client, admin_headers, region=region)
    b, b_headers = await own_institution(sessionmaker, client, admin_headers, region=region)
    fa, fb = await _finance(sessionmaker, "fin-budget-a"), await _finance(sessionmaker, "fin-budget-b")
    async with sessionmaker() as s, s.begin():
        rows = Rows(s)
        p = await rows.person()
        for code, day, fund in (
            (a, date(2081, 5, 1), 100_000),
            (a, date(2082, 5, 1), 100_000),
            (a, date(2082, 6, 1), 100_000),
            (a, date(2083, 5, 1), 150_000),
            (a, date(2083, 6, 1), 150_000),
            (b, date(2082, 5, 1), 100_000),
            (b, date(2083, 5, 1), 100_000),
        ):
            await rows.visit(code, p, day, fund_total=fund)
    try:
        scope = {"scheme": "resident", "region": region}
        # when finance drafts 2084 (twice)
        first = await client.post("/api/v1/budgets/2084/draft", json=scope, headers=fa)
        again = await client.post("/api/v1/budgets/2084/draft", json=scope, headers=fb)
        # then by hand: regional = 2083's payments 4,000.00 × (1 − 2 %) = 3,920.00;
        # weighted A = 0.2 × 1,000 + 0.3 × 2,000 + 0.5 × 3,000 = 2,300.00, B = 0.3 × 1,000 + 0.5 × 1,000 = 800.00;
        # A = 3,920.00 × 2,300 / 3,100 = 2,908.387… , B = 1,011.612… : 2,908.38 + 1,011.61 = 3,919.99, the
        # fen left goes to the larger remainder (A): 2,908.39 + 1,011.61 = 3,920.00;
        # expected cases A = 0.2 + 0.6 + 1.0 = 1.8 → 2 (quota 1,454.195 → 1,454.20), B = 0.3 + 0.5 → 1
        assert first.status_code == 201, first.text
        conforms(RegionBudgetRead, first)
        body = first.json()
        assert (body["base"], body["rate"], body["amount"]) == ("4000.00", "-0.02", "3920.00")
        got = {v["institution_code"]: v for v in body["institutions"]}
        assert {c: (v["state"], v["amount"], v["expected_cases"], v["per_case_quota"]) for c, v in got.items()} == {
            a: ("draft", "2908.39", 2, "1454.20"),
            b: ("draft", "1011.61", 1, "1011.61"),
        }
        assert got[a]["history"] == {
            "years": [2081, 2082, 2083],
            "fund_payments": ["1000.00", "2000.00", "3000.00"],
            "cases": [1, 2, 2],
            "weights": ["0.2", "0.3", "0.5"],
        }
        assert (again.status_code, again.json()) == (200, body)
        # and an institution sees nothing of a draft
        hidden = await client.get("/api/v1/budgets/2084?scheme=resident", headers=a_headers)
        assert hidden.status_code == 200 and hidden.json()["institutions"] == [], hidden.text
        # when proposed, each institution reads only its own
        assert (await client.post("/api/v1/budgets/2084/propose", json=scope, headers=fa)).status_code == 200
        mine = await client.get("/api/v1/budgets/2084?scheme=resident", headers=a_headers)
        conforms(InstitutionBudgetRead, mine)
        assert [(v["institution_code"], v["state"]) for v in mine.json()["institutions"]] == [(a, "proposed")]
        assert b not in mine.text and "3920.00" not in mine.text
        # A counter-proposes 3,000.00 with a reason (and cannot touch B's); B accepts its own
        base = "/api/v1/budgets/2084/institutions"
        countered = await client.post(
            f"{base}/{a}/counter",
            json={"scheme": "resident", "amount": "3000.00", "reason": "新增科室"},
            headers=a_headers,
        )
        not_mine = await client.post(
            f"{base}/{b}/counter", json={"scheme": "resident", "amount": "9000.00", "reason": "x"}, headers=a_headers
        )
        accepted = await client.post(f"{base}/{b}/accept", json={"scheme": "resident"}, headers=b_headers)
        assert countered.status_code == 200 and countered.json()["state"] == "counter_proposed", countered.text
        assert (countered.json()["counter_amount"], countered.json()["reason"]) == ("3000.00", "新增科室")
        assert not_mine.status_code == 404, not_mine.text
        assert accepted.status_code == 200 and accepted.json()["state"] == "agreed", accepted.text
        # finance A agrees A at 2,950.00, cannot approve what it agreed; B approves both
        agreed = await client.post(f"{base}/{a}/agree", json={"scheme": "resident", "amount": "2950.00"}, headers=fa)
        assert agreed.status_code == 200, agreed.text
        assert (agreed.json()["state"], agreed.json()["amount"], agreed.json()["per_case_quota"]) == (
            "agreed",
            "2950.00",
            "1475.00",
        )
        own = await client.post(f"{base}/{a}/approve", json={"scheme": "resident"}, headers=fa)
        assert own.status_code == 403 and own.json()["error"]["code"] == "SAME_ACTOR", own.text
        for code in (a, b):
            ok = await client.post(f"{base}/{code}/approve", json={"scheme": "resident"}, headers=fb)
            assert ok.status_code == 200 and ok.json()["state"] == "approved", ok.text
        # a mid-year adjustment is a new version, in force once another finance user approves it
        adjusted = await client.post(
            f"{base}/{a}/adjust", json={"scheme": "resident", "amount": "3100.00", "reason": "年中调整"}, headers=fb
        )
        assert adjusted.status_code == 201 and (adjusted.json()["version"], adjusted.json()["state"]) == (2, "agreed")
        self_ok = await client.post(f"{base}/{a}/approve", json={"scheme": "resident"}, headers=fb)
        assert self_ok.status_code == 403, self_ok.text
        assert (await client.post(f"{base}/{a}/approve", json={"scheme": "resident"}, headers=fa)).status_code == 200
        hist = await client.get(f"{base}/{a}/history?scheme=resident", headers=a_headers)
        assert hist.status_code == 200, hist.text
        for v in hist.json():
            BudgetVersionRead.model_validate(v)
        assert [(v["version"], v["state"], v["amount"], v["reason"]) for v in hist.json()] == [
            (1, "approved", "2950.00", "新增科室"),
            (2, "approved", "3100.00", "年中调整"),
        ]
        other = await client.get(f"{base}/{a}/history?scheme=resident", headers=b_headers)
        assert other.status_code == 404, other.text
    finally:
        async with sessionmaker() as s, s.begin():
            await Rows(s, persons=rows.persons, bills=rows.bills).delete()
