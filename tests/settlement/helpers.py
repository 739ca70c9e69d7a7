"""Place bills at exact China times through the public API, and run daily settles directly.

One rule keeps the money tests independent of each other in any order. The database is shared
by the whole run and a daily settle of day D takes every institution's open payable dated ≤ D,
so each test that asserts on money:

* bills only at institutions it created (:func:`own_institution`), so its order lines, deductions,
  reconcile month and clearing statements are its own;
* bills only on days that no other test uses (dates before the day the suite runs: the rest of
  the suite bills at the wall clock), and settles every day it billed or cancelled on before it
  ends (:func:`run_settle`). Nothing positive is then left open for another test's order to take,
  so an order's total is exactly the test's own lines. A net-negative carry stays open at its
  own institution and is never taken by anyone else's order.

Business days taken so far (bills, cancels, payments, prepayments, clearings, settles):
2024-07-06, 2024-07-08, 2025-01-06, 2025-07-06, 2025-07-08, 2026-01-05 (tests/api/test_payouts,
clearing, in regions of their own); 2026-01-01 (the scheduler test's queued job);
2026-03-02…04, 03-10, 03-11, 04-07, 05-01…05-11, 10-05, 10-06, 10-12 (test_daily_settle);
2023-07-06, 2023-07-08, 2026-02-11, 2026-06-02 (test_clearing_budgets),
2026-06-03, 06-15, 06-16 (test_fund_ledger), 07-06, 07-07, 08-24, 08-25, 09-21…09-24 (test_payouts); 2026-08-03, 08-12
(test_payout_actors); 2026-09-07, 09-10, 09-14, 09-15 (test_deductions);
2026-02-16…02-26, 03-01, 03-05 (test_maternity; person order batches 2026-02-23, 02-26, 02-27,
03-12, 03-13); 2026-10-14 (tests/fsi/test_fsi_detail_reconciliation, settled after each test);
2026-10-13…11-30 (test_conservation; it skips a window someone settled, e.g. the
jobs schema's example 2026-11-23, which the fuzz test posts).
Whole years taken by the fund's tests (a fund position adds everything posted before its day):
2078–2079 (bureau report), 2081–2084 (budgets, own region), 2091 (fiscal subsidies), 2093–2095
(fund minimum and fund-health tests, rolled back), 2096 (months of balance worked example).
2019-01: the fiscal-subsidy job's month (home region, no residents: nothing posted).
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import idem, line, make_bill
from yibao import clock
from yibao.clock import CHINA
from yibao.config import REPO_ROOT


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Freeze the clock at ``moment`` (naive = China time)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=CHINA)
    clock.set_clock(lambda: aware)
    try:
        yield
    finally:
        clock.set_clock(None)


def china(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=CHINA)


def inpatient(
    idn: str,
    day: date,
    price: str = "1500.00",
    diagnoses: list[str] | None = None,
    procedures: list[str] | None = None,
) -> dict[str, Any]:
    """A one-day stay: bed 3 × 40.00 and an appendectomy at ``price`` (catalogue cap 1,500.00)."""
    return make_bill(
        idn,
        [
            line("S-BED-2", "3", "40.00", no=1, day=day.isoformat()),
            line("S-APPX", "1", price, no=2, day=day.isoformat()),
        ],
        visit_type="inpatient",
        admitted_on=day.isoformat(),
        service_date=day.isoformat(),
        diagnoses=diagnoses or ["K35.8"],
        procedures=procedures or [],
    )


def outpatient(idn: str, day: date, price: str = "120.00", **extra: Any) -> dict[str, Any]:
    return make_bill(idn, [line("S-CTHD", "1", price, day=day.isoformat())], service_date=day.isoformat(), **extra)


async def settle(client: httpx.AsyncClient, headers: dict[str, str], bill: dict[str, Any], when: datetime) -> Any:
    with at(when):
        r = await client.post("/api/v1/settlements", json=bill, headers={**headers, **idem()})
    assert r.status_code == 201, r.text
    return r.json()


async def cancel(client: httpx.AsyncClient, headers: dict[str, str], sid: str, when: datetime) -> Any:
    with at(when):
        r = await client.post(f"/api/v1/settlements/{sid}/cancel", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def fen(wire: str) -> int:
    sign = -1 if wire.startswith("-") else 1
    whole, _, cents = wire.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int(cents or 0))


def fund_parts(totals: dict[str, str]) -> dict[str, int]:
    return {
        "basic": fen(totals["basic_fund"]),
        "critical_illness": fen(totals["critical_illness"]),
        "assistance": fen(totals["medical_assistance"]),
        "personal_account": fen(totals["personal_account"]),
    }


def key(institution_keys: dict[str, str], code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {institution_keys[code]}"}


def token() -> str:
    return secrets.token_hex(4)


def yuan(amount_fen: int) -> str:
    """Integer fen as the wire's yuan string ("12.30", "-0.05"): the inverse of :func:`fen`."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass(frozen=True)
