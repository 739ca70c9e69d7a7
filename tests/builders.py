"""Test data builders with sensible defaults: a fresh valid person per call."""

from __future__ import annotations

import itertools
import secrets
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx

from yibao.people.id_number import make

_seq = itertools.count(1)
#: the sequence digits already handed out, per (region, birth date, gender): one run never repeats an ID
_issued: defaultdict[tuple[str, date, str], Iterator[int]] = defaultdict(lambda: itertools.count(0))
#: 500 sequence numbers per gender and birth date (3 digits, the last one's parity is the gender)
SEQUENCES_PER_DAY = 500
DEFAULT_BORN = date(1980, 5, 17)


def _next_sequence(region: str, born: date, gender: str) -> int | None:
    n = next(_issued[(region, born, gender)])
    return n if n < SEQUENCES_PER_DAY else None


def new_id_number(born: date | None = None, gender: str = "M", region: str = "430522") -> str:
    """A valid GB 11643 ID that no other call in this run returned (gender in the 17th digit).

    Without ``born`` the default birth date moves on a day once its 500 numbers are used, so a
    long run never collides; with an explicit ``born`` running out is a loud error, not a repeat.
    """
    day = born or DEFAULT_BORN
    while (n := _next_sequence(region, day, gender)) is None:
        if born is not None:
            raise AssertionError(f"no ID numbers left for {region} {born} {gender}; use another birth date")
        day += timedelta(days=1)
    serial, odd_even = divmod(n, 5)
    parity = 2 * odd_even + (1 if gender == "M" else 0)
    return make(f"{region}{day:%Y%m%d}{serial:02d}{parity}")


async def make_person(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    *,
    scheme: str = "resident",
    year: int = 2026,
    born: date | None = None,
    gender: str = "M",
    region: str = "430522",
    coverage_start: str | None = None,
    groups: tuple[str, ...] = (),
    retiree: bool = False,
    continuous_years: int = 0,
    zero_claim_credit: str = "0.00",
    account: str | None = None,
    death_date: str | None = None,
) -> str:
    """Register, tag, enrol (and credit) a person through the admin API; returns the ID."""
    idn = await register_person(client, admin, born=born, gender=gender, region=region, death_date=death_date)
    for g in groups:
        r = await client.post(
            f"/api/v1/persons/{idn}/groups", json={"group": g, "valid_from": f"{year}-01-01"}, headers=admin
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/enrolments",
        json={
            "id_number": idn,
            "scheme": scheme,
            "year": year,
            "coverage_start": coverage_start or f"{year}-01-01",
            "retiree": retiree,
            "continuous_years": continuous_years,
            "zero_claim_credit": zero_claim_credit,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    if account is not None:
        r = await client.post(
            f"/api/v1/accounts/{idn}/credits",
            json={"amount": account, "reference": f"init-{idn}"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    return idn


async def register_person(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    *,
    born: date | None = None,
    gender: str = "M",
    region: str = "430522",
    name: str | None = None,
    death_date: str | None = None,
) -> str:
    """Register a fresh person; anything but 201 fails the test (IDs never repeat within a run)."""
    idn = new_id_number(born, gender, region)
    body = {"id_number": idn, "name": name or f"测试{next(_seq)}", "region": region, "death_date": death_date}
    r = await client.post("/api/v1/persons", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return idn


def line(item: str, qty: str, price: str, *, no: int = 1, day: str = "2026-03-02", **extra: Any) -> dict[str, Any]:
    return {"line_no": no, "item_code": item, "quantity": qty, "unit_price": price, "service_date": day, **extra}


def make_bill(
    id_number: str,
    lines: list[dict[str, Any]] | None = None,
    *,
    visit_type: str = "outpatient",
    service_date: str = "2026-03-02",
    admitted_on: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    bill: dict[str, Any] = {
        "id_number": id_number,
        "visit_no": f"V{secrets.token_hex(6)}",
        "visit_type": visit_type,
        "service_date": service_date,
        "lines": lines or [line("S-BLRT", "1", "20.00", day=service_date)],
        **extra,
    }
    if visit_type == "inpatient":
        bill["admitted_on"] = admitted_on or service_date
        bill["discharged_on"] = service_date
    return bill


def idem() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(12)}
