"""Test data builders with sensible defaults: a fresh valid person per call."""

from __future__ import annotations

import itertools
import secrets
from datetime import date
from typing import Any

import httpx

from yibao.people.id_number import make

_seq = itertools.count(1)


def new_id_number(born: date = date(1980, 5, 17), gender: str = "M", region: str = "430522") -> str:
    """A valid, unique GB 11643 ID (random sequence digits; gender in the 17th digit)."""
    serial = f"{secrets.randbelow(100):02d}"
    parity = (1 if gender == "M" else 0) + 2 * secrets.randbelow(5)
    body = f"{region}{born:%Y%m%d}{serial}{parity}"
    return make(body)


async def make_person(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    *,
    scheme: str = "resident",
    year: int = 2026,
    born: date = date(1980, 5, 17),
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
    for _ in range(20):
        idn = new_id_number(born, gender, region)
        r = await client.post(
            "/api/v1/persons",
            json={"id_number": idn, "name": f"测试{next(_seq)}", "region": region, "death_date": death_date},
            headers=admin,
        )
        if r.status_code == 201:
            break
        assert r.status_code == 409, r.text
    else:  # pragma: no cover
        raise AssertionError("could not find a free ID number")
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