class OwnInstitution:
    code: str
    name: str
    level: int
    region: str
    headers: dict[str, str]


#: institution codes and pooling regions handed out in this run (the database lives for one run)
_institutions = itertools.count(1)
_regions = itertools.count(1)


async def own_institution(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    admin_headers: dict[str, str],
    *,
    level: int = 2,
    kind: str = "hospital",
    region: str = "430522",
    annual_budget: str = "10000000.00",
    dip_coefficient: str | None = None,
) -> OwnInstitution:
    """A fresh active institution that no other test bills, with its own key (a unique code per call).

    No DIP coefficient unless asked: then no other region's clearing can ever list it."""
    code = f"H{region}T{next(_institutions):03d}{secrets.token_hex(2)}"
    name = f"测试专用医院{code[-7:]}"
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO institutions (code, name, type, level, region, agreement, credit_grade, annual_budget, "
                "dip_coefficient) VALUES (:c, :n, :t, :l, :r, 'active', 'A', :b, CAST(:k AS numeric))"
            ),
            {"c": code, "n": name, "t": kind, "l": level, "r": region, "b": fen(annual_budget), "k": dip_coefficient},
        )
    r = await client.post(f"/api/v1/institutions/{code}/keys", headers=admin_headers)
    assert r.status_code == 201, r.text
    return OwnInstitution(code, name, level, region, {"Authorization": f"Bearer {r.json()['key']}"})


async def own_region(
    sessionmaker: async_sessionmaker[AsyncSession],
    year: int,
    *,
    dip_budget: str | None = None,
    fund: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
) -> str:
    """A pooling region of this test alone: the default policy re-published for a new region and
    ``year`` through the product's policy loader (optionally with its own DIP budget and fund
    numbers, e.g. ``{"prepayment_months": "7"}``)."""
    from yibao.reference.loader import load_policy

    region = f"4399{next(_regions):02d}"
    doc = copy.deepcopy(json.loads((REPO_ROOT / "data" / "reference" / "policy-2026.json").read_text("utf-8")))
    doc.update(region=region, year=year, version=f"{region}-{year}-test")
    doc.pop("monitoring", None)
    if dip_budget is not None:
        doc["dip"]["budget"] = dip_budget
    if fund is not None:
        doc["fund"].update(fund)
    doc.update(changes or {})  # whole top-level sections, e.g. {"chronic_unrecognised": "outpatient"}
    async with sessionmaker() as s, s.begin():
        assert await load_policy(s, doc)
    return region


async def run_settle(sessionmaker: async_sessionmaker[AsyncSession], day: date, by: str = "scheduler") -> Any:
    """The daily settle of ``day``, run ten minutes after the day closed (China time)."""
    from yibao.payouts.daily_settle import settle_day

    with at(china(day.year, day.month, day.day) + timedelta(days=1, minutes=10)):
        async with sessionmaker() as s, s.begin():
            return await settle_day(s, day, by)


async def order_lines(sessionmaker: async_sessionmaker[AsyncSession], order_id: int) -> dict[tuple[str, str], Any]:
    """An order's lines by (institution, fund)."""
    from yibao.payouts import disbursement

    async with sessionmaker() as s:
        return {(r.institution_code, r.fund): r for r in await disbursement.lines(s, order_id)}


def line_figures(row: Any) -> tuple[int, int, int, int, int]:
    """(settled, cancelled, adjusted, deducted, net) of an order line, in fen."""
    return (row.settled, row.cancelled, row.adjusted, row.deducted, row.net)


async def recognise(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    id_number: str,
    disease: str = "HTN",
    diagnosis: str = "I10",
    on: datetime | None = None,
) -> dict[str, Any]:
    """A chronic-disease recognition through the API (apply → first review → second review by
    three people), approved ``on`` (default 2026-03-01, China time): valid for the bills of the
    builders' default day 2026-03-02. A ``chronic_outpatient`` bill needs one (issue #17)."""
    from yibao.auth.tokens import create_staff_token

    tag = secrets.token_hex(3)
    headers = {}
    for role in ("clerk", "first_reviewer", "second_reviewer"):
        async with sessionmaker() as s, s.begin():
            headers[role] = {"Authorization": f"Bearer {await create_staff_token(s, role, f'rec-{role}-{tag}')}"}
    evidence = [{"sha256": "cd" * 32, "name": "病历.pdf", "type": "medical_record"}]
    body = {"id_number": id_number, "disease": disease, "diagnosis": diagnosis, "evidence": evidence}
    with at(on or china(2026, 3, 1)):
        r = await client.post("/api/v1/chronic-recognitions", json=body, headers=headers["clerk"])
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        for role in ("first_reviewer", "second_reviewer"):
            r = await client.post(f"/api/v1/chronic-recognitions/{rid}/approve", headers=headers[role])
            assert r.status_code == 200, r.text
    approved: dict[str, Any] = r.json()
    assert approved["status"] == "approved"
    return approved
