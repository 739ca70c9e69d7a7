"""Place bills at exact China times through the public API, and run daily settles directly."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import httpx

from tests.builders import idem, line, make_bill
from yibao import clock
from yibao.clock import CHINA


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


def inpatient(idn: str, day: date, price: str = "1500.00", diagnoses: list[str] | None = None) -> dict[str, Any]:
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
