"""Reference policy and catalogue for the benefit tests, plus small builders."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from yibao.benefit import (
    AccountState,
    BenefitSplit,
    Bill,
    BillLine,
    CatalogueItem,
    PersonState,
    YearAccumulators,
)
from yibao.benefit.inputs import Scheme, VisitType
from yibao.money import Fen, yuan_to_fen
from yibao.policy.params import PolicyParams

REFERENCE = Path(__file__).parents[3] / "data" / "reference"
HOME = "430522"
AWAY = "110101"
DAY = date(2026, 6, 15)


@cache
def policy() -> PolicyParams:
    return PolicyParams.parse(json.loads((REFERENCE / "policy-2026.json").read_text("utf-8")))


def _opt_int(text: str) -> int | None:
    return int(text) if text else None


@cache
def catalogue() -> dict[str, CatalogueItem]:
    items: dict[str, CatalogueItem] = {}
    with (REFERENCE / "catalog.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            items[row["code"]] = CatalogueItem(
                code=row["code"],
                name=row["name"],
                kind=row["kind"],
                item_class=cast(Literal["A", "B", "C"], row["class"]),
                b_self_pay_ratio=Decimal(row["b_self_pay_ratio"]) if row["b_self_pay_ratio"] else None,
                price_cap=yuan_to_fen(row["price_cap"]) if row["price_cap"] else None,
                gender=cast(Literal["M", "F"], row["gender"]) if row["gender"] else None,
                min_age=_opt_int(row["min_age"]),
                max_age=_opt_int(row["max_age"]),
                min_level=_opt_int(row["min_level"]),
                max_days_supply=_opt_int(row["max_days_supply"]),
                max_units_per_day=Decimal(row["max_units_per_day"]) if row["max_units_per_day"] else None,
                trace_required=row["trace_required"] == "true",
                procured=row["procured"] == "true",
            )
    return items


def item(code: str) -> CatalogueItem:
    return catalogue()[code]


def plain_a(price_cap: str | None = None) -> CatalogueItem:
    """A class-A service with no restrictions, for tests that only need a policy range."""
    return CatalogueItem(
        code="T-PLAIN",
        name="test service",
        kind="service",
        item_class="A",
        b_self_pay_ratio=None,
        price_cap=yuan_to_fen(price_cap) if price_cap else None,
    )


def fen(yuan: str) -> Fen:
    return yuan_to_fen(yuan)


def line(
    code_or_item: str | CatalogueItem,
    qty: str | int,
    price: str,
    *,
    line_no: int = 1,
    on: date = DAY,
    days_supply: int | None = None,
    trace: tuple[str, ...] | None = None,
) -> BillLine:
    it = item(code_or_item) if isinstance(code_or_item, str) else code_or_item
    if trace is None:
        trace = (f"TRACE-{line_no}",) if it.trace_required else ()
    return BillLine(
        line_no=line_no,
        item=it,
        quantity=Decimal(qty),
        unit_price=yuan_to_fen(price),
        service_date=on,
        days_supply=days_supply,
        trace_codes=trace,
    )


def lines(*specs: BillLine) -> tuple[BillLine, ...]:
    """Renumber lines 1..n."""
    return tuple(replace(spec, line_no=i) for i, spec in enumerate(specs, start=1))


def bill(
    visit_type: VisitType,
    level: int,
    *bill_lines: BillLine,
    region: str = HOME,
    on: date = DAY,
    admitted_on: date | None = None,
    discharged_on: date | None = None,
    third_party_liable: bool = False,
) -> Bill:
    if visit_type == "inpatient" and admitted_on is None:
        admitted_on, discharged_on = date(2026, 6, 5), on
    return Bill(
        visit_type=visit_type,
        service_date=on,
        institution_level=level,
        institution_region=region,
        lines=lines(*bill_lines),
        admitted_on=admitted_on,
        discharged_on=discharged_on,
        third_party_liable=third_party_liable,
    )


def policy_range_bill(visit_type: VisitType, level: int, amount: str, **kw: Any) -> Bill:
    """A bill whose whole amount is policy range (one class-A line, quantity 1)."""
    return bill(visit_type, level, line(plain_a(), 1, amount), **kw)


def person(
    scheme: Scheme = "resident",
    *,
    gender: Literal["M", "F"] = "M",
    birth: date = date(1970, 3, 1),
    region: str = HOME,
    groups: frozenset[str] | set[str] = frozenset(),
    coverage_start: date = date(2026, 1, 1),
    retiree: bool = False,
    continuous_years: int = 0,
    zero_claim_credit: str = "0",
    cross_region_filed: bool = False,
    acc: YearAccumulators | None = None,
    account: AccountState | None = None,
) -> PersonState:
    return PersonState(
        scheme=scheme,
        birth_date=birth,
        gender=gender,
        region=region,
        groups=frozenset(groups),
        coverage_start=coverage_start,
        retiree=retiree,
        continuous_years=continuous_years,
        zero_claim_credit=fen(zero_claim_credit),
        cross_region_filed=cross_region_filed,
        accumulators=acc if acc is not None else YearAccumulators(),
        account=account,
    )


def acc(**yuan_fields: str | int) -> YearAccumulators:
    """Accumulators from yuan strings (``inpatient_admissions`` stays an int)."""
    values: dict[str, Any] = {
        key: value if key == "inpatient_admissions" else fen(str(value)) for key, value in yuan_fields.items()
    }
    return YearAccumulators(**values)


def check_identities(split: BenefitSplit) -> None:
    """Every identity of DOMAIN.md §4 holds exactly, and no part is negative."""
    t = split.totals
    assert t.total == t.full_self_pay + t.over_cap_self_pay + t.pre_self_pay + t.policy_range
    assert t.total == t.fund_total + t.personal_part
    assert t.fund_total == t.basic_fund + t.critical_illness + t.medical_assistance
    assert t.personal_part == t.personal_account + t.cash
    for name, value in vars(t).items():
        assert value >= 0, f"{name} negative: {value}"
    for ls in split.lines:
        assert ls.amount == (ls.full_self_pay + ls.over_cap_self_pay + ls.pre_self_pay + ls.policy_range)
        assert min(ls.full_self_pay, ls.over_cap_self_pay, ls.pre_self_pay, ls.policy_range) >= 0
    assert t.total == sum(ls.amount for ls in split.lines)
    assert t.policy_range == sum(ls.policy_range for ls in split.lines)
    assert t.deductible <= t.policy_range
    assert t.basic_fund <= t.policy_range - t.deductible
    a = split.accrual
    assert a.personal_paid == t.personal_part
    parts = {e.part for e in split.explanation}
    for name, value in vars(t).items():
        if value:
            assert name in parts, f"no explanation for {name}"


def rules(split: BenefitSplit) -> list[str]:
    return [w.rule for w in split.warnings]
