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
